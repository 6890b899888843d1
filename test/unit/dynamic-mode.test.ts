import type { Stats } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModuleFile, modulesOf, sharedDictIn, workersBlocked } from '../../src/adapters/nginx/njs.js';
import { parseStatus } from '../../src/adapters/nginx/status-parse.js';
import { start } from '../../src/app/admin.js';
import { chooseMode } from '../../src/app/mode.js';
import { status } from '../../src/app/status.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { weightsFor } from '../../src/core/weights.js';
import { configIdOf } from '../../src/render/dynamic.js';
import { ExitCode } from '../../src/core/errors.js';
import { renderConfig, type RenderRequest } from '../../src/render/render.js';
import { failure, makeContext } from '../fakes/context.js';

// Dynamic mode (nginx.mode: dynamic) as pure values: what is rendered, how the mode is chosen, what
// `nginx -V` and the status location say. NGINX itself runs in test/integration/dynamic-*.test.ts.

const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const DYN = { module: MODULE };

const config = (over: Partial<ConfigInput> = {}) =>
  configSchema.parse({
    environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082', '127.0.0.1:8083'] } },
    // bgctl always renders with a secret: routing.forceSecret, else its own (stateDir/force-secret)
    routing: { forceSecret: 'own-secret_0123456789' },
    ...over,
  });

const step = (percent: number, over: Partial<RenderRequest> = {}): RenderRequest => ({
  weights: weightsFor('green', percent),
  revision: 12,
  strategy: 'weighted',
  stable: 'blue',
  growing: 'green',
  ...over,
});

