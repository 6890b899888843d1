/**
 * Pure argv builders for the nginx binary (arrays of words, never shell strings).
 * They return only the arguments *after* the binary, so the local driver runs
 * `execa(binary, argv)` and a docker driver can run `execa('docker', ['exec', container, 'nginx', ...argv])`
 * with exactly the same words (paths are then paths inside the container).
 */

/** Where one NGINX instance lives: its prefix (`-p`), the config file (`-c`) and the early error log (`-e`). */
export interface NginxTarget {
  /** prefix folder; relative paths in the config (pid, logs, temp) resolve against it */
  readonly prefix: string;
  /** config file; `include` paths resolve against the folder of this file */
  readonly conf: string;
  /**
   * error log used before the config's own `error_log` is in effect (nginx >= 1.19.5), or `stderr`.
   * Without it nginx would open the compiled-in /var/log/nginx/error.log.
   */
  readonly errorLog: string;
}

/** The signals `nginx -s` understands (stop = SIGTERM, quit = SIGQUIT, reload = SIGHUP, reopen = SIGUSR1). */
export type NginxSignal = 'stop' | 'quit' | 'reload' | 'reopen';

const where = (t: NginxTarget): readonly string[] => ['-p', t.prefix, '-c', t.conf, '-e', t.errorLog];

/** `nginx -t`: parses the config and opens the files it names; does not bind listen sockets. */
export function testCommand(t: NginxTarget): readonly string[] {
  return ['-t', ...where(t)];
}

/** Starts a master (it daemonizes itself; the command returns once the master is up or failed). */
export function startCommand(t: NginxTarget): readonly string[] {
  return [...where(t)];
}

/**
 * Sends a signal to the running master. nginx parses `conf` to find the pid file, so `conf` must be the
 * config that names the same `pid` as the running master.
 */
export function signalCommand(t: NginxTarget, signal: NginxSignal): readonly string[] {
  return ['-s', signal, ...where(t)];
}

/** Graceful reload. Its exit code only says the signal was sent, never that the config applied. */
export const reloadCommand = (t: NginxTarget): readonly string[] => signalCommand(t, 'reload');

/** Graceful shutdown: workers finish their requests, then the master exits. */
export const quitCommand = (t: NginxTarget): readonly string[] => signalCommand(t, 'quit');
