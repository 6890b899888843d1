// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node builtins and packages that do IO: only adapters (and the composition roots) import them. */
const IO = '^(node:)?(fs|fs/promises|child_process|net|http|https|http2|dgram|dns|readline|tls)$|^(execa|undici|pino)$';
/** The adapters that implement the app's ports: built by wire.ts (and serve/main.ts), nowhere else. */
const PORT_ADAPTERS =
  '^\\.\\./adapters/(clock|control-file|deploy|lock|force-secret|logger|tls-check|state-store|warmup|probe|traffic-log|recent-traffic|http-get)\\.js$|^\\.\\./adapters/nginx/(?!files\\.js$)';

/**
 * One folder's import rule: `patterns` of @typescript-eslint/no-restricted-imports (static imports;
 * `allowTypeImports` lets `import type` through) and the same regexes on `import('...')`.
 * @param {string | string[]} files
 * @param {{ regex: string, message: string, allowTypeImports?: boolean }[]} patterns
 * @param {string[]} [ignores]
 */
function layer(files, patterns, ignores = []) {
  const list = Array.isArray(files) ? files : [files];
  return [
    {
      files: list,
      ignores,
      rules: {
        '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
        'no-restricted-syntax': [
          'error',
          ...patterns
            .filter((p) => !p.allowTypeImports)
            .map((p) => ({ selector: `ImportExpression[source.value=/${p.regex.replace(/\//g, '\\/')}/]`, message: p.message })),
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  // ---- The layers, enforced ----
  // Dependencies point one way: cli → app → core. `core` is pure; `app` holds the use cases and talks to the
  // world only through the ports it declares (app/ports.ts); `adapters` do the IO; `config`, `render` and
  // `report` are leaves the app may use. Real adapters that implement the app's ports (NGINX drivers, state
  // store, lock, logger, clock, probes, access-log reader, deploy runner...) are constructed in src/wire.ts
  // (called from src/main.ts) and in src/serve/main.ts only; the CLI may use the small file/IO helpers of
  // adapters/ directly (safe-fs, the serve record and client, init-file, access-log-span, nginx/files'
  // writeTree, port-owner). These rules see static imports and `import()` of a literal; import circles under
  // src/ (type-only imports aside) are refused by scripts/check-cycles.mjs, also run by `npm run lint`.
  ...layer('src/core/**/*.ts', [{ regex: '^(?!\\./|zod$)', message: 'core is pure: it imports only other core modules (and zod)' }]),
  ...layer('src/app/**/*.ts', [
    {
      regex: '^\\.\\./(?!core/|config/|render/|report/)',
      message: 'app imports only core, report, and types from config and render; IO goes through app/ports.ts',
    },
    { regex: '^\\.\\./(config|render)/', allowTypeImports: true, message: 'app takes only types from config and render' },
    { regex: IO, message: 'app does no IO itself: that is what adapters (behind app/ports.ts) are for' },
  ]),
  ...layer('src/adapters/**/*.ts', [
    {
      regex: '^(\\.\\./)+(cli|demo|serve)/|^(\\.\\./)+(wire|main)\\.js$',
      message: 'adapters never import the CLI, the demo, serve or the wiring',
    },
  ]),
  ...layer(
    ['src/config/**/*.ts', 'src/render/**/*.ts', 'src/report/**/*.ts'],
    [
      {
        regex: '^\\.\\./(adapters|cli|demo|serve)/|^\\.\\./(wire|main)\\.js$',
        message: 'config, render and report are leaves: no adapters, CLI, demo, serve or wiring',
      },
      { regex: '^\\.\\./app/', allowTypeImports: true, message: 'config, render and report take only types from app' },
    ],
  ),
  ...layer('src/cli/**/*.ts', [
    { regex: '^\\.\\./(wire|main)\\.js$', message: 'the CLI gets its context from main.ts (CliDeps), it does not wire adapters' },
    { regex: PORT_ADAPTERS, message: 'adapters behind app/ports.ts are constructed in wire.ts only' },
  ]),
  ...layer('src/demo/**/*.ts', [
    {
      regex: '^\\.\\./(cli|serve)/|^\\.\\./(wire|main)\\.js$',
      message: 'the demo is given its context (runDemo options); it does not wire adapters',
    },
    { regex: PORT_ADAPTERS, message: 'adapters behind app/ports.ts are constructed in wire.ts only' },
  ]),
  ...layer(
    'src/serve/**/*.ts',
    [
      { regex: '^\\.\\./(cli|demo)/|^\\.\\./(wire|main)\\.js$', message: 'serve is given its adapters (ServeDeps)' },
      { regex: '^\\.\\./adapters/', message: 'serve gets its adapters from serve/main.ts' },
      { regex: '^\\./adapters/', allowTypeImports: true, message: 'serve/adapters are constructed in serve/main.ts only' },
    ],
    ['src/serve/main.ts', 'src/serve/adapters/**'],
  ),
  ...layer('src/serve/adapters/**/*.ts', [
    { regex: '^(\\.\\./)+(cli|demo)/|^(\\.\\./)+(wire|main)\\.js$', message: 'adapters never import the CLI, the demo or the wiring' },
  ]),
  {
    // asymmetric matchers (expect.stringMatching...) are typed any; JSON parsed in tests is checked by assertions
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        performance: 'readonly',
        Buffer: 'readonly',
      },
    },
  },
  {
    // the launcher is CommonJS: Node starts it without its ES module loader
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', __dirname: 'readonly', process: 'readonly' },
    },
  },
  {
    // the njs module bgctl writes for NGINX in dynamic mode: `ngx` is njs's global object
    files: ['nginx/njs/*.js'],
    languageOptions: { globals: { ngx: 'readonly' } },
  },
);