describe('rendering for dynamic mode', () => {
  it('loads njs, imports the module and answers the status from njs; no weight or revision in the config', () => {
    const r = renderConfig(config(), step(25), DYN);
    expect(r.main).toMatch(/^load_module \/usr\/lib\/nginx\/modules\/ngx_http_js_module\.so;$/m);
    expect(r.site).toContain('js_import bgctl from conf.d/bgctl.js;');
    // one njs call per request: maps split its answer into the color and the sticky cookie
    expect(r.site).toContain('js_set $bgctl_dyn bgctl.route;');
    expect(r.site).toMatch(/map \$bgctl_dyn \$bgctl_pick \{[^}]*"green:s" green;[^}]*default {3}\$bgctl_stable;/);
    expect(r.site).toMatch(/map \$bgctl_dyn \$bgctl_dyn_cookie \{[^}]*"blue:s" {2}\$bgctl_set_cookie;[^}]*default {3}"";/);
    expect(r.site.match(/^js_set /gm)).toHaveLength(2); // $bgctl_both is only read on a fail-over
    expect(r.site).toContain('        js_content bgctl.status;');
    expect(r.site).toContain('proxy_pass http://bgctl_$bgctl_route;');
    expect(r.site).toContain('error_page 502 504 = @bgctl_other;');
    // the exact-split upstream needs the weights in the config: not in dynamic mode
    expect(r.site).not.toContain('bgctl_split');
    expect(r.site).not.toMatch(/return 200 '/);
    expect(`${r.main}${r.site}`).not.toMatch(/revision 12|weight=|25%/);
    expect(r.js).toContain("var FILE = 'conf.d/bgctl-weights.json';");
  });

  it('njs 0.8+: declares the shared zone the njs module keeps the checked weights in; njs 0.7: none', () => {
    const shared = renderConfig(config(), step(25), { ...DYN, sharedDict: true });
    expect(shared.site).toMatch(/^js_shared_dict_zone zone=bgctl_weights:32k timeout=1s;$/m);
    // the module's name for it is the zone's
    expect(shared.js).toContain("var SHARED = 'bgctl_weights';");
    expect(renderConfig(config(), step(25), DYN).site).not.toContain('js_shared_dict_zone');
    // a different structure: a module upgraded to 0.8 is a reload, never a weights-only write
    expect(shared.configId).not.toBe(renderConfig(config(), step(25), DYN).configId);
    // the system driver: it is http-level, in http.conf
    const system = renderConfig(
      config({ nginx: { driver: 'system', conf: '/etc/nginx/nginx.conf', dir: '/etc/nginx/bgctl', listenTls: false } as never }),
      step(25),
      { ...DYN, module: null, sharedDict: true },
    );
    expect(system.main).toContain('js_shared_dict_zone zone=bgctl_weights');
    expect(system.site).not.toContain('js_shared_dict_zone');
  });

  it('renders the same config for every weight, revision and strategy: only the weights file differs', () => {
    const all = [0, 25, 50, 100].flatMap((percent) =>
      (['weighted', 'sticky'] as const).map((strategy) => renderConfig(config(), step(percent, { strategy, revision: percent + 1 }), DYN)),
    );
    // the baked-in fallback line names the color at 100% (see below); it is left out of the structure
    const structure = (r: (typeof all)[number]) => [r.main, r.site.replace(/^js_var \$bgctl_stable \w+;$/m, ''), r.js, r.configId];
    for (const r of all) expect(structure(r)).toEqual(structure(all[0] ?? r));
    expect(new Set(all.map((r) => r.weightsFile)).size).toBe(all.length);
  });

  it('writes the weights file NGINX routes by: weights, growing, stable, a fallback color, strategy, revision', () => {
    const doc = (r: RenderRequest) => JSON.parse(renderConfig(config(), r, DYN).weightsFile ?? '') as Record<string, unknown>;
    expect(doc(step(25))).toEqual({
      revision: 12,
      blue: 75,
      green: 25,
      growing: 'green',
      stable: 'blue',
      fallback: 'blue',
      strategy: 'weighted',
    });
    // the color at 100% is where everything goes when the file cannot be read; mid-migration the stable color
    expect(doc(step(100))).toMatchObject({ green: 100, stable: 'blue', fallback: 'green' });
    expect(doc({ ...step(0), growing: 'blue', stable: 'green', weights: { blue: 100, green: 0 } })).toMatchObject({ fallback: 'blue' });
    expect(doc({ ...step(40), stable: 'green', growing: 'blue', weights: { blue: 40, green: 60 } })).toMatchObject({ fallback: 'green' });
  });

  it('bakes a fallback color into the config, which is never a reason to reload', () => {
    const fromBlue = renderConfig(config(), step(50), DYN);
    const fromGreen = renderConfig(config(), step(50, { stable: 'green', growing: 'blue' }), DYN);
    expect(fromBlue.site).toContain('js_var $bgctl_stable blue;');
    expect(fromGreen.site).toContain('js_var $bgctl_stable green;');
    expect(fromGreen.configId).toBe(fromBlue.configId);
  });

  it('gives every structure its own id, and the id is what the site config and the live files carry', () => {
    const id = (c = config(), module: string | null = MODULE) => renderConfig(c, step(25), { module }).configId;
    const base = id();
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(id(config({ listen: 9090 }))).not.toBe(base);
    expect(id(config({ environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } } }))).not.toBe(base);
    expect(id(config({ routing: { forceCookie: 'bgctl_force' } }))).not.toBe(base);
    expect(id(config(), null)).not.toBe(base);
    const r = renderConfig(config(), step(25), DYN);
    expect(r.site).toContain(`js_var $bgctl_config ${base};`);
    expect(configIdOf({ main: r.main, site: r.site, js: r.js ?? '' })).toBe(base);
    expect(configIdOf({ main: r.main, site: r.site.replace('max_fails=3', 'max_fails=4'), js: r.js ?? '' })).not.toBe(base);
  });

  it('needs no load_module when njs is built into nginx, and refuses a module path that could change the config', () => {
    expect(renderConfig(config(), step(25), { module: null }).main).not.toContain('load_module');
    for (const bad of ['/x/ngx.so; evil', 'relative/ngx.so', '/x/../ngx.so', '/x/ngx_http_js_module'])
      expect(() => renderConfig(config(), step(25), { module: bad }), bad).toThrow(/impossible njs module path/);
  });

  it('leaves reload mode as it was: no njs, no weights file, the status from the config', () => {
    const r = renderConfig(config(), step(25));
    expect([r.js, r.weightsFile, r.configId]).toEqual([undefined, undefined, undefined]);
    expect(`${r.main}${r.site}`).not.toMatch(/js_|load_module/);
    expect(r.site).toContain('upstream bgctl_split {');
  });

  it('refuses nginx.njsModule values that are not plain absolute .so paths', () => {
    const parse = (njsModule: unknown) =>
      configSchema.safeParse({
        environments: { blue: { servers: ['127.0.0.1:1'] }, green: { servers: ['127.0.0.1:2'] } },
        nginx: { njsModule },
      });
    expect(parse(MODULE).success).toBe(true);
    expect(parse(null).success).toBe(true);
    for (const bad of ['ngx_http_js_module.so', '/a b/x.so', '/x/y.so;', '/x/../y.so', '/x/y']) expect(parse(bad).success, bad).toBe(false);
  });
});

