#!/usr/bin/env node
'use strict';
// CommonJS on purpose: Node starts a CommonJS entry without its ES module loader (about 5 ms a command).
const { readFileSync, renameSync, unlinkSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script, constants } = require('node:vm');

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // answered before the CLI loads: a version check costs what starting node costs
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}

/**
 * dist/bundle/bgctl.cjs is the whole CLI in one file (`npm run build`, scripts/bundle.mjs). Compiling
 * it is most of a command's start, so V8's compiled code is kept next to it (one file per command and
 * Node version, written after the first run, ignored when V8 rejects it or the folder is read-only),
 * the way Node 22's module.enableCompileCache() does it; Node 20 has no such API.
 */
const BUNDLE = path.join(__dirname, '..', 'dist', 'bundle', 'bgctl.cjs');

function cacheFile() {
  const command = args.find((a) => !a.startsWith('-'));
  const name = command && /^[a-z][a-z-]{0,30}$/.test(command) ? command : 'other';
  return `${BUNDLE}.${name}.${process.version}-${process.arch}.v8cache`;
}

function loadBundle() {
  // ASCII only (scripts/bundle.mjs: charset ascii), so latin1 gives the same string as utf8 without decoding
  const source = readFileSync(BUNDLE, 'latin1');
  const cache = cacheFile();
  let cachedData;
  try {
    cachedData = readFileSync(cache);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(source), {
    filename: BUNDLE,
    cachedData,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, Module.createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE));
  const fresh = cachedData === undefined || script.cachedDataRejected === true;
  return { main: module.exports.main, done: fresh ? () => saveCache(script, cache) : () => undefined };
}

/** After the command: the code V8 compiled for it, through an exclusively created temp file and a rename. */
function saveCache(script, file) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData(), { flag: 'wx', mode: 0o644 });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

/** No bundle (only tsc ran): the compiled ES modules in dist/. */
async function loadModules() {
  const { main } = await import(pathToFileURL(path.join(__dirname, '..', 'dist', 'main.js')).href);
  return { main, done: () => undefined };
}

let loaded;
try {
  loaded = Promise.resolve(loadBundle());
} catch (error) {
  if (error?.code !== 'ENOENT') throw error;
  loaded = loadModules();
}
// main() decides the exit code; exiting explicitly means no idle socket or timer keeps a finished
// command alive (stdout/stderr writes to pipes, files and terminals are synchronous on Linux).
loaded
  .then((cli) =>
    cli.main(process.argv).then((code) => {
      cli.done();
      process.exit(code);
    }),
  )
  .catch((error) => {
    process.stderr.write(`bgctl: internal error (a bug): ${error?.stack ?? error}\n`);
    process.exit(1);
  });
