/** What the figures were measured on: ratios carry between machines, absolute times do not. */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { execa } from 'execa';
import { NGINX_BIN } from './sandbox.mjs';
import { REPO_ROOT } from './proc.mjs';

async function cpuModel() {
  const text = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
}

async function nginxVersion() {
  // nginx -v prints to stderr: "nginx version: nginx/1.22.1"
  const r = await execa(NGINX_BIN, ['-v'], { reject: false, timeout: 5000, stdin: 'ignore' });
  return /nginx\/(\S+)/.exec(`${r.stderr}${r.stdout}`)?.[1] ?? 'unknown';
}

/** The commit measured, "+dirty" when tracked files differ from it (others may be editing src/). */
async function gitCommit() {
  const git = (args) => execa('git', args, { cwd: REPO_ROOT, reject: false, timeout: 5000, stdin: 'ignore' });
  const head = await git(['rev-parse', '--short', 'HEAD']);
  if (head.exitCode !== 0) return null;
  const changes = await git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'nginx']);
  return `${head.stdout.trim()}${changes.stdout.trim() ? '+dirty' : ''}`;
}

export async function machineInfo() {
  return {
    cpu: await cpuModel(),
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: await nginxVersion(),
    // a shared machine: the load when the bench started says how much to trust the absolute numbers
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    commit: await gitCommit(),
  };
}