describe('choosing the apply mode', () => {
  const found = { available: true, module: MODULE, detail: `njs module ${MODULE}` };
  const missing = { available: false, module: null, detail: 'no njs module at /m/ngx_http_js_module.so' };

  it('auto: dynamic with the module, reload without it; reload never asks', () => {
    expect(chooseMode('auto', { nginx: found })).toMatchObject({ mode: 'dynamic', ok: true, modules: { nginx: MODULE } });
    expect(chooseMode('auto', { nginx: found }).detail).toMatch(/^auto: dynamic .*njs module \/usr\/lib/);
    expect(chooseMode('auto', { nginx: missing })).toMatchObject({ mode: 'reload', ok: true });
    expect(chooseMode('auto', { nginx: missing }).detail).toMatch(/^auto: reload .*njs not available: no njs module at/);
    expect(chooseMode('reload', { nginx: found })).toMatchObject({ mode: 'reload', ok: true, modules: {} });
  });

  it('dynamic without the module is not ok (pre-flight refuses), and renders reload meanwhile', () => {
    const m = chooseMode('dynamic', { nginx: missing });
    expect(m).toMatchObject({ mode: 'reload', ok: false });
    expect(m.detail).toBe('nginx.mode is dynamic but the njs module is not available: no njs module at /m/ngx_http_js_module.so');
    expect(chooseMode('dynamic', null)).toMatchObject({ ok: false });
  });

  it('njs 0.8+ on every target: the weights are shared in memory; one target on njs 0.7 means the file for all', () => {
    const shared = { ...found, sharedDict: true };
    expect(chooseMode('auto', { nginx: shared })).toMatchObject({ mode: 'dynamic', sharedDict: true });
    expect(chooseMode('auto', { nginx: shared }).detail).toMatch(/share in memory .*js_shared_dict_zone/);
    expect(chooseMode('auto', { nginx: found })).toMatchObject({ mode: 'dynamic', sharedDict: false });
    expect(chooseMode('auto', { nginx: found }).detail).toMatch(/reads the weights file per request/);
    const mixed = chooseMode('dynamic', { a: shared, b: found });
    expect(mixed).toMatchObject({ mode: 'dynamic', sharedDict: false });
    // which target lacks it
    expect(mixed.detail).toContain(`target a: njs module ${MODULE}, js_shared_dict_zone; target b: njs module ${MODULE}`);
  });

  it('a fleet is dynamic only when every target has the module, and says which one lacks it', () => {
    expect(chooseMode('auto', { a: found, b: { ...found, module: null } })).toMatchObject({
      mode: 'dynamic',
      modules: { a: MODULE, b: null },
    });
    const m = chooseMode('dynamic', { a: found, b: missing });
    expect(m).toMatchObject({ mode: 'reload', ok: false });
    expect(m.detail).toContain('target b: no njs module');
  });
});

describe('finding the njs module', () => {
  it('reads the modules folder from nginx -V (Debian, the official image, a default build) or sees njs built in', () => {
    const debian =
      'nginx version: nginx/1.22.1\nconfigure arguments: --with-cc-opt=-g --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --modules-path=/usr/lib/nginx/modules --with-http_ssl_module';
    expect(modulesOf(debian)).toEqual({ builtIn: false, modulesPath: '/usr/lib/nginx/modules', prefix: '/usr/share/nginx' });
    expect(modulesOf('configure arguments: --prefix=/opt/nginx --with-http_v2_module')).toEqual({
      builtIn: false,
      modulesPath: '/opt/nginx/modules',
      prefix: '/opt/nginx',
    });
    expect(modulesOf('configure arguments: --with-http_v2_module').modulesPath).toBe('/usr/local/nginx/modules');
    // a system NGINX's load_module line: relative to the prefix (Debian's modules-enabled), or absolute
    expect(loadModuleFile('modules/ngx_http_js_module.so', debian)).toBe('/usr/share/nginx/modules/ngx_http_js_module.so');
    expect(loadModuleFile('/usr/lib/nginx/modules/ngx_http_js_module.so', debian)).toBe('/usr/lib/nginx/modules/ngx_http_js_module.so');
    expect(modulesOf('configure arguments: --prefix=/x --add-module=/build/njs-0.8.4/nginx').builtIn).toBe(true);
    expect(modulesOf('configure arguments: --prefix=/x --add-dynamic-module=/build/njs/nginx').builtIn).toBe(false);
  });

  it('tells njs 0.8+ (js_shared_dict_zone in its directive table) from 0.7 by the module file, and remembers the answer per file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bgctl-njs-'));
    try {
      const cache = path.join(dir, 'nginx-version.json');
      const v08 = path.join(dir, 'njs08.so');
      const v07 = path.join(dir, 'njs07.so');
      // a directive table names each directive as a NUL-terminated string among other bytes
      await writeFile(
        v08,
        Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from('js_import\0js_shared_dict_zone\0js_set\0')]),
      );
      await writeFile(v07, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from('js_import\0js_set\0js_var\0')]));
      expect(await sharedDictIn(v08, cache)).toBe(true);
      expect(await sharedDictIn(v07, cache)).toBe(false);
      expect(await sharedDictIn(path.join(dir, 'missing.so'), cache)).toBe(false);
      // the answer is kept for the same file; a replaced (upgraded) module is read again
      expect(Object.keys(JSON.parse(await readFile(cache, 'utf8')) as object).sort()).toEqual([v07, v08].sort());
      await writeFile(v07, Buffer.from('js_import\0js_shared_dict_zone\0js_set\0js_fetch_timeout\0'));
      expect(await sharedDictIn(v07, cache)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('as root, refuses a folder the workers (nobody) cannot enter, naming it', async () => {
    const modes: Record<string, number> = { '/': 0o755, '/srv': 0o700, '/srv/nginx': 0o755, '/srv/nginx/conf.d': 0o755 };
    const statOf = (p: string) => {
      const mode = modes[String(p)];
      return mode === undefined ? Promise.reject(new Error('ENOENT')) : Promise.resolve({ mode: 0o40000 | mode } as Stats);
    };
    expect(await workersBlocked('/srv/nginx', true, statOf as never)).toMatch(/cannot enter \/srv \(mode 0700\).*chmod o\+x \/srv/);
    expect(await workersBlocked('/srv/nginx', false, statOf as never)).toBeNull();
    modes['/srv'] = 0o711;
    expect(await workersBlocked('/srv/nginx', true, statOf as never)).toBeNull();
  });
});

