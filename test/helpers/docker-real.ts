import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/**
 * The real Docker engine for the tests that run containers (scripts/docker-setup.sh installs it, starts
 * dockerd and builds the images; `.ci/run` calls it). No engine is a failure, never a skip: these tests
 * are the only proof that the docker driver works against dockerd.
 */

/** The NGINX generations the docker driver is tested on, as scripts/docker-setup.sh builds them. */
export const NGINX_IMAGES = [
  // sharedDict: njs has js_shared_dict_zone (0.8+), so bgctl keeps the weights in shared memory
  { image: 'bgctl-nginx:1.22', nginx: '1.22', njs: '0.7.9', debian: 'bookworm', sharedDict: false },
  { image: 'bgctl-nginx:1.26', nginx: '1.26', njs: '0.8.9', debian: 'trixie', sharedDict: true },
] as const;
export type NginxImage = (typeof NGINX_IMAGES)[number];

const SETUP_HINT = 'run `bash scripts/docker-setup.sh` as root (it installs docker.io, starts dockerd and builds the images)';

export interface DockerResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The docker client with argv words, never a shell; never throws on a non-zero exit. */
export async function docker(argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<DockerResult> {
  const r = await execa('docker', argv, { reject: false, timeout: timeoutMs, stdin: 'ignore', env });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr || r.message || '') };
}

/** Throws (the test fails) unless an engine answers, compose v2 is there and every image exists. */
export async function requireEngine(images: readonly string[]): Promise<void> {
  const info = await docker(['version', '--format', '{{.Server.Version}}']);
  if (info.exitCode !== 0) throw new Error(`no Docker engine answers (${info.stderr.trim()}): ${SETUP_HINT}`);
  const compose = await docker(['compose', 'version']);
  if (compose.exitCode !== 0) throw new Error(`no docker compose v2 plugin (${compose.stderr.trim()}): ${SETUP_HINT}`);
  for (const image of images) {
    const r = await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
    if (r.exitCode !== 0) throw new Error(`image ${image} is missing: ${SETUP_HINT}`);
  }
}

/** Names of the containers, networks and volumes of a compose project that the engine still has. */
export async function projectLeftovers(project: string): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const lists = await Promise.all([
    docker(['ps', '-a', '--filter', label, '--format', 'container {{.Names}}']),
    docker(['network', 'ls', '--filter', label, '--format', 'network {{.Name}}']),
    docker(['volume', 'ls', '--filter', label, '--format', 'volume {{.Name}}']),
  ]);
  return lists.flatMap((r) => {
    if (r.exitCode !== 0) throw new Error(`docker failed listing project ${project}: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.trim() !== '');
  });
}

/** Removes everything of a compose project (containers, networks, volumes), whatever state a test left. */
export async function removeProject(composeFile: string, project: string, env: Record<string, string> = {}): Promise<void> {
  await docker(['compose', '-f', composeFile, '-p', project, 'down', '--volumes', '--remove-orphans', '--timeout', '2'], env);
  const label = `label=com.docker.compose.project=${project}`;
  const ps = await docker(['ps', '-aq', '--filter', label]);
  const ids = ps.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
}

/**
 * The image of the `bgctl` service of docker-compose.yml without a registry (its Dockerfile needs
 * node:20 and docker:cli images and `npm ci`): the local Node.js 20 image (scripts/docker-setup.sh),
 * this machine's docker client and compose plugin, and this checkout's built bgctl with its
 * node_modules. Unchanged layers are cached by the engine.
 */
export async function buildOfflineBgctlImage(tag: string, repoRoot: string, workDir: string): Promise<void> {
  const parts = ['package.json', 'bin', 'dist', 'nginx', 'schema', 'node_modules'];
  // built already from this very checkout (dist, templates, locked dependencies): nothing to do
  const fingerprint = await treeHash(repoRoot, ['package.json', 'package-lock.json', 'bin', 'dist', 'nginx', 'schema']);
  const label = await docker(['image', 'inspect', '--format', '{{index .Config.Labels "bgctl.test.fingerprint"}}', tag]);
  if (label.exitCode === 0 && label.stdout.trim() === fingerprint) return;
  const client = await realpath((await execa('which', ['docker'])).stdout.trim());
  const plugins = [
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
  ];
  const plugin = plugins.map((d) => path.join(d, 'docker-compose')).find((f) => existsSync(f));
  if (!plugin) throw new Error(`no docker compose plugin in ${plugins.join(', ')}: run scripts/docker-setup.sh`);
  const context = path.join(workDir, 'bgctl-image');
  await mkdir(context, { recursive: true });
  await copyFile(client, path.join(context, 'docker'));
  await copyFile(plugin, path.join(context, 'docker-compose'));
  await writeFile(
    path.join(context, 'Dockerfile'),
    [
      'FROM bgctl-node:20',
      'COPY docker /usr/local/bin/docker',
      'COPY docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose',
      'WORKDIR /opt/bgctl',
      'COPY app/node_modules ./node_modules',
      'COPY app/ ./',
      'ENTRYPOINT ["node", "/opt/bgctl/bin/bgctl.cjs"]',
      'CMD ["serve", "--host", "0.0.0.0"]',
      `LABEL bgctl.test.fingerprint=${fingerprint}`,
      '',
    ].join('\n'),
  );
  const app = path.join(context, 'app');
  await mkdir(app);
  for (const part of parts) {
    // hard links when the temp folder is on the checkout's file system, copies otherwise
    const link = await execa('cp', ['-a', '--link', path.join(repoRoot, part), app], { reject: false });
    if (link.exitCode !== 0) await execa('cp', ['-a', path.join(repoRoot, part), app]);
  }
  const build = await execa('docker', ['build', '-q', '-t', tag, context], {
    env: { DOCKER_BUILDKIT: '0' },
    reject: false,
    timeout: 180_000,
  });
  if (build.exitCode !== 0) throw new Error(`docker build of ${tag} failed: ${String(build.stderr)}`);
}

/** sha256 over the paths and contents of every file under the given entries of root. */
async function treeHash(root: string, entries: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (rel: string): Promise<void> => {
    const full = path.join(root, rel);
    if ((await stat(full)).isDirectory()) {
      for (const name of (await readdir(full)).sort()) await visit(path.join(rel, name));
    } else
      hash
        .update(`${rel}\0`)
        .update(await readFile(full))
        .update('\0');
  };
  for (const entry of entries) await visit(entry);
  return hash.digest('hex');
}
