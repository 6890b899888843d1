import { X509Certificate, createPrivateKey } from 'node:crypto';
import { UsageError } from '../core/errors.js';
import type { Config } from '../config/schema.js';
import { readRegular } from './safe-fs.js';

/** A regular file's text, read without following a link or waiting on a FIFO (safe-fs); any problem is exit 2 naming it. */
async function readPem(what: string, file: string): Promise<string> {
  let text: string | null;
  try {
    text = await readRegular(file);
  } catch (e) {
    throw new UsageError(`tls.${what}: ${file} cannot be used (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (text === null) throw new UsageError(`tls.${what}: ${file} does not exist`);
  return text;
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
