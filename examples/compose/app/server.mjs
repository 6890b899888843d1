// The example app of docker-compose.yml: one color of the blue-green pair, no dependencies.
// APP_COLOR names the color, APP_VERSION the version (bgctl's deploy hook sets it through
// `docker compose up -d --no-deps app-<color>`); GET /health reports both. Replace it with your app.
import { createServer } from 'node:http';

const color = process.env.APP_COLOR ?? 'blue';
const version = process.env.APP_VERSION ?? '0.0.0';
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';

const server = createServer((req, res) => {
  const body = JSON.stringify(req.url === '/health' ? { status: 'ok', color, version } : { color, version, path: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(port, host, () => console.log(`app ${color} ${version} listening on ${host}:${port}`));

// as PID 1 in a container node gets no default signal handling: stop cleanly on `docker stop`
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
