import { execa } from 'execa';

/**
 * The real Docker engine for the tests that run containers (scripts/docker-setup.sh installs it, starts
 * dockerd and builds the images; `.ci/run` calls it). No engine is a failure, never a skip: these tests
 * are the only proof that the docker driver works against dockerd.
 */

/** The NGINX generations the docker driver is tested on, as scripts/docker-setup.sh builds them. */
export const NGINX_IMAGES = [
  { image: 'bgctl-nginx:1.22', nginx: '1.22', njs: '0.7.9', debian: 'bookworm' },
  { image: 'bgctl-nginx:1.26', nginx: '1.26', njs: '0.8.9', debian: 'trixie' },
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
