// The inference log pipeline on the real Redis and Postgres: stored exactly once however often
// delivered, acknowledged only after the commit, taken over from a dead consumer, and poison
// entries dead-lettered instead of blocking the stream.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceLogConsumer, InferenceLogWriter, type InferenceLogEntry } from '../../lib/inference-log.js';
import { DeferredCommands } from '../../lib/redis.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq, waitFor } from '../helpers/env.js';
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

  it('stores the good entries of a batch with one Postgres refuses, and dead-letters that one in the end', async () => {
    const names = streams();
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream });
    const consumer = new InferenceLogConsumer(services.redis, services.db, { ...names, consumer: 'a', blockMs: 100, claimIdleMs: 0, maxDeliveries: 2 });
    await consumer.ensureGroup();
    const good = entry();
    writer.write(entry({ org_id: 'not-a-uuid' }));
    writer.write(good);
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 2);
    expect(await consumer.runOnce()).toBe(0); // the batch failed; the good one was stored on its own
    expect(await services.db.inferenceLog.count({ where: { requestId: good.request_id } })).toBe(1);
    await waitFor(async () => (await consumer.runOnce(), (await services.redis.xlen(names.deadLetterStream)) === 1), 10_000, 50);
    const pending = (await services.redis.xpending(names.stream, names.group)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
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

  it('writes the entries deferred together in one command, each once', async () => {
    const names = streams();
    const deferred = new DeferredCommands(1000);
    const writer = new InferenceLogWriter(services.redis, { stream: names.stream, deferred });
    const entries = [entry(), entry(), entry()];
    for (const e of entries) writer.write(e);
    expect(deferred.pending).toBe(1);
    deferred.flush();
    await waitFor(async () => (await services.redis.xlen(names.stream)) === 3, 2000, 10);
    const stored = (await services.redis.xrange(names.stream, '-', '+')) as [string, string[]][];
    expect(stored.map(([, f]) => (JSON.parse(f[1]!) as InferenceLogEntry).request_id)).toEqual(entries.map((e) => e.request_id));
  });
});
