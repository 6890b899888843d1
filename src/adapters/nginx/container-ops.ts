/**
 * Pure: the small request loop bgctl runs inside an NGINX container behind a remote engine
 * (`docker exec -i C sh -c SHELL_LOOP sh`), the requests it understands and the parsing of its answers.
 *
 * One `docker exec` costs tens of milliseconds on a local engine and several hundred through ssh, so a
 * target behind an engine keeps one such session open and sends it batches of requests: writing the
 * candidate tree, a backup, the weights file, the status location asked with curl, the nginx processes.
 * The script is constant text; a request is one line of words (paths bgctl built from checked config
 * values: no spaces, never expanded as globs) and, for `put` and `http`, one base64 line of data. Every
 * answer's payload is base64, so nothing a file, a process title or an HTTP body holds can pass for
 * the loop's own lines; a batch ends with `@@ ID ok` or `@@ ID fail ...`, ID being random per batch.
 *
 * Safety of the writes mirrors safe-fs.ts inside the container: a link or special file where bgctl
 * writes is refused (`test -L`, `test -f`, `test -d`) before anything of the batch after it runs; new
 * files go to a unique temp name in the same folder (created with noclobber after removing a leftover
 * of that very name), are chmod-ed and synced, then renamed over the target (`mv`: atomic within a
 * folder). The first failure skips the rest of its batch.
 */

export const SHELL_LOOP = `exec 2>/dev/null
umask 077
i=0; n=0; fail=
say() { printf '%s\\n' "$*"; }
flat() { printf '%s' "$*" | tr '\\n' ' '; }
what() {
  if [ -L "$1" ]; then echo 'a symbolic link'; elif [ -d "$1" ]; then echo 'a folder'
  elif [ -p "$1" ]; then echo 'a named pipe (FIFO)'; elif [ -S "$1" ]; then echo 'a socket'
  elif [ -b "$1" ] || [ -c "$1" ]; then echo 'a device'; else echo 'not a regular file'; fi
}
realdir() { [ ! -L "$1" ] && { [ ! -e "$1" ] || [ -d "$1" ]; }; }
regular() { [ ! -L "$1" ] && { [ ! -e "$1" ] || [ -f "$1" ]; }; }
refuse() { fail="unsafe $1 $(what "$1")"; }
try() { d=$1; shift; e=$("$@" 2>&1 >/dev/null) || fail="error $d: $(flat "$e")"; }
fresh() { n=$((n+1)); t="$1.bgctl-$$-$n.tmp"; rm -f "$t"; }
land() {
  try "chmod $t" chmod "$2" "$t"; [ -z "$fail" ] && { sync "$t" 2>/dev/null || :; }
  [ -z "$fail" ] && try "rename $t to $1" mv -f "$t" "$1"; [ -n "$fail" ] && rm -f "$t"
}
size() { if [ -f "$1" ]; then wc -c < "$1" | tr -d ' '; else echo 0; fi; }
while IFS= read -r line; do
  set -f; set -- $line; set +f
  op=$1; shift
  case $op in
    end) if [ -z "$fail" ]; then say "@@ $1 ok"; else say "@@ $1 fail $fail"; fi; fail=; i=0; continue ;;
    put|http) IFS= read -r data ;;
  esac
  i=$((i+1))
  [ -n "$fail" ] && continue
  case $op in
    dir) realdir "$1" || refuse "$1" ;;
    file) regular "$1" || refuse "$1" ;;
    mkdir) if ! realdir "$1"; then refuse "$1"; elif [ ! -d "$1" ]; then try "mkdir $1" mkdir -m "$2" "$1"; fi ;;
    mkdirp) try "mkdir $1" mkdir -p -m "$2" "$1" ;;
    mktree) try "mkdir $1" mkdir -m 700 "$1" ;;
    rmtree) try "rm $1" rm -rf "$1" ;;
    put)
      if ! regular "$1"; then refuse "$1"; continue; fi
      fresh "$1"; e=$( (set -C; printf '%s' "$data" | base64 -d > "$t") 2>&1) || fail="error write $t: $(flat "$e")"
      land "$1" "$2" ;;
    copy)
      if ! regular "$1"; then refuse "$1"; elif ! regular "$2"; then refuse "$2"
      elif [ ! -e "$1" ]; then try "rm $2" rm -f "$2"
      else fresh "$2"; e=$( (set -C; cat "$1" > "$t") 2>&1) || fail="error copy $1: $(flat "$e")"; land "$2" "$3"; fi ;;
    move)
      if [ ! -e "$1" ] && [ ! -L "$1" ]; then fail="error $1 is missing"
      elif [ -L "$1" ] || [ ! -f "$1" ]; then refuse "$1"; elif ! regular "$2"; then refuse "$2"
      else try "rename $1 to $2" mv -f "$1" "$2"; fi ;;
    sync) sync "$@" 2>/dev/null || : ;;
    exists) if [ -f "$1" ]; then say "@ $i exists 1"; else say "@ $i exists 0"; fi ;;
    holds) if [ ! -f "$1" ]; then say "@ $i holds missing"; elif grep -q -F -e "$2" "$1"; then say "@ $i holds yes"; else say "@ $i holds no"; fi ;;
    read)
      if ! regular "$1"; then refuse "$1"; elif [ -e "$1" ]; then say "@ $i read 1"; base64 < "$1"; else say "@ $i read 0"; fi ;;
    size) say "@ $i size $(size "$1")" ;;
    since)
      s=$(size "$1"); o=$2; [ "$s" -lt "$o" ] && o=0
      say "@ $i since $s"; [ "$s" -gt "$o" ] && tail -c +$((o+1)) "$1" | head -c $((s-o)) | base64 ;;
    last) if [ -f "$1" ]; then say "@ $i last 1"; tail -c "$2" "$1" | base64; else say "@ $i last 0"; fi ;;
    http)
      k=; [ "$2" = insecure ] && k=--insecure
      r=$(printf '%s' "$data" | base64 -d | curl -sS -i -g --max-time "$1" $k -H @- "$3" 2>&1); rc=$?
      say "@ $i http $rc"; printf '%s' "$r" | base64 ;;
    nginx) r=$(nginx "$@" 2>&1 </dev/null); rc=$?; say "@ $i nginx $rc"; printf '%s' "$r" | base64 ;;
    ps)
      say "@ $i ps"
      for p in /proc/[0-9]*; do
        read -r c < "$p/comm" || continue; [ "$c" = nginx ] || continue
        read -r s < "$p/stat" || continue; s=\${s##*) }; set -f; set -- $s; set +f
        printf '%s %s %s\\n' "\${p#/proc/}" "$2" "$(tr '\\0' ' ' < "$p/cmdline")"
      done | base64 ;;
    *) fail="error unknown request $op" ;;
  esac
done
`;

