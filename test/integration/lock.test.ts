import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FileLock } from '../../src/adapters/lock.js';
import type { Logger } from '../../src/app/ports.js';
import { ExitCode, LockHeldError } from '../../src/core/errors.js';

/** A fake logger that records what was said. */
function recordingLogger(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const SRC = join(import.meta.dirname, '../../src');
let root: string;
let stateDir: string;
let compiled: string; // src transpiled to JS so that child processes run the real FileLock
const children = new Set<ChildProcess>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bgctl-lock-'));
  compiled = join(root, 'js');
  for (const file of ['adapters/lock.ts', 'adapters/safe-fs.ts', 'core/errors.ts']) {
    const out = ts.transpileModule(await readFile(join(SRC, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    const target = join(compiled, file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, out.outputText);
  }
  await writeFile(join(compiled, 'package.json'), '{"type":"module"}');
  await writeFile(
    join(compiled, 'racer.js'),
    `import { createInterface } from 'node:readline';
import { FileLock } from './adapters/lock.js';
const logger = { debug() {}, info() {}, error() {}, warn: (m) => process.stderr.write('WARN ' + m + '\\n') };
const lock = new FileLock(process.argv[2], { logger });
const stdin = createInterface({ input: process.stdin });
let handle = null;
stdin.on('line', async (cmd) => {
  if (cmd === 'go') {
    try { handle = await lock.acquire('race ' + process.pid); console.log('won'); }
    catch (e) { console.log('lost ' + e.exitCode); stdin.close(); }
  } else if (cmd === 'done') { await handle?.release(); stdin.close(); }
});
console.log('ready');
`,
  );
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  stateDir = await mkdtemp(join(root, 'state-'));
});

/** The pid of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid;
  await new Promise((resolve) => child.once('exit', resolve));
  if (pid === undefined) throw new Error('spawn failed');
  return pid;
}

const writeLock = (info: Record<string, unknown>): Promise<void> => writeFile(join(stateDir, 'lock'), JSON.stringify(info));

describe('FileLock', () => {
  it('a second acquire fails with exit 5, naming the holder; release then re-acquire works', async () => {
    const logger = recordingLogger();
    const first = await new FileLock(stateDir, { logger }).acquire('gradual green 2.1.0');
    const other = new FileLock(stateDir, { logger });
    const e: unknown = await other.acquire('rollback').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LockHeldError);
    expect((e as LockHeldError).exitCode).toBe(ExitCode.LOCKED);
    expect((e as LockHeldError).message).toMatch(
      new RegExp(
        `^locked by \`gradual green 2\\.1\\.0\` \\(pid ${process.pid} on host ${hostname().replace(/\./g, '\\.')}\\) since \\d{4}-`,
      ),
    );
    expect(await other.holder()).toMatchObject({ pid: process.pid, command: 'gradual green 2.1.0', alive: true });

    await first.release();
    expect(await other.holder()).toBeNull();
    const again = await other.acquire('rollback');
    expect(await other.holder()).toMatchObject({ command: 'rollback' });
    await again.release();
    await again.release(); // idempotent
    expect(logger.lines).toEqual([]);
  });

  it('reclaims the lock of a dead process with a warning', async () => {
    const pid = await deadPid();
    await writeLock({ pid, host: hostname(), command: 'gradual green 2.0.0', startedAt: '2025-01-01T00:00:00.000Z' });
    const logger = recordingLogger();
    const lock = new FileLock(stateDir, { logger });
    expect(await lock.holder()).toMatchObject({ pid, alive: false });
    const handle = await lock.acquire('rollback');
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: `lock held by dead pid ${pid} reclaimed`,
        fields: expect.objectContaining({ command: 'gradual green 2.0.0' }),
      }),
    ]);
    expect(await lock.holder()).toMatchObject({ pid: process.pid, command: 'rollback', alive: true });
    await handle.release();
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('never takes a lock held on another host', async () => {
    await writeLock({ pid: await deadPid(), host: 'elsewhere.example', command: 'switch green', startedAt: '2025-01-01T00:00:00.000Z' });
    await expect(new FileLock(stateDir, { logger: recordingLogger() }).acquire('rollback')).rejects.toThrow(/on host elsewhere\.example/);
  });

  it('an empty lock file is respected while young and reclaimed once stale', async () => {
    await writeFile(join(stateDir, 'lock'), '');
    const logger = recordingLogger();
    const lock = new FileLock(stateDir, { logger, corruptGraceMs: 60_000 });
    await expect(lock.acquire('switch blue')).rejects.toBeInstanceOf(LockHeldError);
    const old = new Date(Date.now() - 120_000);
    await utimes(join(stateDir, 'lock'), old, old);
    const handle = await lock.acquire('switch blue');
    expect(logger.lines.map((l) => l.msg)).toEqual(['unreadable stale lock file reclaimed']);
    await handle.release();
  });

  it('release leaves alone a lock that is no longer ours', async () => {
    const logger = recordingLogger();
    const handle = await new FileLock(stateDir, { logger }).acquire('canary green 10');
    const someoneElse = { pid: process.pid, host: hostname(), command: 'rollback', startedAt: new Date().toISOString(), token: 'other' };
    await writeLock(someoneElse);
    await handle.release();
    expect(JSON.parse(await readFile(join(stateDir, 'lock'), 'utf8'))).toEqual(someoneElse);
    expect(logger.lines.map((l) => l.level)).toEqual(['warn']);
  });

  /** Starts n processes, lets them all acquire at once; returns their sorted results and what they warned. */
  async function race(n: number): Promise<{ results: string[]; warnings: string[] }> {
    const warnings: string[] = [];
    const procs = Array.from({ length: n }, () => {
      const child = spawn(process.execPath, [join(compiled, 'racer.js'), stateDir], { stdio: ['pipe', 'pipe', 'pipe'] });
      createInterface({ input: child.stderr }).on('line', (l) => warnings.push(l));
      child.stdin.on('error', () => undefined); // EPIPE: a loser may already have exited
      children.add(child);
      child.once('exit', () => children.delete(child));
      // 'close' (not 'exit'): all of its stderr has been read by then
      const closed = new Promise((resolve) => child.once('close', resolve));
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      return { child, closed, next: async () => String((await lines.next()).value) };
    });
    for (const p of procs) expect(await p.next()).toBe('ready');
    for (const p of procs) p.child.stdin.write('go\n'); // all start as close together as we can make it
    const results = await Promise.all(procs.map((p) => p.next()));
    for (const p of procs) p.child.stdin.end('done\n'); // the winner releases; everyone exits
    await Promise.all(procs.map((p) => p.closed));
    return { results: results.sort(), warnings };
  }

  it('two processes racing for a free lock: exactly one wins', async () => {
    const { results, warnings } = await race(2);
    expect(results).toEqual(['lost 5', 'won']);
    expect(warnings).toEqual([]);
    expect(await readdir(stateDir)).toEqual([]); // the winner released it
  });

  it('processes racing to reclaim a dead lock: exactly one wins', async () => {
    for (let round = 0; round < 3; round++) {
      const pid = await deadPid();
      await writeLock({ pid, host: hostname(), command: 'gradual green 1', startedAt: '2025-01-01T00:00:00.000Z' });
      const { results, warnings } = await race(4);
      expect(results).toEqual(['lost 5', 'lost 5', 'lost 5', 'won']);
      expect(warnings).toEqual([`WARN lock held by dead pid ${pid} reclaimed`]); // one reclaimer, not several
    }
  });
});
