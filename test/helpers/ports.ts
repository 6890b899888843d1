import { createServer, type Server } from 'node:net';

function listenOnZero(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it; there is no reservation). */
export async function freePort(): Promise<number> {
  const server = await listenOnZero();
  const port = portOf(server);
  await close(server);
  return port;
}

/** n distinct free ports: all sockets are held open together, so the kernel cannot hand one out twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenOnZero());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}
