import type { Config } from './schema.js';

/** Hosts that are this machine whatever NGINX binds. */
const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]', '*']);

const split = (server: string): { host: string; port: number } => {
  const i = server.lastIndexOf(':');
  return { host: server.slice(0, i).toLowerCase(), port: Number(server.slice(i + 1)) };
};

/**
 * Pure: servers of a color that NGINX's own `listen` would take (same port on this machine): NGINX
 * could not start, or would proxy to itself. Returns one problem per such server.
 */
export function listenClashes(
  c: Pick<Config, 'listen' | 'listenAddress' | 'environments'> & { readonly nginx?: Pick<Config['nginx'], 'driver'> },
): { path: (string | number)[]; text: string }[] {
  const out: { path: (string | number)[]; text: string }[] = [];
  // a container has its own network: its listen port takes nothing from the apps (docker driver)
  if (c.nginx?.driver === 'docker') return out;
  for (const color of ['blue', 'green'] as const) {
    c.environments[color].servers.forEach((server, i) => {
      const { host, port } = split(server);
      if (port !== c.listen) return;
      // a wildcard listen binds this machine's addresses only: another host's port is no clash
      const local = LOCAL.has(host) || host.startsWith('127.') || host === c.listenAddress.toLowerCase();
      if (!local) return;
      out.push({
        path: ['environments', color, 'servers', i],
        text: `environments.${color}.servers[${i}]: ${server} is the port NGINX listens on (listen: ${c.listen}); give the backend or \`listen\` another port`,
      });
    });
  }
  return out;
}

/** Pure: migration.warmup sends forced requests, so it needs a forced-route header to send them with. */
export function warmupProblems(c: Pick<Config, 'migration' | 'routing'>): { path: (string | number)[]; text: string }[] {
  if (!c.migration.warmup.enabled || c.routing.forceHeader !== null) return [];
  return [
    {
      path: ['migration', 'warmup', 'enabled'],
      text: 'migration.warmup.enabled: needs routing.forceHeader (warmup requests reach the new color through the forced route)',
    },
  ];
}
