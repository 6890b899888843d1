import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Handlebars from 'handlebars';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMPILE_OPTIONS, compileOptions, precompileEntry, precompiledSpec } from '../../src/render/precompiled.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bgctl-precompiled-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const TEMPLATE = 'listen {{port}}; {{#if extra}}# {{extra}}{{/if}}\n';

async function fileWith(entries: Record<string, unknown>): Promise<URL> {
  const file = path.join(dir, 'templates.precompiled.json');
  await writeFile(file, JSON.stringify(entries));
  return pathToFileURL(file);
}

describe('precompiled templates', () => {
  it('render exactly what compiling the source renders, strict and unescaped', async () => {
    const from = await fileWith({ 't.hbs': precompileEntry(Handlebars, TEMPLATE) });
    const spec = precompiledSpec('t.hbs', TEMPLATE, from);
    expect(spec).not.toBeNull();
    const hbs = Handlebars.create();
    const pre = hbs.template(spec!);
    const compiled = hbs.compile(TEMPLATE, compileOptions());
    const view = { port: 8080, extra: '"quoted" & <kept>' };
    expect(pre(view)).toBe(compiled(view));
    expect(pre(view)).toContain('"quoted" & <kept>');
    expect(() => pre({})).toThrow(/"port" not defined/);
  });

  it('are ignored when the template changed since the build, or another option set made them', async () => {
    const entry = precompileEntry(Handlebars, TEMPLATE);
    const from = await fileWith({ 't.hbs': entry, 'u.hbs': { ...entry, options: '{"strict":false}' } });
    expect(precompiledSpec('t.hbs', `${TEMPLATE}# edited\n`, from)).toBeNull();
    expect(precompiledSpec('u.hbs', TEMPLATE, from)).toBeNull();
    expect(precompiledSpec('missing.hbs', TEMPLATE, from)).toBeNull();
    expect(precompiledSpec('t.hbs', TEMPLATE, pathToFileURL(path.join(dir, 'none.json')))).toBeNull();
  });

  it('the build made them for the shipped templates with the options render uses', async () => {
    const built = JSON.parse(await readFile(new URL('../../dist/templates.precompiled.json', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    >;
    for (const name of ['nginx.conf.hbs', 'site.conf.hbs']) {
      const source = await readFile(new URL(`../../nginx/templates/${name}`, import.meta.url), 'utf8');
      expect(precompiledSpec(name, source), `${name}: run npm run build`).not.toBeNull();
      expect(built[name]).toMatchObject({ options: JSON.stringify(COMPILE_OPTIONS) });
    }
  });
});
