import { X509Certificate, createPrivateKey } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import type { Config } from '../config/schema.js';

/** Enough for any certificate chain or key; a bigger file is not one. */
const MAX_BYTES = 1024 * 1024;

async function readPem(what: string, file: string): Promise<string> {
  let handle;
  try {
    // O_NOFOLLOW | O_NONBLOCK: a planted link or a FIFO is refused, never followed or waited on
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ELOOP' ? 'is a symbolic link' : code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    throw new UsageError(`tls.${what}: ${file} ${why}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new UsageError(`tls.${what}: ${file} is not a regular file`);
    if (st.size > MAX_BYTES) throw new UsageError(`tls.${what}: ${file} is too big for a PEM file (${st.size} bytes)`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * tls.certificate and tls.key: readable PEM files, the key matching the certificate, and (docker) inside
 * nginx.dir, which is what the container sees. UsageError (exit 2) before anything is written; an
 * expired certificate is allowed (NGINX serves it) but reported through `warn`.
 */
export async function checkTls(config: Config, warn: (msg: string, fields: Record<string, unknown>) => void): Promise<void> {
  const tls = config.tls;
  if (!tls) return;
  if (config.nginx.driver === 'docker') {
    const dir = `${config.nginx.dir.replace(/\/+$/, '')}/`;
    for (const [what, file] of [
      ['certificate', tls.certificate],
      ['key', tls.key],
    ] as const) {
      if (!file.startsWith(dir))
        throw new UsageError(`tls.${what}: ${file} is outside nginx.dir (${dir}); the docker driver's container only sees that folder`);
    }
  }
  const [certPem, keyPem] = await Promise.all([readPem('certificate', tls.certificate), readPem('key', tls.key)]);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new UsageError(`tls.certificate: ${tls.certificate} is not a PEM certificate (${(e as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new UsageError(`tls.key: ${tls.key} is not a PEM private key (${(e as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) throw new UsageError(`tls.key: ${tls.key} does not match the certificate ${tls.certificate}`);
  if (Date.parse(cert.validTo) < Date.now()) warn('the TLS certificate has expired', { file: tls.certificate, validTo: cert.validTo });
}
