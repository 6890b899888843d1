import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { docker } from './docker-real.js';

/**
 * Docker engines and an sshd of a test's own, for nginx.dockerHost: each engine a `dockerd` on its own
 * socket, data root, exec root and pid file (no bridge, no iptables: its containers use the host's
 * network), with the images it needs loaded from the main engine; the sshd on a loopback port with its
 * own host key and config (keys only) whose sessions reach one of those engines. Every process started
 * here is stopped by `stop()`; the folders are the caller's temp folder.
 */

export interface TestEngine {
  readonly name: string;
  /** the DOCKER_HOST value: unix:///... */
  readonly host: string;
  /** the docker client against this engine */
  run(argv: readonly string[], timeoutMs?: number): ReturnType<typeof docker>;
  stop(): Promise<void>;
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number, log?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return;
    await sleep(200);
  }
  const tail = log ? (await readFile(log, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n') : '';
  throw new Error(`${what} did not come up within ${timeoutMs} ms\n${tail}`);
}

/** Stops a child we started: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
async function stopChild(child: ResultPromise, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const gone = await Promise.race([child.then(() => true), sleep(graceMs).then(() => false)]);
  if (!gone) {
    child.kill('SIGKILL');
    await child;
  }
}

/** A dockerd of its own under `root/name` (short paths: containerd's sockets live in its exec root). */
export async function startEngine(root: string, name: string): Promise<TestEngine> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  const sock = path.join(dir, 'docker.sock');
  const log = path.join(dir, 'dockerd.log');
  await writeFile(path.join(dir, 'daemon.json'), '{}\n');
  const child = execa(
    'dockerd',
    [
      '--config-file',
      path.join(dir, 'daemon.json'),
      '--host',
      `unix://${sock}`,
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--log-level=warn',
    ],
    {
      reject: false,
      stdin: 'ignore',
      stdout: { file: log },
      stderr: { file: `${log}.err` },
      env: { PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` },
    },
  );
  const host = `unix://${sock}`;
  const run = (argv: readonly string[], timeoutMs?: number) => docker(['-H', host, ...argv], {}, timeoutMs);
  const stop = async (): Promise<void> => {
    const ps = await run(['ps', '-aq'], 20_000);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await run(['rm', '-f', ...ids], 60_000);
    await stopChild(child, 20_000);
    // with host-network containers dockerd leaves its default network namespace mounted in the exec root
    await execa('umount', [path.join(dir, 'exec', 'netns', 'default')], { reject: false });
    await rm(path.join(dir, 'data'), { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    await waitFor(
      `dockerd ${name}`,
      async () => (await run(['version', '--format', '{{.Server.Version}}'], 5000)).exitCode === 0,
      60_000,
      log,
    );
  } catch (e) {
    await stopChild(child, 5000);
    throw e;
  }
  return { name, host, run, stop };
}

/** `docker save` of the main engine's images into one tarball (once), loaded into each engine given. */
export async function loadImages(root: string, images: readonly string[], engines: readonly TestEngine[]): Promise<void> {
  const tar = path.join(root, 'images.tar');
  const saved = await docker(['save', '-o', tar, ...images], {}, 180_000);
  if (saved.exitCode !== 0) throw new Error(`docker save ${images.join(' ')} failed: ${saved.stderr}`);
  await Promise.all(
    engines.map(async (e) => {
      const r = await execa('docker', ['-H', e.host, 'load'], { inputFile: tar, reject: false, timeout: 180_000 });
      if (r.exitCode !== 0) throw new Error(`docker load into ${e.name} failed: ${String(r.stderr)}`);
    }),
  );
  await rm(tar, { force: true });
}

export interface TestSshd {
  readonly port: number;
  /** the DOCKER_HOST value that reaches the engine through this sshd */
  readonly dockerHost: string;
  /** a folder with an `ssh` wrapper (`ssh -F <this test's config>`): put it first on PATH */
  readonly binDir: string;
  readonly config: string;
  /** the private key the client logs in with */
  readonly clientKey: string;
  /** the known_hosts line of this sshd's host key */
  readonly knownHosts: string;
  stop(): Promise<void>;
}

/**
 * An sshd on 127.0.0.1:port with its own host key, keys only, root allowed with a key made here; its
 * sessions get DOCKER_HOST=`engine` (so `docker system dial-stdio` there reaches that engine). The client
 * config: the key, a known_hosts file of its own (accept-new), BatchMode, and one multiplexed connection
 * (ControlMaster/ControlPersist) that repeated docker calls reuse.
 */
export async function startSshd(dir: string, port: number, engine: string): Promise<TestSshd> {
  await mkdir(dir, { recursive: true });
  await mkdir('/run/sshd', { recursive: true }); // sshd's privilege separation folder
  const file = (name: string): string => path.join(dir, name);
  for (const key of ['host_key', 'client_key']) {
    await rm(file(key), { force: true });
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `bgctl-test-${key}`, '-f', file(key)]);
  }
  await writeFile(file('authorized_keys'), await readFile(file('client_key.pub')));
  await writeFile(
    file('sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${file('host_key')}`,
      `PidFile ${file('sshd.pid')}`,
      `AuthorizedKeysFile ${file('authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'MaxSessions 64',
      'MaxStartups 64:30:128',
      `SetEnv DOCKER_HOST=${engine}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    file('ssh_config'),
    [
      'Host 127.0.0.1',
      `  IdentityFile ${file('client_key')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${file('known_hosts')}`,
      '  StrictHostKeyChecking accept-new',
      '  BatchMode yes',
      '  ControlMaster auto',
      `  ControlPath ${file('cm-%C')}`,
      '  ControlPersist 60',
      '',
    ].join('\n'),
  );
  const binDir = file('bin');
  await mkdir(binDir, { recursive: true });
  await writeFile(path.join(binDir, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${file('ssh_config')} "$@"\n`);
  await chmod(path.join(binDir, 'ssh'), 0o755);
  const log = file('sshd.log');
  const child = execa('/usr/sbin/sshd', ['-D', '-e', '-f', file('sshd_config')], {
    reject: false,
    stdin: 'ignore',
    stdout: { file: `${log}.out` },
    stderr: { file: log },
  });
  const ssh = (args: readonly string[]) =>
    execa('/usr/bin/ssh', ['-F', file('ssh_config'), '-p', String(port), ...args], { reject: false, stdin: 'ignore', timeout: 15_000 });
  try {
    await waitFor('sshd', async () => (await ssh(['-o', 'ControlMaster=no', 'root@127.0.0.1', 'true'])).exitCode === 0, 20_000, log);
  } catch (e) {
    await stopChild(child, 3000);
    throw e;
  }
  return {
    port,
    dockerHost: `ssh://root@127.0.0.1:${port}`,
    binDir,
    config: file('ssh_config'),
    clientKey: file('client_key'),
    knownHosts: `[127.0.0.1]:${port} ${(await readFile(file('host_key.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ')}`,
    stop: async () => {
      await ssh(['-O', 'exit', 'root@127.0.0.1']); // the multiplexing master the docker client's ssh left running
      await stopChild(child, 5000);
    },
  };
}
