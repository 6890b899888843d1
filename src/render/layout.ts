/**
 * Where every file bgctl renders or NGINX writes lives, relative to the folder bgctl owns (nginx.dir):
 * the one definition the templates (through the view), the drivers (adapters/nginx/files.ts), the njs
 * module (checked by a test) and `bgctl render --out` all use.
 *
 * bgctl's own NGINX (local and docker drivers) runs `nginx -p DIR -c DIR/nginx.conf`: `main` includes
 * `site`, which imports `js`. An NGINX bgctl did not start (system driver) includes `main` (http.conf)
 * in its `http {}` and `site` (server.conf) in the server block that fronts the application.
 */
export interface FileLayout {
  /** the top file: bgctl's nginx.conf, or the system NGINX's http-level include */
  readonly main: string;
  /** the routing config: bgctl's site (http level, with its server block), or the system NGINX's server-level include */
  readonly site: string;
  /** dynamic mode: the njs module */
  readonly js: string;
  /** dynamic mode: what NGINX routes by, read per request (nginx.weightsDir may move it) */
  readonly weights: string;
  /** the tree `nginx -t` tests before anything live changes, laid out like the live one */
  readonly candidate: string;
  /** null: the system NGINX's own (bgctl finds its master through the config) */
  readonly pid: string | null;
  /** null: the system NGINX's own error log */
  readonly errorLog: string | null;
  /** the JSON access log every decision is made from */
  readonly accessLog: string;
}

/** bgctl's own NGINX: a prefix folder it owns whole. */
export const OWN_LAYOUT = {
  main: 'nginx.conf',
  site: 'conf.d/bgctl.conf',
  js: 'conf.d/bgctl.js',
  weights: 'conf.d/bgctl-weights.json',
  candidate: 'candidate',
  pid: 'logs/nginx.pid',
  errorLog: 'logs/error.log',
  accessLog: 'logs/access.json.log',
} as const satisfies FileLayout;

/** An NGINX that bgctl did not start: two include files and what they need, in nginx.dir. */
export const SYSTEM_LAYOUT = {
  main: 'http.conf',
  site: 'server.conf',
  js: 'bgctl.js',
  weights: 'bgctl-weights.json',
  candidate: 'candidate',
  pid: null,
  errorLog: null,
  accessLog: 'access.json.log',
} as const satisfies FileLayout;

/** The `.prev` copy kept of a live file on every change (what a restore puts back). */
export const prevOf = (file: string): string => `${file}.prev`;
