// The inference log pipeline on the real Redis and Postgres: stored exactly once however often
// delivered, acknowledged only after the commit, taken over from a dead consumer, poison entries
// dead-lettered instead of blocking the stream, entries held through a Postgres outage stored as
// soon as it is back, and a consumer group lost with Redis's data created again.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceLogConsumer, InferenceLogWriter, type InferenceLogEntry } from '../../lib/inference-log.js';
import { createDb } from '../../lib/db.js';
import { DeferredCommands } from '../../lib/redis.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let services: ReturnType<typeof connect>;
let org: DemoCredentials;

beforeAll(async () => {
  const config = testConfig();
  services = connect(config, 'inference-log');
  const slug = uniq('logs');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
});
afterAll(() => services?.close());

const streams = () => {
  const base = `inferia:test-logs:${uniq('s')}`;
  return { stream: base, deadLetterStream: `${base}:dead`, group: 'writers' };
};

const pendingCount = async (names: { stream: string; group: string }) =>
  ((await services.redis.xpending(names.stream, names.group)) as [number, ...unknown[]])[0];

const entry = (over: Partial<InferenceLogEntry> = {}): InferenceLogEntry => ({
  request_id: `req_${randomUUID()}`,
  org_id: org.org_id,
  api_key_id: null,
  model: 'mock',
  deployment_id: null,
  replica: null,
  stream: false,
  prompt_tokens: 3,
  completion_tokens: 9,
  latency_ms: 12,
  ttfb_ms: 5,
  status_code: 200,
  error_code: null,
  guardrails: [],
  created_at: new Date().toISOString(),
  ...over,
});

