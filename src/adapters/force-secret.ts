import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { PreflightError } from '../core/errors.js';
import { SECRET_RE } from '../config/patterns.js';

/**
 * The forced-route secret bgctl uses when `routing.forceSecret` is not configured: `stateDir/force-secret`,
 * made once (32 random URL-safe characters, mode 0600, created exclusively, never through a symlink) and
 * read by every later command, so NGINX and all of bgctl's own callers agree on it. Loopback alone is
 * never enough to force a color or read `/__bgctl/`: a proxy on the same host makes every client loopback.
 */

export const FORCE_SECRET_FILE = 'force-secret';
/** the request header that opens `/__bgctl/status` and `/__bgctl/health/COLOR` (with loopback) */
export const SECRET_HEADER = 'X-Bgctl-Secret';
const SECRET = SECRET_RE;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export async function ensureForceSecret(stateDir: string): Promise<string> {
  const file = join(stateDir, FORCE_SECRET_FILE);
  const found = await readSecret(file);
  if (found !== null) return found;
  // the default mode, like the state store: nginx.dir may live inside stateDir, and NGINX's workers enter it
  await mkdir(stateDir, { recursive: true });
  const secret = randomBytes(24).toString('base64url');
  try {
    const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
    try {
      await fh.writeFile(`${secret}\n`, 'utf8');
      await fh.chmod(0o600);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return secret;
  } catch (e) {
    // another bgctl made it first: use theirs
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readSecret(file);
      if (theirs !== null) return theirs;
    }
    throw refused(file, e);
  }
}

async function readSecret(file: string): Promise<string | null> {
  let text: string;
  try {
    const fh = await open(file, constants.O_RDONLY | NOFOLLOW);
    try {
      if (!(await fh.stat()).isFile()) throw new Error('not a regular file');
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw refused(file, e);
  }
  const secret = text.trim();
  if (!SECRET.test(secret)) {
    throw new PreflightError(`${file} does not hold a usable forced-route secret (16-128 of A-Z a-z 0-9 . _ ~ -)`, {
      hint: `remove ${file}; bgctl makes a new one (then run \`bgctl start\` so NGINX uses it)`,
    });
  }
  return secret;
}

function refused(file: string, e: unknown): PreflightError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message;
  return new PreflightError(`cannot use the forced-route secret ${file}: ${why}`, {
    hint: `make ${file} a regular file bgctl can read (or remove it), or set routing.forceSecret`,
    cause: e,
  });
}
