#!/usr/bin/env node
/**
 * Keeps README.md's "Performance" figures true: the part between the bench markers is generated from
 * bench/results/latest.md (its summary table, the command, the machine, the timeline picture).
 * The bench calls updateReadme() after a full run of every case; run it by hand after editing or
 * restoring latest.md:
 *
 *   node bench/readme.mjs [--from bench/results/latest.md] [--readme README.md] [--check]
 *
 * --check changes nothing and exits 1 when the README section differs from what latest.md says.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const README = path.join(ROOT, 'README.md');
const LATEST = path.join(ROOT, 'bench', 'results', 'latest.md');
const START =
  '<!-- bench:start: generated from bench/results/latest.md by `npm run bench` (or `npm run bench:readme`); do not edit by hand -->';
const END = '<!-- bench:end -->';

/** Pure: the parts of latest.md the README shows. */
export function parseLatest(md) {
  const lines = md.split('\n');
  const run = /^(\S+), (full|quick) run \((\d+) s\), `([^`]+)`$/.exec(lines.find((l) => /, (full|quick) run \(/.test(l)) ?? '');
  const machine = lines.find((l) => l.startsWith('Machine: '))?.slice('Machine: '.length) ?? null;
  const at = lines.findIndex((l) => l.startsWith('## Summary'));
  const table = [];
  for (let i = at + 1; at >= 0 && i < lines.length; i++) {
    if (lines[i].startsWith('|')) table.push(lines[i]);
    else if (table.length > 0) break;
  }
  const pictures = [...md.matchAll(/^!\[([^\]]*)\]\(([^)\s]+\.svg)\)$/gm)].map((m) => ({ title: m[1], file: m[2] }));
  if (!run || !machine || table.length < 3) throw new Error('latest.md: no run line, machine line or summary table');
  return { date: run[1], mode: run[2], seconds: Number(run[3]), command: run[4], machine, table, pictures };
}

/** Pure: the generated block (before formatting). */
export function readmeBlock(latest) {
  const minutes = Math.max(1, Math.round(latest.seconds / 60));
  const picture = latest.pictures.find((p) => /flaky/.test(p.file)) ?? latest.pictures[0];
  return [
    START,
    '',
    `Measured ${latest.date} by a ${latest.mode} run of \`${latest.command}\` (${minutes} min) on: ${latest.machine}.`,
    '',
    `Reproduce: \`npm run bench\` (every benchmark, about ${minutes} min on that machine). One benchmark, shortened: \`npm run bench -- --only time-to-restore --quick --out /tmp/bench\`.`,
    '',
    ...latest.table,
    '',
    ...(picture
      ? [
          `A migration that went wrong at 75%, drawn by \`bgctl history --chart\`'s code from the access log (more in \`bench/results/latest.md\`):`,
          '',
          `![${picture.title}](bench/results/${picture.file})`,
          '',
        ]
      : []),
    END,
  ].join('\n');
}

/** Formatted as `npm run lint` wants it (the repository's prettier config, whichever README is written). */
async function format(text) {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(README)) ?? {};
  return (await prettier.format(text, { ...options, parser: 'markdown' })).trimEnd();
}

/** The README with its generated block replaced; throws when the markers are missing. */
export async function updateReadme(readme, latestMd, file = README) {
  const from = readme.indexOf('<!-- bench:start');
  const to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${file}: no "<!-- bench:start" ... "${END}" markers in the Performance section`);
  const block = await format(readmeBlock(parseLatest(latestMd)));
  return `${readme.slice(0, from)}${block}${readme.slice(to + END.length)}`;
}

async function main() {
  const { values } = parseArgs({
    options: { from: { type: 'string' }, readme: { type: 'string' }, check: { type: 'boolean', default: false } },
  });
  const readmeFile = path.resolve(values.readme ?? README);
  const before = await readFile(readmeFile, 'utf8');
  const after = await updateReadme(before, await readFile(path.resolve(values.from ?? LATEST), 'utf8'), readmeFile);
  if (values.check) {
    process.stdout.write(
      after === before ? 'README performance section is up to date\n' : 'README performance section differs from latest.md\n',
    );
    return after === before ? 0 : 1;
  }
  await writeFile(`${readmeFile}.tmp`, after);
  await rename(`${readmeFile}.tmp`, readmeFile);
  process.stdout.write(
    `${path.relative(process.cwd(), readmeFile) || readmeFile}: performance section ${after === before ? 'unchanged' : 'rewritten'}\n`,
  );
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`bench/readme: ${error?.message ?? error}\n`);
      process.exit(1);
    },
  );
}