/** One request; paths are absolute paths inside the container. */
export type ShellOp =
  /** refused unless a real folder or missing */
  | { readonly op: 'dir'; readonly path: string }
  /** refused unless a regular file or missing */
  | { readonly op: 'file'; readonly path: string }
  /** created (its parent must exist) unless there; refused unless a real folder */
  | { readonly op: 'mkdir'; readonly path: string; readonly mode: number }
  /** `mkdir -p`: the folder bgctl was given (nginx.containerDir) and its parents, trusted like nginx.dir on a host */
  | { readonly op: 'mkdirp'; readonly path: string; readonly mode: number }
  /** created exclusively, 0700: a private scratch folder */
  | { readonly op: 'mktree'; readonly path: string }
  | { readonly op: 'rmtree'; readonly path: string }
  /** the whole file replaced by `data` (temp name, chmod, sync, rename) */
  | { readonly op: 'put'; readonly path: string; readonly mode: number; readonly data: string | Buffer }
  /** `to` replaced by a copy of `from` like put; `from` missing: `to` removed */
  | { readonly op: 'copy'; readonly from: string; readonly to: string; readonly mode: number }
  /** the regular file `from` renamed over `to` */
  | { readonly op: 'move'; readonly from: string; readonly to: string }
  /** files and folders flushed to disk (best effort) */
  | { readonly op: 'sync'; readonly paths: readonly string[] }
  /** answers whether a regular file is there */
  | { readonly op: 'exists'; readonly path: string }
  /** answers whether the file holds `text` (a plain word): yes, no or missing */
  | { readonly op: 'holds'; readonly path: string; readonly text: string }
  /** answers the file, or that it is missing */
  | { readonly op: 'read'; readonly path: string }
  /** answers the size (0: missing) */
  | { readonly op: 'size'; readonly path: string }
  /** answers the bytes after `offset` (from 0 when the file is smaller than that) */
  | { readonly op: 'since'; readonly path: string; readonly offset: number }
  /** answers the last `bytes` bytes, or that the file is missing */
  | { readonly op: 'last'; readonly path: string; readonly bytes: number }
  /** `curl -i` of url from inside the container, with these request headers (sent on curl's stdin) */
  | {
      readonly op: 'http';
      readonly url: string;
      readonly headers: readonly string[];
      readonly timeoutSeconds: number;
      readonly insecure: boolean;
    }
  /** nginx with these words; answers its exit code and output */
  | { readonly op: 'nginx'; readonly argv: readonly string[] }
  /** answers `PID PPID TITLE` of every nginx process */
  | { readonly op: 'ps' };

/**
 * A word of a request line: what the config checks already allow in container paths and URLs (an IPv6
 * server in brackets included), nothing a shell splits; the loop splits with globbing off.
 */
const WORD = /^[A-Za-z0-9._/:@%+=,~[\]-]{1,1024}$/;

