#!/usr/bin/env node
/**
 * Bundles the CLI (src/main.ts and everything it imports, dependencies included) into one CommonJS
 * file, dist/bundle/bgctl.cjs, with esbuild: one file to compile at start instead of hundreds of
 * modules to find, stat and link, and one file V8 can cache compiled (bin/bgctl.cjs). Lazily imported
 * parts (serve, demo, execa...) are still evaluated only when a command needs them. tsc still emits
 * dist/ (type check, the demo backends, the bench's imports). The bundle sits two folders below the
 * package root like dist/render/*.js, so `new URL('../../nginx/', import.meta.url)` finds the
 * templates from both; import.meta.url is the bundle's own URL.
 */
import { build } from 'esbuild';
import Handlebars from 'handlebars';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
await rm(outdir, { recursive: true, force: true }); // stale code caches go with the old bundle
await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: `${outdir}/bgctl.cjs`,
  define: { 'import.meta.url': '__bgctlUrl' },
  banner: { js: "const __bgctlUrl = require('node:url').pathToFileURL(__filename).href;" },
  // required only by `serve` (metrics, webhooks), `verify` and the demo: loaded from node_modules
  // when one of them runs rather than read and compiled at every start
  external: ['undici', 'prom-client'],
  // zod re-exports its ~60 translations of error messages as `z.locales`; bgctl never uses them (zod
  // imports the English one itself), and they were a fifth of the bundle, read and run at every start
  plugins: [
    {
      name: 'no-zod-locales',
      setup(b) {
        b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
          /[/\\]node_modules[/\\]zod[/\\]/.test(args.importer) ? { path: 'zod-locales', namespace: 'no-zod-locales' } : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'no-zod-locales' }, () => ({ contents: 'export {};', loader: 'js' }));
      },
    },
  ],
  // every other character escaped: bin/bgctl.cjs reads the file as latin1, with no UTF-8 decoding
  charset: 'ascii',
  // smaller file, quicker to read and hash; names are kept readable for stack traces
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// the templates, precompiled with render's own options (dist/render/precompiled.js, just built by tsc)
const { PRECOMPILED_FILE, precompileEntry } = await import(`${root}dist/render/precompiled.js`);
const entries = {};
for (const name of ['nginx.conf.hbs', 'site.conf.hbs'])
  entries[name] = precompileEntry(Handlebars, await readFile(`${root}nginx/templates/${name}`, 'utf8'));
await writeFile(PRECOMPILED_FILE, `${JSON.stringify(entries)}\n`);
