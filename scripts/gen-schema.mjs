#!/usr/bin/env node
// Writes schema/bgctl.schema.json from the built zod schema (run after `npm run build`).
// test/unit/json-schema.test.ts fails when the file and the schema differ, so it cannot go stale.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { configJsonSchema } = await import(path.join(root, 'dist/config/json-schema.js'));

let text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
try {
  // Format like the rest of the repository so `prettier --check .` stays quiet; optional (devDependency).
  const prettier = await import('prettier');
  const filepath = path.join(root, 'schema/bgctl.schema.json');
  const options = (await prettier.resolveConfig(filepath)) ?? {};
  text = await prettier.format(text, { ...options, parser: 'json', filepath });
} catch {
  // prettier not installed (production install): plain JSON.stringify output is valid too.
}
await mkdir(path.join(root, 'schema'), { recursive: true });
await writeFile(path.join(root, 'schema/bgctl.schema.json'), text);
console.log('wrote schema/bgctl.schema.json');