function word(w: string | number): string {
  const s = String(w);
  if (!WORD.test(s)) throw new Error(`not a plain word for the container shell: ${JSON.stringify(s).slice(0, 80)}`);
  return s;
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64');

/** Pure: the request lines of one batch (the last one `end ID`). */
export function encodeBatch(ops: readonly ShellOp[], id: string): string {
  const lines: string[] = [];
  const line = (...words: (string | number)[]): number => lines.push(words.map(word).join(' '));
  for (const o of ops) {
    switch (o.op) {
      case 'dir':
      case 'file':
      case 'mktree':
      case 'rmtree':
      case 'exists':
      case 'read':
      case 'size':
        line(o.op, o.path);
        break;
      case 'mkdir':
      case 'mkdirp':
        line(o.op, o.path, mode(o.mode));
        break;
      case 'put':
        line(o.op, o.path, mode(o.mode));
        lines.push(b64(o.data));
        break;
      case 'copy':
        line(o.op, o.from, o.to, mode(o.mode));
        break;
      case 'move':
        line(o.op, o.from, o.to);
        break;
      case 'holds':
        line(o.op, o.path, o.text);
        break;
      case 'sync':
        if (o.paths.length > 0) line(o.op, ...o.paths);
        break;
      case 'since':
        line(o.op, o.path, Math.max(0, Math.floor(o.offset)));
        break;
      case 'last':
        line(o.op, o.path, Math.max(1, Math.floor(o.bytes)));
        break;
      case 'http':
        line(o.op, Math.max(1, Math.ceil(o.timeoutSeconds)), o.insecure ? 'insecure' : 'verify', o.url);
        lines.push(b64(o.headers.map((h) => `${h}\n`).join('')));
        break;
      case 'nginx':
        line(o.op, ...o.argv);
        break;
      case 'ps':
        line(o.op);
        break;
    }
  }
  line('end', id);
  return `${lines.join('\n')}\n`;
}

const mode = (m: number): string => m.toString(8).padStart(4, '0');

/** What one request answered: its kind's words after the index (`1`, `0`, a size, an exit code) and its payload. */
export interface ShellRecord {
  readonly index: number;
  readonly words: readonly string[];
  readonly data: Buffer;
}

/** How a batch ended. */
export type BatchEnd =
  | { readonly ok: true }
  | { readonly ok: false; readonly unsafe: { readonly path: string; readonly what: string } | null; readonly message: string };

/** Pure: the `@@ ID ...` line that ends a batch (null: not that line). */
export function batchEnd(line: string, id: string): BatchEnd | null {
  const prefix = `@@ ${id} `;
  if (!line.startsWith(prefix)) return null;
  const rest = line.slice(prefix.length);
  if (rest === 'ok') return { ok: true };
  const why = rest.replace(/^fail ?/, '');
  const unsafe = /^unsafe (\S+) (.+)$/.exec(why);
  if (unsafe) return { ok: false, unsafe: { path: unsafe[1] ?? '', what: unsafe[2] ?? '' }, message: why };
  return { ok: false, unsafe: null, message: why.replace(/^error /, '') || 'failed' };
}

/** Pure: collects the records of a batch from its answer lines (those before the end line). */
export class RecordReader {
  private readonly done: ShellRecord[] = [];
  private current: { index: number; words: string[]; chunks: string[] } | null = null;

  push(line: string): void {
    if (line.startsWith('@ ')) {
      this.flush();
      const [index = '0', , ...words] = line.slice(2).split(' ');
      this.current = { index: Number(index), words, chunks: [] };
    } else if (this.current && line !== '') this.current.chunks.push(line);
  }

  records(): ShellRecord[] {
    this.flush();
    return this.done;
  }

  private flush(): void {
    if (this.current === null) return;
    const { index, words, chunks } = this.current;
    this.done.push({ index, words, data: Buffer.from(chunks.join(''), 'base64') });
    this.current = null;
  }
}

/**
 * Pure: the `ps` answer (`PID PPID TITLE` lines of nginx processes) → the master and its workers; null: no
 * master. `conf`: a master whose title names that config wins (a container sharing the host's process
 * list shows other masters too).
 */
export function parsePs(
  text: string,
  conf?: string,
): { master: number; workers: { pid: number; title: string; shuttingDown: boolean }[] } | null {
  const rows = text
    .split('\n')
    .map((l) => /^(\d+) (\d+) (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), title: (m[3] ?? '').trim() }));
  const masters = rows.filter((r) => r.title.startsWith('nginx: master process'));
  const master = masters.find((r) => conf !== undefined && ` ${r.title} `.includes(` ${conf} `)) ?? masters[0];
  if (!master) return null;
  const workers = rows
    .filter((r) => r.ppid === master.pid && r.title.includes('worker process'))
    .map((r) => ({ pid: r.pid, title: r.title, shuttingDown: r.title.includes('is shutting down') }));
  return { master: master.pid, workers };
}
