import { request } from 'undici';

/** One JSON POST to a running `bgctl serve` (loopback by default), with its bearer token. */
export async function postJson(
  url: string,
  token: string | null,
  body: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; json: unknown }> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = { error: { message: text.slice(0, 200) } };
  }
  return { status: res.statusCode, json };
}