describe('the status location in dynamic mode', () => {
  it('keeps a reload-mode answer exactly as it was', () => {
    expect(parseStatus('{"revision":3,"blue":75,"green":25,"strategy":"weighted","stable":"blue"}')).toEqual({
      revision: 3,
      weights: { blue: 75, green: 25 },
      strategy: 'weighted',
      stable: 'blue',
    });
  });

  it('reads the mode, where the weights came from, the structure id and a problem', () => {
    const text =
      '{"revision":0,"blue":100,"green":0,"strategy":"weighted","stable":"blue","mode":"dynamic","source":"config","config":"0123456789abcdef","problem":"conf.d/bgctl-weights.json: No such file or directory"}';
    expect(parseStatus(text)).toEqual({
      revision: 0,
      weights: { blue: 100, green: 0 },
      strategy: 'weighted',
      stable: 'blue',
      mode: 'dynamic',
      source: 'config',
      config: '0123456789abcdef',
      problem: 'conf.d/bgctl-weights.json: No such file or directory',
    });
  });
});

describe('start and status name the mode', () => {
  const njs = { nginx: { available: true, module: MODULE, detail: `njs module ${MODULE}` } };

  it('start: dynamic without the module is refused at pre-flight (exit 6), nothing started or saved', async () => {
    const w = makeContext({ state: null, config: { nginx: { mode: 'dynamic' } } });
    const e = await failure(start(w.ctx));
    expect(e.exitCode).toBe(ExitCode.PREFLIGHT);
    expect(e.message).toMatch(/^start: pre-flight failed: apply mode: nginx\.mode is dynamic but the njs module is not available/);
    expect([w.nginx.calls, w.store.saves]).toEqual([[], []]);
    expect(w.reporter.events).toContainEqual(expect.objectContaining({ type: 'preflight', check: 'apply mode', ok: false }));
  });

  it('start: with the module, says dynamic', async () => {
    const w = makeContext({ state: null, config: { nginx: { mode: 'auto' } }, njs });
    expect(await start(w.ctx)).toMatchObject({ mode: 'dynamic', modeDetail: expect.stringMatching(/^auto: dynamic/) });
  });

  it('status: the mode configured, resolved and live, and a weights file NGINX could not use as drift', async () => {
    const w = makeContext({ config: { nginx: { mode: 'dynamic' } }, njs });
    w.nginx.current = {
      revision: 0,
      weights: { blue: 100, green: 0 },
      strategy: 'weighted',
      stable: 'blue',
      mode: 'dynamic',
      source: 'prev',
      problem: 'conf.d/bgctl-weights.json: Unexpected token at position 0',
    };
    const r = await status(w.ctx);
    expect(r.mode).toMatchObject({ configured: 'dynamic', resolved: 'dynamic', ok: true, live: 'dynamic', source: 'prev' });
    expect(r.drift).toMatch(
      /^NGINX cannot use its weights file \(conf\.d\/bgctl-weights\.json: Unexpected token at position 0\) and sends all traffic to blue \(the fallback of bgctl-weights\.json\.prev\); NGINX serves revision 0/,
    );
  });
});
