import type { LiveNginx, NginxFiles, NjsSupport } from '../../app/ports.js';
import type { NginxLayout } from './files.js';
import type { NginxProcesses } from './steps.js';

/**
 * What differs from one NGINX to the next, under the one sequence of sequence.ts: how nginx is run and
 * its processes seen (a master on this machine, one in a container, one a service started), how its
 * status location is asked, and where its files are written (a folder on this machine, or inside a
 * container on another host).
 */
export interface NginxRuntime {
  readonly kind: 'local' | 'docker' | 'system';
  /** the files bgctl owns, as paths where `files` writes them */
  readonly layout: NginxLayout;
  /** the files themselves */
  readonly files: NginxFileStore;
  /** where it lives, for status and messages: the prefix folder or `container NAME` */
  readonly where: string;
  /** `nginx -t` of the tree (already written) in the folder `sub` of nginx.dir (`candidate`); never touches the live files */
  testCandidate(sub: string): Promise<{ ok: boolean; output: string }>;
  /** null: no master runs */
  processes(): Promise<NginxProcesses | null>;
  /** Sends the reload signal; throws ApplyError('reload') when it could not be sent. Proves nothing else. */
  reload(): Promise<void>;
  /** Starts NGINX on the live files; resolves once its master runs (throws ApplyError). */
  boot(): Promise<NginxProcesses>;
  /** Undoes a boot whose config was not confirmed. */
  abortBoot(): Promise<void>;
  /** Stops NGINX, gracefully first. */
  halt(): Promise<void>;
  /** GET /__bgctl/status on a brand-new connection; null: no (valid) answer. */
  live(): Promise<LiveNginx | null>;
  /** why it did not answer last time, when the runtime knows (docker's own error) */
  problem(): string | null;
  /** workers left serving after their master died (SIGKILL), by pid; absent: the runtime cannot tell */
  orphans?(): Promise<readonly number[]>;
  /** An NGINX bgctl never starts or stops (system driver): how its operator starts it; absent: `boot` starts it. */
  readonly startHint?: string;
  /** What `bgctl stop` tells instead of stopping it (system driver). */
  readonly stopHint?: string;
  /** Whether this NGINX has the njs module dynamic mode needs (never throws: not found is an answer). */
  njs(): Promise<NjsSupport>;
}

/**
 * The files of one NGINX target (render/layout.ts's names), wherever they are. Every write is whole
 * (a reader sees the old file or the new one); a link or special file where bgctl writes is refused
 * (exit 6) before anything is written.
 */
export interface NginxFileStore {
  /** Refuses links and special files at every name bgctl writes (changes nothing). */
  check(): Promise<void>;
  /** The folders NGINX and bgctl need, created. */
  ensure(): Promise<void>;
  /** The candidate tree, complete, for `nginx -t` and the swap. */
  writeCandidate(files: NginxFiles): Promise<void>;
  /** `files` in a private tree of its own (a sub-folder of nginx.dir), given to fn by that folder's name, removed after. */
  withScratchTree<T>(files: NginxFiles, fn: (sub: string) => Promise<T>): Promise<T>;
  /** The live config files copied to `.prev` (`js`: the njs module too). */
  backup(js: boolean): Promise<void>;
  /** The candidate files renamed over the live ones. */
  promote(js: boolean): Promise<void>;
  /** The `.prev` files put back (kept, so a restore can be repeated). */
  restore(js: boolean): Promise<void>;
  /** dynamic mode: the weights file replaced, the old one kept as `.prev`. */
  writeWeights(text: string): Promise<void>;
  /** The weights file of before the last write put back. */
  restoreWeights(): Promise<void>;
  /** The live main, site and njs files; null when one is missing. */
  readLive(): Promise<{ main: string; site: string; js: string } | null>;
  /** Where NGINX's error log ends now (0: none). */
  errorLogSize(): Promise<number>;
  /** What NGINX logged since `offset`. */
  errorLogSince(offset: number): Promise<string[]>;
}
