import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/app/context.js';
import { makeRun, type CliDeps } from '../../src/cli/run.js';

describe('makeRun', () => {
  it('builds the app context once per command, however often a command asks for it', async () => {
    let built = 0;
    const sink = { write: () => true } as unknown as NodeJS.WritableStream;
    const deps = {
      streams: { stdout: sink, stderr: sink, stdin: process.stdin },
      env: {},
      cwd: '/',
      signal: new AbortController().signal,
      version: '0.0.0',
      createContext: () => {
        built++;
        return Promise.resolve({} as AppContext);
      },
      contextForFile: () => Promise.reject(new Error('not used')),
    } as unknown as CliDeps;
    const cmd = new Command('status').option('--json', '', false).option('--log-level <l>', '', 'info').option('--verbose', '', false);
    const run = makeRun(cmd, deps);
    const [a, b] = await Promise.all([run.context(), run.context()]);
    expect(await run.context()).toBe(a);
    expect(b).toBe(a);
    expect(built).toBe(1);
  });
});
