#!/usr/bin/env node
/**
 * Fails when the modules under src/ import each other in a circle. Static imports, `export ... from`
 * and dynamic `import('./x.js')` all count: a lazy import still ties the two modules together.
 * Type-only imports (`import type`, or every binding marked `type`) are erased at build and do not.
 * Relative specifiers only (packages and node builtins cannot close a circle inside src/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import ts from 'typescript';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)), 'src');
const files = (function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
})(root);

/** The relative specifiers a file imports at run time. */
function runtimeImports(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found = [];
  const typeOnly = (clause) =>
    clause.isTypeOnly ||
    (clause.namedBindings !== undefined &&
      clause.name === undefined &&
      ts.isNamedImports(clause.namedBindings) &&
      clause.namedBindings.elements.length > 0 &&
      clause.namedBindings.elements.every((e) => e.isTypeOnly));
  (function walk(node) {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (node.importClause === undefined || !typeOnly(node.importClause)) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : [];
      if (!node.isTypeOnly && !(named.length > 0 && named.every((e) => e.isTypeOnly))) {
        found.push(node.moduleSpecifier.text);
      }
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, walk);
  })(source);
  return found.filter((s) => s.startsWith('./') || s.startsWith('../'));
}

const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = new Set();
  for (const spec of runtimeImports(file, text)) {
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    if (files.includes(target)) deps.add(target);
  }
  graph.set(file, [...deps]);
}

// Tarjan's strongly connected components: every component of two or more files is a circle
let index = 0;
const stack = [];
const info = new Map();
const circles = [];
function visit(v) {
  info.set(v, { index, low: index, onStack: true });
  index += 1;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!info.has(w)) {
      visit(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) {
      info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component);
  }
}
for (const file of files) if (!info.has(file)) visit(file);

if (circles.length > 0) {
  for (const c of circles) {
    console.error(
      `import circle: ${c
        .map((f) => relative(root, f))
        .sort()
        .join(', ')}`,
    );
  }
  process.exit(1);
}
console.log(`no import circles among ${files.length} files under src/`);
