// Chaos 3 — Postgres stopped under load (`pg_ctl stop -m fast`, then started again) beneath the running
// platform: the inference hot path keeps serving from memory (routes, key contexts, limits and logs
// in Redis), a key never seen before is refused with 503, and afterwards every request a client got
// an `x-request-id` for has exactly one row in `inference_logs`. The cluster is this test's own: the
// run's shared Postgres is never stopped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { generateApiKey, parseApiKey } from '../../lib/crypto.js';
import { createDb, type Db } from '../../lib/db.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq, waitFor } from '../helpers/env.js';
import { chat, platformEnv, startPlatform, type ChatResult, type Platform } from '../helpers/platform.js';
import { privateDir, privatePostgres, privateRedis, type PrivatePostgres, type PrivateRedis } from '../helpers/private-services.js';

let folder: ReturnType<typeof privateDir>;
let postgres: PrivatePostgres;
let redis: PrivateRedis;
let config: Config;
let db: Db;
let org: DemoCredentials;
let platform: Platform;
/** A valid key no gateway has seen: its context cannot be looked up while Postgres is down. */
let unseenKey: string;

beforeAll(async () => {
  folder = privateDir('pg-outage');
  postgres = await privatePostgres(folder.dir);
  redis = await privateRedis(folder.dir);
  const overrides = platformEnv(
    {
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      TEMPORAL_TASK_QUEUE: uniq('pg-outage'),
      // Cached contexts outlive the whole test: the outage is bounded by this TTL, not the test's pace.
      CONTEXT_CACHE_TTL_MS: '600000',
    },
    folder.dir,
  );
  config = testConfig(overrides);
  db = createDb(postgres.url, { max: 3 });
  const slug = uniq('pgout');
  org = await seedOrg(db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  // Metered like a real key: every request goes through the limiter.
  await db.apiKey.update({ where: { prefix: parseApiKey(org.api_key)!.prefix }, data: { rpmLimit: 1_000_000 } });
  const unseen = generateApiKey(config.secrets.apiKeyPepper);
  await db.apiKey.create({ data: { orgId: org.org_id, userId: org.user_id, name: 'unseen', prefix: unseen.prefix, keyHash: unseen.hash, scopes: ['inference'] } });
  unseenKey = unseen.key;
  platform = await startPlatform(config, { ...process.env, ...overrides }, org);
}, 300_000);

afterAll(async () => {
  if (postgres && !(await postgres.answers())) await postgres.start();
  await platform?.stop();
  await db?.$disconnect();
  redis?.stop();
  postgres?.stop();
  folder?.remove();
}, 120_000);

type Phase = 'before' | 'outage' | 'after';

describe('chaos: Postgres stopped under load', () => {
  it('Postgres stopped ~8 s under load → every request answered 200, every log stored exactly once within 90 s of the restart, deployment still RUNNING', async () => {
    const inference = platform.stack.urls.inference;
    const results: (ChatResult & { phase: Phase })[] = [];
    let phase: Phase = 'before';
    let running = true;
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        const started = phase;
        const r = await chat(inference, org.api_key, { stream: (i + n) % 3 === 0, content: `client ${n} request ${i}` });
        results.push({ ...r, phase: started });
      }
    };
    const count = (p: Phase) => results.filter((r) => r.phase === p).length;
    const clients = [0, 1, 2, 3].map(client);

    await waitFor(async () => count('before') >= 20, 60_000, 50);
    postgres.stop();
    const stoppedAt = Date.now();
    phase = 'outage';
    expect(await postgres.answers()).toBe(false);

    // A key with no cached context: the filtration gateway cannot look it up. 503, never 500.
    const unseen = await chat(inference, unseenKey);
    expect(unseen.status).toBe(503);
    expect(unseen.error).toMatchObject({ type: 'api_error', param: null, code: 'unavailable' });
    const context = await fetch(`${platform.stack.urls.filtration}/internal/context`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.secrets.internalServiceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: unseenKey }),
    });
    expect(context.status).toBe(503);
    expect(await context.json()).toMatchObject({ error: { code: 'unavailable' } });
    const ready = await fetch(`${platform.stack.urls.filtration}/readyz`);
    expect(ready.status).toBe(503);

    // Several seconds of outage under load.
    await waitFor(async () => Date.now() - stoppedAt >= 8000 && count('outage') >= 20, 120_000, 100);
    expect(await postgres.answers()).toBe(false); // still down: nothing restarted it behind our back
    await postgres.start();
    const outageMs = Date.now() - stoppedAt;
    phase = 'after';
    await waitFor(async () => count('after') >= 20, 60_000, 50);
    running = false;
    await Promise.all(clients);

    // The hot path never noticed.
    expect(results.filter((r) => r.status !== 200).map((r) => ({ status: r.status, error: r.error, phase: r.phase }))).toEqual([]);
    expect(results.every((r) => r.content?.startsWith('This is the mock engine serving mock.'))).toBe(true);
    const ids = results.map((r) => r.requestId);
    expect(ids.every((id) => typeof id === 'string' && id.startsWith('req_'))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);

    // Every request the clients saw is in inference_logs exactly once.
    const logsFrom = Date.now();
    const stored = await waitFor(
      async () => {
        const rows = await db.inferenceLog.groupBy({ by: ['requestId'], where: { requestId: { in: ids as string[] } }, _count: { _all: true } });
        return rows.length === ids.length ? rows : undefined;
      },
      90_000,
      500,
    );
    expect(stored.filter((r) => r._count._all !== 1)).toEqual([]);
    const rows = await db.inferenceLog.findMany({ where: { requestId: { in: ids as string[] } }, select: { statusCode: true, stream: true, apiKeyId: true } });
    expect(rows.every((r) => r.statusCode === 200)).toBe(true);
    expect(rows.filter((r) => r.stream).length).toBe(results.filter((r) => r.headers.get('content-type')?.includes('text/event-stream')).length);

    // The platform itself came through: the deployment is still RUNNING and new keys work again.
    const status = await platform.api.orchestration<{ status: string }>('GET', `/deployment/status/${platform.deploymentId}`);
    expect(status.status).toBe('RUNNING');
    expect((await chat(inference, unseenKey)).status).toBe(200);

    const outage = results.filter((r) => r.phase === 'outage');
    console.log(
      `[postgres-outage] Postgres down ${outageMs} ms; requests ${results.length} (before ${count('before')}, during ${outage.length}, after ${count('after')}), ` +
        `all 200; slowest during the outage ${Math.round(Math.max(...outage.map((r) => r.ms)))} ms; ` +
        `${stored.length} log rows, each once, complete ${Date.now() - logsFrom} ms after the last request`,
    );
  }, 300_000);
});
