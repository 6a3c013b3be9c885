import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ContextCache } from './context-cache.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A stand-in for the filtration gateway's POST /internal/context. */
async function filtration(answer: (key: string, auth: string | undefined) => { status: number; body?: unknown }) {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const key = (JSON.parse(body) as { api_key: string }).api_key;
      calls.push(key);
      const a = answer(key, req.headers.authorization);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body ?? { error: {} }));
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const context = { org_id: 'o', api_key_id: 'k', key_prefix: 'p', scopes: [], allowed_models: [], rpm_limit: null, tpm_limit: null, expires_at: null, groups: [], email_domain: null, guardrails: [], limits: [] };

describe('key context cache', () => {
  it('asks the filtration gateway once per key with the service token, then answers from memory', async () => {
    const f = await filtration((key, auth) => (auth === 'Bearer svc' && key === 'good' ? { status: 200, body: context } : { status: 401 }));
    const cache = new ContextCache({ filtrationUrl: f.url, serviceToken: 'svc', ttlMs: 60_000 });
    expect(cache.cached('good')).toBeUndefined(); // not known yet: resolve it
    const [a, b] = await Promise.all([cache.resolve('good'), cache.resolve('good')]);
    expect(a).toEqual(context);
    expect(await cache.resolve('good')).toBe(b);
    expect(cache.cached('good')).toBe(b); // known: at once, without a promise
    expect(f.calls).toEqual(['good']);
  });

  it('remembers an unknown key for a while, and says unavailable when the filtration gateway fails', async () => {
    const f = await filtration((key) => (key === 'boom' ? { status: 500 } : { status: 401 }));
    const cache = new ContextCache({ filtrationUrl: f.url, serviceToken: 'svc', ttlMs: 60_000 });
    await expect(cache.resolve('bad')).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(cache.resolve('bad')).rejects.toMatchObject({ code: 'unauthorized' });
    expect(() => cache.cached('bad')).toThrow(expect.objectContaining({ code: 'unauthorized' }));
    expect(f.calls).toEqual(['bad']);
    await expect(cache.resolve('boom')).rejects.toMatchObject({ code: 'unavailable', message: 'policy service error' });
    const gone = new ContextCache({ filtrationUrl: 'http://127.0.0.1:9', serviceToken: 'svc', ttlMs: 60_000 });
    await expect(gone.resolve('any')).rejects.toMatchObject({ code: 'unavailable', message: 'policy service unreachable' });
  });
});
