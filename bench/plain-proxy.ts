// The baseline: the least a Node reverse proxy can do. No parsing, no policy: headers copied, the
// body piped both ways, upstream connections kept alive. Whatever the gateway costs beyond this is
// the price of its chain. Run as its own process (BENCH_PORT, BENCH_UPSTREAM_URL).
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { listen } from './mock-upstream.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are not forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out = { ...headers };
  for (const h of HOP_BY_HOP) delete out[h];
  return out;
}

export function createPlainProxy(upstream: string): Server {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 256, noDelay: true });
  const server = createServer((req, res) => {
    const upstreamReq = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...endToEnd(req.headers), host: target.host },
        agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, endToEnd(upstreamRes.headers));
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end();
    });
    req.pipe(upstreamReq);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.BENCH_PORT);
  const upstream = process.env.BENCH_UPSTREAM_URL;
  if (!Number.isInteger(port) || port <= 0 || !upstream) throw new Error('set BENCH_PORT and BENCH_UPSTREAM_URL');
  const server = createPlainProxy(upstream);
  await listen(server, port);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => server.close(() => process.exit(0)).closeAllConnections());
}
