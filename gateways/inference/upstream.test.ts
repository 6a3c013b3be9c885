import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPool } from './upstream.js';

const servers: Server[] = [];
const pools: UpstreamPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function pool() {
  const p = new UpstreamPool();
  pools.push(p);
  return p;
}

describe('upstream pool', () => {
  it('posts JSON to origin + path and reuses its connections', async () => {
    const ports = new Set<number>();
    const url = await listen(
      createHttpServer((req, res) => {
        ports.add(req.socket.remotePort!);
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          res.writeHead(201, { 'content-type': 'application/json', 'x-seen': `${req.url} ${req.headers['content-type']} ${req.headers['x-request-id']}` });
          res.end(body);
        });
      }),
    );
    const p = pool();
    for (let i = 0; i < 20; i++) {
      const r = await p.post(`${url}/base/`, '/v1/x', '{"a":1}', { headers: { 'x-request-id': `r${i}` }, timeoutMs: 2000 });
      expect(r.status).toBe(201);
      expect(r.ok).toBe(true);
      expect(r.headers['x-seen']).toBe(`/base/v1/x application/json r${i}`);
      expect(await r.text()).toBe('{"a":1}');
    }
    expect(ports.size).toBeLessThanOrEqual(2); // one call at a time: its connections are reused
  });

  it('streams the body as it arrives', async () => {
    const url = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: 2\n\n'), 30);
      }),
    );
    const r = await pool().post(url, '/s', '{}', { timeoutMs: 2000 });
    const chunks: string[] = [];
    for await (const c of r.body) chunks.push(String(c));
    expect(chunks).toEqual(['data: 1\n\n', 'data: 2\n\n']);
  });

  it('hands over what arrived together in one piece (an SSE burst is not split event by event)', async () => {
    const events = Array.from({ length: 20 }, (_, i) => `data: {"i":${i}}\n\n`);
    const url = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of events) res.write(e); // chunked encoding: 20 chunks, mostly in one write
        res.end();
      }),
    );
    const r = await pool().post(url, '/s', '{}', { timeoutMs: 2000 });
    const pieces: string[] = [];
    for await (const c of r.body) pieces.push(String(c));
    expect(pieces.join('')).toBe(events.join(''));
    expect(pieces.length).toBeLessThan(events.length / 2);
  });

  it('fails a call that does not finish in time, before or during the body', async () => {
    const url = await listen(
      createHttpServer((req, res) => {
        if (req.url === '/silent') return;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
      }),
    );
    const p = pool();
    await expect(p.post(url, '/silent', '{}', { timeoutMs: 100 })).rejects.toThrow(/within 100 ms/);
    const r = await p.post(url, '/slow', '{}', { timeoutMs: 100 });
    await expect(
      (async () => {
        for await (const _ of r.body) void _;
      })(),
    ).rejects.toThrow(/within 100 ms/);
  });

  it('aborts a call while its body streams, closing the connection to the replica', async () => {
    let closed: Promise<unknown> = Promise.resolve();
    const url = await listen(
      createHttpServer((_req, res) => {
        closed = once(res, 'close');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
      }),
    );
    const abort = new AbortController();
    const r = await pool().post(url, '/', '{}', { timeoutMs: 5000, signal: abort.signal });
    const reading = (async () => {
      for await (const _ of r.body) abort.abort();
    })();
    await expect(reading).rejects.toThrow(/abort/i);
    await closed;
    await expect(pool().post(url, '/', '{}', { timeoutMs: 5000, signal: abort.signal })).rejects.toThrow(/abort/i);
  });

  it('reports a body cut short by the replica as an error', async () => {
    const url = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
        res.write('{"partial":');
        setTimeout(() => res.socket?.destroy(), 20);
      }),
    );
    const r = await pool().post(url, '/', '{}', { timeoutMs: 2000 });
    await expect(r.text()).rejects.toThrow();
  });

  it('holds a large body for a slow reader without losing a byte (the connection pauses, then resumes)', async () => {
    const big = Buffer.alloc(1024 * 1024, 'abcdefghij');
    const url = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'set-cookie': ['a=1', 'b=2'] });
        let sent = 0;
        const more = () => {
          while (sent < big.length) {
            const piece = big.subarray(sent, sent + 16 * 1024);
            sent += piece.length;
            if (!res.write(piece)) return void res.once('drain', more);
          }
          res.end();
        };
        more();
      }),
    );
    const p = pool();
    const whole = await p.post(url, '/', '{}', { timeoutMs: 5000 });
    expect(whole.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    await new Promise((r) => setTimeout(r, 50)); // nobody reads yet: the call holds what fits, then waits
    expect((await whole.text()).length).toBe(big.length);
    const streamed = await p.post(url, '/', '{}', { timeoutMs: 5000 });
    let bytes = 0;
    for await (const chunk of streamed.body) {
      bytes += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    expect(bytes).toBe(big.length);
  });

  it('gives up on a call still waiting for a connection when its time is up', async () => {
    const url = await listen(createHttpServer(() => undefined)); // never answers
    const p = new UpstreamPool({ maxSocketsPerOrigin: 1 });
    pools.push(p);
    let firstSettled = false;
    const first = p.post(url, '/', '{}', { timeoutMs: 300 }).finally(() => (firstSettled = true));
    // The second call waits behind the first for the one connection; it fails at its own deadline,
    // before the first call's (which would free the connection) has come.
    await expect(p.post(url, '/', '{}', { timeoutMs: 100 })).rejects.toThrow(/within 100 ms/);
    expect(firstSettled).toBe(false);
    await expect(first).rejects.toThrow(/within 300 ms/);
  });

  it('drops the pools of replicas that went away', async () => {
    const handler = createHttpServer((_req, res) => res.end('{}'));
    const a = await listen(handler);
    const b = await listen(createHttpServer((_req, res) => res.end('{}')));
    const p = pool();
    await (await p.post(a, '/', '{}', { timeoutMs: 2000 })).discard();
    await (await p.post(b, '/', '{}', { timeoutMs: 2000 })).discard();
    expect(p.origins().sort()).toEqual([a, b].sort());
    const connections = () => new Promise<number>((r) => handler.getConnections((_e, n) => r(n)));
    expect(await connections()).toBe(1);
    p.retain([b]);
    expect(p.origins()).toEqual([b]);
    for (let i = 0; i < 50 && (await connections()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await connections()).toBe(0);
  });
});
