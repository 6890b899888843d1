import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

/** Bad input: exit 2, one clear line naming what is wrong and where, and nothing changed. */
describe('bad input is refused with exit 2 and changes nothing', () => {
  let box: Sandbox;
  let before: { state: string; site: string };
  const snapshot = async () => ({
    state: await box.stateText(),
    site: await readFile(path.join(box.dir, 'nginx', 'conf.d', 'bgctl.conf'), 'utf8'),
  });

  beforeAll(async () => {
    box = await makeSandbox('cli-bad-input');
    before = await snapshot();
  });
  afterAll(async () => {
    await box?.close();
  });

  const cases: [string[], RegExp][] = [
    [['gradual', 'purple', '1.0.0'], /COLOR: "purple" is not a color \(expected blue or green\)/],
    [['gradual', 'GREEN', '1.0.0'], /COLOR: "GREEN" is not a color/],
    [['gradual', 'green', '1.0;rm -rf /'], /VERSION: "1\.0;rm -rf \/" is not a valid version/],
    [['gradual', 'green', '2.1.0"'], /VERSION: .* is not a valid version/],
    [['gradual', 'green', "2.1.0'"], /VERSION: .* is not a valid version/],
    [['gradual', 'green', '{2.1.0}'], /VERSION: .* is not a valid version/],
    [['gradual', 'green', '$version'], /VERSION: "\$version" is not a valid version/],
    [['gradual', 'green', '2.1 0'], /VERSION: "2\.1 0" is not a valid version/],
    [['gradual', 'green', '2.1.0\ninclude /etc/passwd;'], /VERSION: "2\.1\.0\\ninclude \/etc\/passwd;" is not a valid version/],
    [['gradual', 'green', ''], /VERSION: "" is not a valid version/],
    [['gradual', 'green', 'v'.repeat(65)], /is not a valid version/],
    [['gradual', 'green', '2.1.0', '--steps', '50,25,100'], /--steps: steps must be strictly increasing \(50 then 25\)/],
    [['gradual', 'green', '2.1.0', '--steps', '25,50'], /--steps: the last step must be 100/],
    [['gradual', 'green', '2.1.0', '--steps', '0,100'], /--steps: 0 is outside 1-100/],
    [['gradual', 'green', '2.1.0', '--steps', '50,150'], /--steps: 150 is outside 1-100/],
    [['gradual', 'green', '2.1.0', '--step-seconds', 'soon'], /--step-seconds: "soon" is not a number of seconds/],
    [['gradual', 'green', '2.1.0', '--strategy', 'random'], /--strategy.*random.*(weighted|Allowed)/],
    [['canary', 'green', '101'], /PERCENT: 101 is above 100/],
    [['canary', 'green', '-5'], /(PERCENT: "-5" is not a whole number|unknown option '-5')/],
    [['canary', 'green', '12.5'], /PERCENT: "12\.5" is not a whole number from 0 to 100/],
    [['canary', 'green', 'half'], /PERCENT: "half" is not a whole number/],
    [['switch', 'red'], /COLOR: "red" is not a color/],
    [['deploy', 'green', '1 2'], /VERSION: "1 2" is not a valid version/],
    [['gradual', 'green'], /missing required argument 'version'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['gradual', 'green', '2.1.0', '--no-such-flag'], /unknown option '--no-such-flag'/],
  ];

  for (const [args, message] of cases) {
    it(`bgctl ${JSON.stringify(args.join(' '))}`, async () => {
      const r = await box.cli(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
      expect(await snapshot()).toEqual(before);
    });
  }

  it('--json puts the error in one JSON document with the exit code', async () => {
    const r = await box.cli(['gradual', 'purple', '1.0.0', '--json']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { exitCode: 2, message: expect.stringMatching(/not a color/) } });
  });
});

describe('bad config files are refused with exit 2 naming the key', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTmpDir('cli-bad-config');
  });
  afterAll(async () => {
    await removeTmpDir(dir);
  });

  const base = (servers: string): string =>
    `listen: 18080\nenvironments:\n  blue:\n    servers: [${JSON.stringify(servers)}]\n  green:\n    servers: ["127.0.0.1:18082"]\nstateDir: state\nnginx:\n  dir: nginx\n`;

  const configs: [string, string, RegExp][] = [
    ['injection in a server', base('127.0.0.1:80; include /etc/passwd'), /environments\.blue\.servers\[0\]: not a host:port/],
    ['a brace in a server', base('127.0.0.1:80 { }'), /environments\.blue\.servers\[0\]: not a host:port/],
    ['port out of range', base('127.0.0.1:70000'), /environments\.blue\.servers\[0\]: not a host:port/],
    ['unknown key', `${base('127.0.0.1:18081')}colour: blue\n`, /unknown key "colour"/],
    ['broken YAML', 'listen: [8080\nenvironments: {', /bgctl\.yaml:\d+:\d+: invalid YAML/],
    [
      'non-increasing steps',
      `${base('127.0.0.1:18081')}migration:\n  steps: [50, 25, 100]\n`,
      /migration\.steps: steps must be strictly increasing/,
    ],
    [
      'a forced-route header bgctl sets itself',
      `${base('127.0.0.1:18081')}routing:\n  forceHeader: X-Forwarded-For\n`,
      /routing\.forceHeader: is a header bgctl or HTTP itself sets/,
    ],
    [
      'a forced-route secret too short to guess-proof',
      `${base('127.0.0.1:18081')}routing:\n  forceSecret: abc\n`,
      /routing\.forceSecret: must be 16-128 characters/,
    ],
    [
      'a health path with a quote',
      base('127.0.0.1:18081').replace('servers: ["127.0.0.1:18081"]', 'servers: ["127.0.0.1:18081"]\n    health: "/h\\"ealth"'),
      /environments\.blue\.health: not a plain URL path/,
    ],
  ];

  for (const [name, text, message] of configs) {
    it(name, async () => {
      await writeFile(path.join(dir, 'bgctl.yaml'), text);
      for (const cmd of [['validate'], ['start'], ['gradual', 'green', '2.1.0'], ['status']]) {
        const r = await runCli(cmd, { cwd: dir });
        expect(r.exitCode, `${cmd.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      // nothing was created: no state, no NGINX prefix
      await expect(readFile(path.join(dir, 'state', 'state.json'))).rejects.toThrow(/ENOENT/);
      await expect(readFile(path.join(dir, 'nginx', 'nginx.conf'))).rejects.toThrow(/ENOENT/);
    });
  }

  it('render prints configs without the forced-route secret (files for NGINX keep it)', async () => {
    const secret = 'tester-secret-0123456789';
    await writeFile(path.join(dir, 'bgctl.yaml'), `${base('127.0.0.1:18081')}routing:\n  forceSecret: ${secret}\n`);
    const printed = await runCli(['render', '--color', 'green', '--percent', '25'], { cwd: dir });
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/green:<routing\.forceSecret>/);
    expect(printed.stdout).not.toContain(secret);
    const written = await runCli(['render', '--out', 'preview'], { cwd: dir });
    expect(written.exitCode, written.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'preview', 'conf.d', 'bgctl.conf'), 'utf8')).toContain(secret);
  });

  it('a missing config file says how to create one', async () => {
    const r = await runCli(['status'], { cwd: dir, env: { BGCTL_CONFIG: path.join(dir, 'nope.yaml') } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/not found: .*nope\.yaml/);
    expect(r.stderr).toMatch(/bgctl init/);
  });
});
