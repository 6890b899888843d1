// A stand-in for the `docker` client in tests (there is no Docker engine here). Every call is appended
// to a record file as a JSON argv, then carried out against a real NGINX on this machine: the
// "container" is an nginx master whose prefix is the host folder bgctl bind-mounts, and container
// paths in arguments are mapped to that folder. Nothing about NGINX is faked: nginx -t, reload,
// workers, the status location and curl are all real.
//
// State (JSON file named by $DOCKER_SHIM_STATE):
//   { "record": "/abs/calls.jsonl", "nginx": "/usr/sbin/nginx",
//     "containers": { "NAME": { "hostDir": "/abs", "containerDir": "/etc/nginx/bgctl",
//                               "service": "nginx", "composeFile": "/abs/docker-compose.yml" } },
//     "fail": [{ "match": "nginx -s reload", "nth": 2 }] }   // the nth matching exec fails, like a stopped container
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

const state = JSON.parse(readFileSync(process.env.DOCKER_SHIM_STATE ?? '', 'utf8'));
const argv = process.argv.slice(2);
appendFileSync(state.record, `${JSON.stringify(argv)}\n`);

const containers = state.containers ?? {};
const fail = (message, code = 1) => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

const title = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
  } catch {
    return '';
  }
};
const ppidOf = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? null : Number(fields[1]);
  } catch {
    return null;
  }
};
/** The container "runs" while its nginx master does. */
const masterOf = (c) => {
  try {
    const pid = Number(readFileSync(`${c.hostDir}/logs/nginx.pid`, 'utf8').trim());
    return pid > 0 && ppidOf(pid) !== null && title(pid).startsWith('nginx: master process') ? pid : null;
  } catch {
    return null;
  }
};
const mapPath = (c, arg) =>
  arg === c.containerDir ? c.hostDir : arg.startsWith(`${c.containerDir}/`) ? c.hostDir + arg.slice(c.containerDir.length) : arg;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  process.exit(r.status ?? 1);
};
const nginxIn = (c, args) =>
  run(
    state.nginx ?? 'nginx',
    args.map((a) => mapPath(c, a)),
  );
const liveArgs = (c) => ['-p', c.hostDir, '-c', `${c.hostDir}/nginx.conf`, '-e', `${c.hostDir}/logs/error.log`];
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function stopMaster(c) {
  const master = masterOf(c);
  if (master === null) return;
  spawnSync(state.nginx ?? 'nginx', ['-s', 'quit', ...liveArgs(c)], { stdio: 'ignore' });
  for (let i = 0; i < 500 && ppidOf(master) !== null; i++) sleep(20);
}
function container(name) {
  const c = containers[name];
  if (!c) fail(`Error response from daemon: No such container: ${name}`);
  return c;
}
function running(name) {
  const c = container(name);
  if (masterOf(c) === null) fail(`Error response from daemon: container ${name} is not running`);
  return c;
}
/** Failure injection: the nth exec whose words contain `match` fails as if the container had stopped. */
function injected(name, words) {
  (state.fail ?? []).forEach((rule, i) => {
    if (!words.join(' ').includes(rule.match)) return;
    const counter = `${state.record}.fail${i}`;
    let n = 0;
    try {
      n = Number(readFileSync(counter, 'utf8'));
    } catch {
      // first match: no counter yet
    }
    writeFileSync(counter, String(n + 1));
    if (n + 1 === rule.nth) fail(`Error response from daemon: container ${name} is not running`);
  });
}

const [command, ...rest] = argv;
if (command === 'exec') {
  const args = rest[0] === '-i' ? rest.slice(1) : rest;
  const [name, program, ...words] = args;
  const c = running(name);
  injected(name, [program, ...words]);
  if (program === 'nginx') nginxIn(c, words);
  if (program === 'curl') run('curl', words);
  // `sh -c SCRIPT sh PATH`: the njs module lookup of dynamic mode (container paths mapped like nginx's)
  if (program === 'test' || program === 'sh')
    run(
      program,
      words.map((a) => mapPath(c, a)),
    );
  fail(`OCI runtime exec failed: exec: "${program}": executable file not found in $PATH`, 126);
} else if (command === 'top') {
  const name = rest[0];
  const c = running(name);
  const master = masterOf(c);
  const rows = [
    ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    ['root', master, 0, 0, '10:00', '?', '00:00:00', title(master)],
  ];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && ppidOf(Number(entry)) === master)
      rows.push(['101', entry, master, 0, '10:00', '?', '00:00:00', title(Number(entry))]);
  }
  const widths = rows[0].map((_, i) => Math.max(20, ...rows.map((r) => String(r[i]).length + 3)));
  for (const r of rows)
    process.stdout.write(`${r.map((v, i) => (i === r.length - 1 ? String(v) : String(v).padEnd(widths[i]))).join('')}\n`);
  process.exit(0);
} else if (command === 'compose') {
  if (rest[0] !== '-f') fail('shim: compose needs -f FILE');
  const file = rest[1];
  const [sub, ...words] = rest.slice(2);
  const entries = Object.entries(containers).filter(([, c]) => c.composeFile === file);
  if (entries.length === 0) fail(`open ${file}: no such file or directory`, 14);
  if (sub === 'up') {
    for (const [, c] of entries) {
      if (masterOf(c) !== null) continue;
      const r = spawnSync(state.nginx ?? 'nginx', liveArgs(c), { stdio: 'inherit' });
      if (r.status !== 0) process.exit(r.status ?? 1);
    }
    process.exit(0);
  }
  if (sub === 'down' || sub === 'stop') {
    for (const [, c] of entries) if (sub === 'down' || words.includes(c.service)) stopMaster(c);
    process.exit(0);
  }
  if (sub === 'run') {
    let i = 0;
    const flagsWithValue = new Set(['--entrypoint', '-e', '--name', '-w', '-u']);
    let entrypoint = null;
    while (i < words.length && words[i].startsWith('-')) {
      if (words[i] === '--entrypoint') entrypoint = words[i + 1];
      i += flagsWithValue.has(words[i]) ? 2 : 1;
    }
    const service = words[i];
    const found = entries.find(([, c]) => c.service === service);
    if (!found) fail(`no such service: ${service}`);
    if (entrypoint === 'test' || entrypoint === 'sh')
      run(
        entrypoint,
        words.slice(i + 1).map((a) => mapPath(found[1], a)),
      );
    if (entrypoint !== 'nginx') fail('shim: compose run supports --entrypoint nginx, sh and test only');
    nginxIn(found[1], words.slice(i + 1));
  }
  fail(`shim: unsupported compose command ${sub}`);
} else if (command === 'stop') {
  stopMaster(container(rest[0]));
  process.exit(0);
} else {
  fail(`shim: unsupported docker command ${command}`);
}
