# bgctl itself, for the `bgctl` service of docker-compose.yml (`bgctl serve`). Build context: the
# repository root (see .dockerignore). The docker client and its compose plugin come from the official
# docker:cli image: bgctl drives NGINX with `docker exec`/`docker top`, and the deploy hook runs
# `docker compose`, through the engine's socket mounted into the container.
# Both base images can be swapped for a mirror's copies (--build-arg, or build.args in docker-compose.yml).
ARG DOCKER_CLI_IMAGE=docker:27-cli
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${DOCKER_CLI_IMAGE} AS docker-cli

FROM ${NODE_IMAGE}
WORKDIR /opt/bgctl
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY nginx ./nginx
COPY schema ./schema
# the build bundles the CLI into one file (scripts/bundle.mjs) after tsc
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm run build && npm prune --omit=dev
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker-cli /usr/local/libexec/docker/cli-plugins/docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
ENTRYPOINT ["node", "/opt/bgctl/bin/bgctl.cjs"]
CMD ["serve", "--host", "0.0.0.0"]
