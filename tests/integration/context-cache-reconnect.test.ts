// The inference gateway's key-context cache on the real Redis: a revocation notice published while
// its subscription is down never arrives, so the cache drops every entry when the subscription
// comes back, and the revoked key is refused at once instead of until CONTEXT_CACHE_TTL_MS.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextCache } from '../../gateways/inference/context-cache.js';
import { channels, createRedis, type Redis } from '../../lib/redis.js';
import { testConfig, uniq, waitFor } from '../helpers/env.js';

let server: Server;
let url: string;
let publisher: Redis;
let subscriber: Redis;
const revoked = new Set<string>();
const calls: string[] = [];

beforeAll(async () => {
  const config = testConfig();
  // A stand-in for the filtration gateway's /internal/context: a key is good until revoked.
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const key = (JSON.parse(body) as { api_key: string }).api_key;
      calls.push(key);
      const ok = !revoked.has(key);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { org_id: 'o', api_key_id: 'k', key_prefix: key, scopes: [], allowed_models: [], rpm_limit: null, tpm_limit: null, expires_at: null, groups: [], email_domain: null, guardrails: [], limits: [], fallback_models: [] } : { error: {} }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  publisher = createRedis(config.redisUrl, 'context-cache-pub');
  subscriber = createRedis(config.redisUrl, 'context-cache-sub');
  subscriber.on('error', () => undefined);
});

afterAll(async () => {
  publisher?.disconnect();
  subscriber?.disconnect();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

describe('key context cache and its subscription', () => {
  it('drops every entry when the subscription comes back, so a revocation sent meanwhile is not missed', async () => {
    const cache = new ContextCache({ filtrationUrl: url, serviceToken: 'svc', ttlMs: 600_000 });
    await cache.subscribe(subscriber);
    const key = uniq('sk-reconnect');
    const other = uniq('sk-other');
    await cache.resolve(key);
    await cache.resolve(other);
    await cache.resolve(key);
    expect(calls.filter((k) => k === key)).toHaveLength(1);

    // A notice while connected arrives: only that key is dropped.
    revoked.add(other);
    await publisher.publish(channels.apiKeys, other);
    await waitFor(async () => cache.size === 1, 5000, 10);
    await expect(cache.resolve(other)).rejects.toMatchObject({ code: 'unauthorized' });

    // The subscription drops; the key is revoked and its notice published while it is down.
    const back = once(subscriber, 'ready');
    subscriber.disconnect(true);
    revoked.add(key);
    await publisher.publish(channels.apiKeys, key);
    await back;
    await waitFor(async () => cache.size === 0, 5000, 10);
    await expect(cache.resolve(key)).rejects.toMatchObject({ code: 'unauthorized' });

    // And the subscription works again after the reconnection.
    const fresh = uniq('sk-fresh');
    await cache.resolve(fresh);
    revoked.add(fresh);
    await publisher.publish(channels.apiKeys, fresh);
    await expect.poll(() => cache.resolve(fresh).then(() => 'served', () => 'refused'), { timeout: 5000, interval: 20 }).toBe('refused');
  });
});
