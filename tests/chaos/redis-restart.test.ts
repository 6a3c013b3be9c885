// Chaos 2 — Redis taken away under the running platform, first frozen (SIGSTOP: connections stay open and
// nothing answers), then killed, then started again. The documented choice: with
// LIMITER_FAILURE_MODE=closed (the default) a request is refused with 503 `rate_limiter_unavailable`
// in OpenAI's error shape, in bounded time (requests counted already, in a lease of a large limit's
// counter, are served until it expires: LIMITER_LEASE_MS); with `open` it is served, uncounted. Once Redis is back,
// limits count again from where they were, the log entries the gateways buffered in memory reach
// Postgres exactly once, and key revocations reach the gateways again (they resubscribed). The Redis
// is this test's own; Postgres is the run's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../bin/api-client.js';
import type { Config } from '../../lib/config.js';
import { generateApiKey, parseApiKey } from '../../lib/crypto.js';
import { createDb, type Db } from '../../lib/db.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq, waitFor } from '../helpers/env.js';
import { chat, platformEnv, startPlatform, type ChatResult, type Platform } from '../helpers/platform.js';
import { privateDir, privateRedis, type PrivateRedis } from '../helpers/private-services.js';

/** What a caller may wait for a refusal: the gateway's Redis command timeout (2 s) and slack for a loaded machine. */
const BOUND_MS = 10_000;
const CONTEXT_TTL_MS = 15_000;
/** How long a gateway may serve from a lease of a counter it holds (the main key's RPM is large enough to be leased). */
const LEASE_MS = 1000;

let folder: ReturnType<typeof privateDir>;
let redis: PrivateRedis;
let config: Config;
let db: Db;
let org: DemoCredentials;
let platform: Platform;
let closed: string;
let open: string;
/** Keys: a daily quota of 4 requests; one revoked through the API; one revoked with its notice lost. */
const keys = { quota: '', revoked: '', revokedId: '', lost: '', lostId: '' };
/** Every answer that went through the pipeline (so has a log entry), by phase. */
const seen: { phase: string; gateway: 'closed' | 'open'; result: ChatResult }[] = [];

async function newKey(name: string): Promise<{ key: string; id: string }> {
  const k = generateApiKey(config.secrets.apiKeyPepper);
  const row = await db.apiKey.create({ data: { orgId: org.org_id, userId: org.user_id, name, prefix: k.prefix, keyHash: k.hash, scopes: ['inference'] } });
  return { key: k.key, id: row.id };
}

async function send(phase: string, gateway: 'closed' | 'open', key: string, options: { stream?: boolean } = {}): Promise<ChatResult> {
  const result = await chat(gateway === 'closed' ? closed : open, key, { ...options, content: `${phase} via ${gateway}`, timeoutMs: 30_000 });
  if (result.status !== 401) seen.push({ phase, gateway, result });
  return result;
}

function expectLimiterUnavailable(r: ChatResult) {
  expect({ status: r.status, error: r.error }).toEqual({
    status: 503,
    error: { message: expect.any(String), type: 'api_error', param: null, code: 'rate_limiter_unavailable' },
  });
  expect(r.ms).toBeLessThan(BOUND_MS);
}

function expectServed(r: ChatResult) {
  expect(r.status).toBe(200);
  expect(r.content).toMatch(/^This is the mock engine serving mock\. You said: /);
  expect(r.ms).toBeLessThan(BOUND_MS);
}

const slowest = (phase: string, gateway: 'closed' | 'open') =>
  Math.round(Math.max(...seen.filter((s) => s.phase === phase && s.gateway === gateway).map((s) => s.result.ms)));