describe('inference log pipeline', () => {
  it('stores each request once, however often its entry is delivered, and acknowledges it', async () => {
    const names = streams();
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream });
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100 });
    await consumer.ensureGroup();
    const first = entry();
    writer.write(first);
    writer.write(first); // a retry after a lost acknowledgement
    writer.write(entry());
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 3);
    expect(await consumer.runOnce()).toBe(3);
    expect(await services.db.inferenceLog.count({ where: { requestId: first.request_id } })).toBe(1);
    const pending = (await services.redis.xpending(names.stream, names.group)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it("takes over the entries a dead consumer was holding", async () => {
    const names = streams();
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream });
    const dying = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'dying' });
    await dying.ensureGroup();
    const e = entry();
    writer.write(e);
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 1);
    // It reads the entry and dies before storing it.
    await services.redis.xreadgroup('GROUP', names.group, 'dying', 'COUNT', 10, 'STREAMS', names.stream, '>');
    await new Promise((r) => setTimeout(r, 150));
    const heir = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'heir', claimIdleMs: 100, blockMs: 100 });
    expect(await heir.runOnce()).toBe(1);
    expect(await services.db.inferenceLog.count({ where: { requestId: e.request_id } })).toBe(1);
  });

  it('dead-letters an entry that can never be stored and goes on with the rest', async () => {
    const names = streams();
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100 });
    await consumer.ensureGroup();
    await services.redis.xadd(names.stream, '*', 'entry', '{not json');
    const good = entry();
    await services.redis.xadd(names.stream, '*', 'entry', JSON.stringify(good));
    expect(await consumer.runOnce()).toBe(1);
    expect(await services.redis.xlen(names.deadLetterStream)).toBe(1);
    expect(await services.db.inferenceLog.count({ where: { requestId: good.request_id } })).toBe(1);
    const pending = (await services.redis.xpending(names.stream, names.group)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('dead-letters at once a row Postgres refuses for its content, and stores the rest of its batch', async () => {
    const names = streams();
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100, retryMs: 10 });
    await consumer.ensureGroup();
    const refused = entry({ org_id: 'not-a-uuid' }); // parses, but Postgres refuses the value (22P02)
    const good = entry();
    await services.redis.xadd(names.stream, '*', 'entry', JSON.stringify(refused));
    await services.redis.xadd(names.stream, '*', 'entry', JSON.stringify(good));
    await consumer.runOnce();
    expect(await services.db.inferenceLog.count({ where: { requestId: good.request_id } })).toBe(1);
    const dead = (await services.redis.xrange(names.deadLetterStream, '-', '+')) as [string, string[]][];
    expect(dead).toHaveLength(1);
    expect(dead[0]![1]).toContain(JSON.stringify(refused));
    const pending = (await services.redis.xpending(names.stream, names.group)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('holds its entries through a Postgres outage, dead-letters none, and stores them as soon as Postgres is back', async () => {
    const names = streams();
    const unreachable = createDb(`postgresql://postgres@127.0.0.1:${await freePort()}/inferia`, { max: 1 });
    try {
      const duringOutage = new InferenceLogConsumer(services.redis, unreachable, { ...names, consumer: 'a', blockMs: 100, retryMs: 10, maxAttempts: 2 });
      await duringOutage.ensureGroup();
      const held = [entry(), entry()];
      for (const e of held) await services.redis.xadd(names.stream, '*', 'entry', JSON.stringify(e));
      for (let round = 0; round < 5; round++) expect(await duringOutage.runOnce()).toBe(0);
      expect(await services.redis.xlen(names.deadLetterStream)).toBe(0);

      // The same consumer once Postgres answers: what it holds is retried at once, not after claimIdleMs.
      const recovered = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100 });
      expect(await recovered.runOnce()).toBe(2);
      expect(await services.db.inferenceLog.count({ where: { requestId: { in: held.map((e) => e.request_id) } } })).toBe(2);
      const pending = (await services.redis.xpending(names.stream, names.group)) as [number, ...unknown[]];
      expect(pending[0]).toBe(0);
    } finally {
      await unreachable.$disconnect();
    }
  });

  it('creates its group again when Redis lost it (a restart without persistence) and goes on', async () => {
    const names = streams();
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream });
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100, retryMs: 50 });
    consumer.start();
    try {
      const first = entry();
      writer.write(first);
      await waitFor(async () => (await services.db.inferenceLog.count({ where: { requestId: first.request_id } })) === 1, 15_000);
      await services.redis.del(names.stream); // the stream and its consumer group are gone
      const second = entry();
      writer.write(second);
      await waitFor(async () => (await services.db.inferenceLog.count({ where: { requestId: second.request_id } })) === 1, 15_000);
    } finally {
      await consumer.stop();
    }
  });

  it('stores every field as written, nulls and JSON included', async () => {
    const names = streams();
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream });
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100 });
    await consumer.ensureGroup();
    const deploymentId = randomUUID();
    const full = entry({
      api_key_id: randomUUID(),
      deployment_id: deploymentId,
      replica: 'node-1',
      stream: true,
      ttfb_ms: null,
      status_code: 499,
      error_code: '499',
      guardrails: [{ type: 'pii', action: 'redact', count: 2 }],
      created_at: '2026-11-23T10:30:15.123Z',
    });
    const bare = entry();
    writer.write(full);
    writer.write(bare);
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 2);
    expect(await consumer.runOnce()).toBe(2);
    const row = await services.db.inferenceLog.findUniqueOrThrow({ where: { requestId: full.request_id } });
    expect(row).toMatchObject({
      orgId: org.org_id,
      apiKeyId: full.api_key_id,
      model: 'mock',
      deploymentId,
      replica: 'node-1',
      stream: true,
      promptTokens: 3,
      completionTokens: 9,
      latencyMs: 12,
      ttfbMs: null,
      statusCode: 499,
      errorCode: '499',
      guardrails: [{ type: 'pii', action: 'redact', count: 2 }],
      ragSources: [],
    });
    expect(row.createdAt.toISOString()).toBe('2026-11-23T10:30:15.123Z');
    expect(await services.db.inferenceLog.findUniqueOrThrow({ where: { requestId: bare.request_id } })).toMatchObject({
      apiKeyId: null,
      deploymentId: null,
      replica: null,
      stream: false,
      ttfbMs: 5,
      errorCode: null,
    });
  });

  it('writes a deferred entry within the delay when nothing else flushes it', async () => {
    const names = streams();
    const deferred = new DeferredCommands(50);
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream, deferred });
    writer.write(entry());
    expect(deferred.pending).toBe(1);
    expect(await services.redis.xlen(names.stream)).toBe(0);
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 1, 2000, 10);
    expect(deferred.pending).toBe(0);
  });

  it('writes the entries deferred together in one packet, and the consumer stores each once', async () => {
    const names = streams();
    const deferred = new DeferredCommands(1000);
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream, deferred });
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100 });
    await consumer.ensureGroup();
    const entries = [entry(), entry(), entry()];
    for (const e of entries) writer.write(e);
    expect(deferred.pending).toBe(1);
    deferred.flush();
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 1, 2000, 10);
    const [[, fields] = ['', []]] = (await services.redis.xrange(names.stream, '-', '+')) as [string, string[]][];
    expect(fields[0]).toBe('entries');
    expect((JSON.parse(fields[1]!) as InferenceLogEntry[]).map((e) => e.request_id)).toEqual(entries.map((e) => e.request_id));
    expect(await consumer.runOnce()).toBe(3);
    expect(await services.db.inferenceLog.count({ where: { requestId: { in: entries.map((e) => e.request_id) } } })).toBe(3);
    expect(await pendingCount(names)).toBe(0);
  });

  it('dead-letters the unreadable and the refused entries of a packet by their place in it, stores the others, and does it once', async () => {
    const names = streams();
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100, retryMs: 10 });
    await consumer.ensureGroup();
    const [a, b] = [entry(), entry()];
    const refused = entry({ org_id: 'not-a-uuid' }); // parses, but Postgres refuses the value (22P02)
    const id = (await services.redis.xadd(names.stream, '*', 'entries', JSON.stringify([a, { model: 'no ids' }, refused, b])))!;
    await consumer.runOnce();
    expect(await services.db.inferenceLog.count({ where: { requestId: { in: [a.request_id, b.request_id, refused.request_id] } } })).toBe(2);
    const dead = (await services.redis.xrange(names.deadLetterStream, '-', '+')) as [string, string[]][];
    expect(dead.map(([, f]) => [f[1], JSON.parse(f[3]!) as unknown])).toEqual([
      [`${id}#1`, { model: 'no ids' }],
      [`${id}#2`, refused],
    ]);
    expect(await pendingCount(names)).toBe(0);
    // A packet that is not an array of entries goes to the dead letters whole.
    const broken = (await services.redis.xadd(names.stream, '*', 'entries', '[{"request_id":'))!;
    await consumer.runOnce();
    const deadAfter = (await services.redis.xrange(names.deadLetterStream, '-', '+')) as [string, string[]][];
    expect(deadAfter).toHaveLength(3);
    expect(deadAfter[2]![1]).toEqual(['original_id', broken, 'entries', '[{"request_id":']);
    expect(await pendingCount(names)).toBe(0);
  });

  it('gives back to the stream the entries of a packet that failed for no fault of theirs, and stores its others once', async () => {
    const names = streams();
    const [a, flaky, b] = [entry(), entry(), entry()];
    // The real database, but every batch insert fails and one row keeps failing (not for its content).
    const faulty = new Proxy(services.db, {
      get(target, prop) {
        if (prop === '$executeRaw') return () => Promise.reject(new Error('canceling statement due to statement timeout (test)'));
        if (prop === 'inferenceLog') {
          return {
            createMany: (args: { data: { requestId: string }[] }) =>
              args.data[0]!.requestId === flaky.request_id ? Promise.reject(new Error('connection reset (test)')) : target.inferenceLog.createMany(args as never),
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const consumer = new InferenceLogConsumer(services.redis, faulty, { ...names, consumer: 'a', blockMs: 50, retryMs: 1, maxAttempts: 3 });
    await consumer.ensureGroup();
    const first = (await services.redis.xadd(names.stream, '*', 'entries', JSON.stringify([a, flaky, b])))!;
    await consumer.runOnce();
    expect(await services.db.inferenceLog.count({ where: { requestId: { in: [a.request_id, b.request_id] } } })).toBe(2);
    // The packet is acknowledged; the failing entry waits in a packet of its own.
    const waiting = (await services.redis.xrange(names.stream, '-', '+')) as [string, string[]][];
    const again = waiting.filter(([id]) => id !== first);
    expect(again.map(([, f]) => f)).toEqual([['entry', JSON.stringify(flaky)]]);
    for (let round = 0; round < 6 && (await services.redis.xlen(names.deadLetterStream)) === 0; round++) await consumer.runOnce();
    const dead = (await services.redis.xrange(names.deadLetterStream, '-', '+')) as [string, string[]][];
    expect(dead.map(([, f]) => f)).toEqual([['original_id', again[0]![0], 'entry', JSON.stringify(flaky)]]);
    expect(await pendingCount(names)).toBe(0);
    expect(await services.db.inferenceLog.count({ where: { requestId: { in: [a.request_id, b.request_id, flaky.request_id] } } })).toBe(2);
  });

  it('trims what every group has acknowledged, so the stream stays bounded, and keeps what any consumer or group still needs', async () => {
    const names = streams();
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream });
    const a = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 50, batch: 10, trimEveryMs: 0 });
    await a.ensureGroup();
    // 300 entries through in rounds of 10: the stream never holds much more than one round's worth.
    let longest = 0;
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 10; i++) writer.write(entry());
      await waitFor(async () => (await services.redis.xlen(names.stream)) >= 10);
      expect(await a.runOnce()).toBe(10);
      longest = Math.max(longest, await services.redis.xlen(names.stream));
    }
    expect(longest).toBeLessThanOrEqual(21);
    expect(await services.redis.xlen(names.stream)).toBeLessThanOrEqual(1);

    // Another consumer of the same group holds entries it has not stored (it died, say): they stay
    // until they are stored, whatever the others acknowledge after them.
    const held = [entry(), entry()];
    for (const e of held) writer.write(e);
    await waitFor(async () => (await services.redis.xlen(names.stream)) >= 3);
    await services.redis.xreadgroup('GROUP', names.group, 'b', 'COUNT', 2, 'STREAMS', names.stream, '>');
    for (let i = 0; i < 10; i++) writer.write(entry());
    await waitFor(async () => (await services.redis.xlen(names.stream)) >= 13);
    expect(await a.runOnce()).toBe(10);
    const ids = ((await services.redis.xrange(names.stream, '-', '+')) as [string, string[]][]).map(([, f]) => (JSON.parse(f[1]!) as InferenceLogEntry).request_id);
    expect(ids).toEqual(expect.arrayContaining(held.map((e) => e.request_id)));

    // A second group that has read nothing yet: nothing it has not been given is removed.
    await services.redis.xgroup('CREATE', names.stream, 'auditors', '$');
    for (let i = 0; i < 5; i++) writer.write(entry());
    await waitFor(async () => (await services.redis.xlen(names.stream)) >= ids.length + 5);
    const before = await services.redis.xlen(names.stream);
    const c = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 50, trimEveryMs: 0, claimIdleMs: 0 });
    // 'a' stores the 5 new entries (and takes over b's two, idle long enough with claimIdleMs 0).
    while ((await c.runOnce()) > 0);
    const after = (await services.redis.xrange(names.stream, '-', '+')) as [string, string[]][];
    expect(after.length).toBeGreaterThanOrEqual(5); // the auditors have not read these
    expect(after.length).toBeLessThan(before);
    expect(await services.db.inferenceLog.count({ where: { requestId: { in: held.map((e) => e.request_id) } } })).toBe(2);
  });
});
