import { randomBytes } from 'node:crypto';
import { dirname, join, posix } from 'node:path';
import type { NginxFiles } from '../../app/ports.js';
import type { FileLayout } from '../../render/layout.js';
import type { ShellOp } from './container-ops.js';
import type { ContainerShell } from './container-shell.js';
import { configFolders, ownedFiles, pairs, type NginxLayout } from './files.js';
import type { NginxFileStore } from './runtime.js';

/**
 * The files of a target behind an engine (nginx.dockerHost), inside its container: the layout of the
 * bind mount (render/layout.ts under nginx.containerDir) with no folder shared with this machine.
 * HostFileStore's sequence, each method one batch of the container's session (container-ops.ts): the
 * candidate tree in one go, the backup and the swap as copies and renames inside the folder, the
 * weights file replaced atomically with the old one kept as `.prev`; a link or special file where bgctl
 * writes refused (exit 6) before anything of the batch is written.
 */

/** conf.d/bgctl.conf may hold the forced-route secret: readable by NGINX's master (root) only. */
const SITE_MODE = 0o600;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

export class ContainerFileStore implements NginxFileStore {
  constructor(
    private readonly shell: ContainerShell,
    private readonly l: NginxLayout,
  ) {}

  async check(): Promise<void> {
    await this.shell.run(this.checks());
  }

  async ensure(): Promise<void> {
    await this.shell.run(this.ready());
  }

  async writeCandidate(files: NginxFiles): Promise<void> {
    const dir = join(this.l.dir, this.l.files.candidate);
    await this.shell.run([...this.ready(), ...tree(dir, files, this.l.files)]);
  }

  async withScratchTree<T>(files: NginxFiles, fn: (sub: string) => Promise<T>): Promise<T> {
    const sub = `.validate-${randomBytes(4).toString('hex')}`;
    const dir = join(this.l.dir, sub);
    const folders = configFolders(this.l.files).filter((f) => !f.startsWith(this.l.files.candidate));
    await this.shell.run([
      ...this.ready(),
      { op: 'mktree', path: dir },
      ...folders.map((f): ShellOp => ({ op: 'mkdir', path: join(dir, f), mode: DIR_MODE })),
      ...tree(dir, files, this.l.files),
    ]);
    try {
      return await fn(sub);
    } finally {
      await this.shell.run([{ op: 'rmtree', path: dir }]).catch(() => undefined);
    }
  }

  /** Each live file copied to `.prev` (a live file that is missing leaves no `.prev`). */
  async backup(js: boolean): Promise<void> {
    const copies = pairs(this.l, js).map((p): ShellOp => ({ op: 'copy', from: p.live, to: p.prev, mode: modeOf(this.l, p.live) }));
    await this.shell.run([...this.ready(), ...copies, this.syncOf(pairs(this.l, js).map((p) => p.prev))]);
  }

  /** Each candidate file renamed over its live file, the njs module first and nginx.conf last. */
  async promote(js: boolean): Promise<void> {
    const moves = pairs(this.l, js).map((p): ShellOp => ({ op: 'move', from: p.candidate, to: p.live }));
    await this.shell.run([...moves, this.syncOf(pairs(this.l, js).flatMap((p) => [p.live, p.candidate]))]);
  }

  async restore(js: boolean): Promise<void> {
    const copies = pairs(this.l, js).map((p): ShellOp => ({ op: 'copy', from: p.prev, to: p.live, mode: modeOf(this.l, p.live) }));
    await this.shell.run([...this.ready(), ...copies, this.syncOf(pairs(this.l, js).map((p) => p.live))]);
  }

  async writeWeights(text: string): Promise<void> {
    const { weights, weightsPrev } = this.l;
    await this.shell.run([
      ...this.ready(),
      { op: 'copy', from: weights, to: weightsPrev, mode: FILE_MODE },
      { op: 'put', path: weights, mode: FILE_MODE, data: text },
      this.syncOf([weights]),
    ]);
  }

  async restoreWeights(): Promise<void> {
    const { weights, weightsPrev } = this.l;
    await this.shell.run([...this.ready(), { op: 'copy', from: weightsPrev, to: weights, mode: FILE_MODE }, this.syncOf([weights])]);
  }

  async readLive(): Promise<{ main: string; site: string; js: string } | null> {
    const records = await this.shell.run([this.l.main, this.l.site, this.l.js].map((path): ShellOp => ({ op: 'read', path })));
    const [main, site, js] = records.map((r) => (r.words[0] === '1' ? r.data.toString('utf8') : null));
    return main == null || site == null || js == null ? null : { main, site, js };
  }

  async errorLogSize(): Promise<number> {
    if (this.l.errorLog === null) return 0;
    const [r] = await this.shell.run([{ op: 'size', path: this.l.errorLog }]);
    return Number(r?.words[0] ?? 0) || 0;
  }

  async errorLogSince(offset: number): Promise<string[]> {
    if (this.l.errorLog === null) return [];
    const [r] = await this.shell.run([{ op: 'since', path: this.l.errorLog, offset }]);
    return (r?.data.toString('utf8') ?? '').split('\n').filter((line) => line.length > 0);
  }

  /** Every folder bgctl writes into a real folder, every name it writes a regular file, or missing. */
  private checks(): ShellOp[] {
    const folders = [...configFolders(this.l.files).map((f) => join(this.l.dir, f)), dirname(this.l.weights)];
    return [...new Set(folders).values()]
      .map((path): ShellOp => ({ op: 'dir', path }))
      .concat(ownedFiles(this.l).map((path): ShellOp => ({ op: 'file', path })));
  }

  /** The checks, then the folders NGINX and bgctl need (logs and temp for bgctl's own NGINX). */
  private ready(): ShellOp[] {
    const own = this.l.files.pid === null ? [] : ['logs', 'temp'];
    const folders = [...own, ...configFolders(this.l.files)].map((f) => join(this.l.dir, f));
    return [
      ...this.checks(),
      { op: 'mkdirp', path: this.l.dir, mode: DIR_MODE },
      ...folders.map((path): ShellOp => ({ op: 'mkdir', path, mode: DIR_MODE })),
    ];
  }

  /** The files and their folders flushed (the renames in them included). */
  private syncOf(files: readonly string[]): ShellOp {
    return { op: 'sync', paths: [...new Set([...files.map((f) => dirname(f)), ...files])] };
  }
}

/** The config files of `files` written under `dir` (laid out like the live tree), the site private. */
function tree(dir: string, files: NginxFiles, layout: FileLayout): ShellOp[] {
  const put = (rel: string, data: string, mode: number): ShellOp => ({ op: 'put', path: posix.join(dir, rel), mode, data });
  return [
    ...(files.js === undefined ? [] : [put(layout.js, files.js, FILE_MODE)]),
    put(layout.site, files.site, SITE_MODE),
    put(layout.main, files.main, FILE_MODE),
  ];
}

const modeOf = (l: NginxLayout, live: string): number => (live === l.site ? SITE_MODE : FILE_MODE);