beforeAll(async () => {
  folder = privateDir('redis-outage');
  redis = await privateRedis(folder.dir);
  const overrides = platformEnv(
    { REDIS_URL: redis.url, TEMPORAL_TASK_QUEUE: uniq('redis-outage'), CONTEXT_CACHE_TTL_MS: String(CONTEXT_TTL_MS), LIMITER_LEASE_MS: String(LEASE_MS) },
    folder.dir,
  );
  config = testConfig(overrides);
  db = createDb(config.databaseUrl, { max: 3 });
  const slug = uniq('redisout');
  org = await seedOrg(db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  await db.apiKey.update({ where: { prefix: parseApiKey(org.api_key)!.prefix }, data: { rpmLimit: 1_000_000 } });
  const quota = await newKey('daily quota');
  await db.quota.create({ data: { orgId: org.org_id, apiKeyId: quota.id, period: 'day', requestLimit: 4 } });
  keys.quota = quota.key;
  const revoked = await newKey('revoked after the restart');
  keys.revoked = revoked.key;
  keys.revokedId = revoked.id;
  const lost = await newKey('revoked while Redis is down');
  keys.lost = lost.key;
  keys.lostId = lost.id;

  platform = await startPlatform(config, { ...process.env, ...overrides }, org);
  closed = platform.stack.urls.inference;
  open = await platform.startInference('inference-open', { LIMITER_FAILURE_MODE: 'open' });
}, 300_000);

afterAll(async () => {
  if (redis) await redis.start().catch(() => undefined); // a failed test may leave it frozen or dead
  await platform?.stop();
  await db?.$disconnect();
  redis?.stop();
  folder?.remove();
}, 120_000);

describe('chaos: Redis frozen, killed and restarted under the running platform', () => {
  it('serves and counts while Redis is up', async () => {
    for (const gateway of ['closed', 'open'] as const) {
      expectServed(await send('before', gateway, org.api_key));
      expectServed(await send('before', gateway, org.api_key, { stream: true }));
      expectServed(await send('before', gateway, keys.revoked)); // their contexts are now cached
      expectServed(await send('before', gateway, keys.lost));
    }
    // Two of the quota key's four requests today.
    expectServed(await send('before', 'closed', keys.quota));
    expectServed(await send('before', 'closed', keys.quota));
  });

  it('frozen Redis → LIMITER_FAILURE_MODE=closed answers 503 rate_limiter_unavailable within 10 s, open serves 200', async () => {
    redis.signal('SIGSTOP');
    await new Promise((r) => setTimeout(r, LEASE_MS + 500)); // what was leased before the freeze is spent or expired
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => send('frozen', 'closed', org.api_key, { stream: i % 2 === 0 })));
    burst.forEach(expectLimiterUnavailable);
    expectLimiterUnavailable(await send('frozen', 'closed', org.api_key));
    expectServed(await send('frozen', 'open', org.api_key));
    expectServed(await send('frozen', 'open', org.api_key, { stream: true }));

    const ready = await fetch(`${closed}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { redis: false } });
    // Sessions cannot be checked: the management API refuses (fails closed), and says why.
    const refused = await platform.api.filtration('DELETE', `/management/api-keys/${keys.revokedId}`).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
  }, 120_000);

  it('killed Redis → the same (closed 503 within 10 s, open 200), refused requests are not counted', async () => {
    const pid = redis.pid();
    redis.signal('SIGKILL');
    await waitFor(async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    for (let i = 0; i < 3; i++) {
      expectLimiterUnavailable(await send('killed', 'closed', org.api_key));
      expectServed(await send('killed', 'open', org.api_key, { stream: i === 1 }));
    }
    // Revoked in the database while no notice can be sent (as when a gateway misses one).
    await db.apiKey.update({ where: { id: keys.lostId }, data: { revokedAt: new Date() } });
    // Refused requests are not counted: neither now nor when the connection comes back.
    expectLimiterUnavailable(await send('killed', 'closed', keys.quota));
    expectLimiterUnavailable(await send('killed', 'closed', keys.quota));
  }, 120_000);

  it('Redis restarted → serving again within 30 s, limits where they were, every log stored exactly once (none lost), revocations heard again', async () => {
    await redis.start();
    const restartedAt = Date.now();
    await waitFor(async () => (await send('after', 'closed', org.api_key)).status === 200, 30_000, 250);
    const backAfterMs = Date.now() - restartedAt;
    expectServed(await send('after', 'open', org.api_key));

    // The day's count survived the restart (append-only file): 2 before, 2 now, then refused.
    expectServed(await send('after', 'closed', keys.quota));
    expectServed(await send('after', 'closed', keys.quota));
    const overQuota = await send('after', 'closed', keys.quota);
    expect(overQuota.status).toBe(429);
    expect(overQuota.error).toMatchObject({ type: 'rate_limit_error', code: 'insufficient_quota' });

    // Every request the gateways answered, refused ones included, is in Postgres exactly once.
    const ids = seen.map((s) => s.result.requestId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    const logsFrom = Date.now();
    const stored = await waitFor(
      async () => {
        const rows = await db.inferenceLog.groupBy({ by: ['requestId'], where: { requestId: { in: ids as string[] } }, _count: { _all: true } });
        return rows.length === new Set(ids).size ? rows : undefined;
      },
      60_000,
      500,
    );
    expect(stored.filter((r) => r._count._all !== 1)).toEqual([]);
    const outage = seen.filter((s) => s.phase === 'frozen' || s.phase === 'killed');
    const statuses = await db.inferenceLog.findMany({ where: { requestId: { in: outage.map((s) => s.result.requestId!) } }, select: { requestId: true, statusCode: true } });
    expect(new Map(statuses.map((r) => [r.requestId, r.statusCode]))).toEqual(new Map(outage.map((s) => [s.result.requestId, s.result.status])));

    // Revocations announced now reach both gateways: their subscriptions came back with Redis.
    // (The filtration gateway reconnects on its own schedule: until then it answers 503.)
    await waitFor(async () => platform.api.filtration('DELETE', `/management/api-keys/${keys.revokedId}`).then(() => true), 15_000, 250);
    const revokedAt = Date.now();
    for (const gateway of ['closed', 'open'] as const) {
      await waitFor(async () => (await send('after', gateway, keys.revoked)).status === 401, 5_000, 50);
    }
    const revocationMs = Date.now() - revokedAt;
    // The revocation nobody could announce ends when the cached context expires.
    for (const gateway of ['closed', 'open'] as const) {
      await waitFor(async () => (await send('after', gateway, keys.lost)).status === 401, CONTEXT_TTL_MS + 15_000, 250);
    }

    console.log(
      `[redis-outage] frozen: closed 503 in ≤ ${slowest('frozen', 'closed')} ms, open 200 in ≤ ${slowest('frozen', 'open')} ms; ` +
        `killed: closed 503 in ≤ ${slowest('killed', 'closed')} ms, open 200 in ≤ ${slowest('killed', 'open')} ms; ` +
        `serving again ${backAfterMs} ms after the restart; ${outage.length} requests during the outage, ${stored.length} log rows in all, each once, ` +
        `complete ${Date.now() - logsFrom} ms after the last check; revocation heard in ${revocationMs} ms`,
    );
  }, 180_000);
});
