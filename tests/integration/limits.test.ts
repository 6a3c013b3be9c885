// Rate limits and quotas on the real Redis: exact under concurrency across several "gateway
// instances" (separate connections), tokens reserved then settled or refunded, windows by period.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Limiter, limitsFor, windowOf, type Limit } from '../../lib/limits.js';
import { createRedis, DeferredCommands, type Redis } from '../../lib/redis.js';
import { testConfig, uniq } from '../helpers/env.js';

let gateways: Redis[];
let limiters: Limiter[];
let prefix: string;

beforeAll(() => {
  const config = testConfig();
  // Auto-pipelined connections (as the inference gateway's) and a plain one race each other.
  gateways = [
    createRedis(config.redisUrl, 'limits-a'),
    createRedis(config.redisUrl, 'limits-b', { autoPipelining: true }),
    createRedis(config.redisUrl, 'limits-c', { autoPipelining: true }),
  ];
  prefix = `inferia:test-limit:${uniq('run')}`; // the same counters, as every gateway shares
  limiters = gateways.map((r) => new Limiter(r, prefix));
});
afterAll(() => gateways?.forEach((r) => r.disconnect()));

describe('rate limits', () => {
  it('admits exactly L requests per window when many clients race over three gateways', async () => {
    const limit: Limit = { scope: 'key', id: uniq('key'), period: 'minute', unit: 'requests', limit: 50 };
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => limiters[i % 3]!.admit([limit], 0, now)));
    expect(results.filter((r) => r.admitted)).toHaveLength(50);
    const refused = results.find((r) => !r.admitted);
    expect(refused && !refused.admitted && refused.blockedBy.remaining).toBe(0);
  });

  it('counts every limit or none: a request refused by one limit uses nothing of the others', async () => {
    const key = uniq('key');
    const rpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'requests', limit: 100 };
    const tpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'tokens', limit: 1000 };
    const a = await limiters[0]!.admit([rpm, tpm], 600);
    expect(a.admitted).toBe(true);
    const b = await limiters[1]!.admit([rpm, tpm], 600);
    expect(b.admitted).toBe(false);
    expect(!b.admitted && b.blockedBy.limit.unit).toBe('tokens');
    expect(b.states.find((s) => s.limit.unit === 'requests')?.used).toBe(1); // the refused one was not counted

    // The first call really used 100 tokens: settling frees the rest of its reservation.
    if (a.admitted) await limiters[0]!.settle(a.reservation, 100);
    const c = await limiters[2]!.admit([rpm, tpm], 600);
    expect(c.admitted).toBe(true);
    // A failed upstream call gives back its request and its tokens.
    if (c.admitted) await limiters[2]!.refund(c.reservation);
    const d = await limiters[0]!.admit([rpm, tpm], 0);
    expect(d.states.find((s) => s.limit.unit === 'tokens')?.used).toBe(100);
    expect(d.states.find((s) => s.limit.unit === 'requests')?.used).toBe(2);
  });

  it('sends the admissions of one turn in one script call, each counted as if it came alone', async () => {
    const redis = createRedis(testConfig().redisUrl, 'limits-batch', { autoPipelining: true });
    try {
      const limiter = new Limiter(redis, prefix);
      const calls = vi.spyOn(redis as unknown as { inferiaAdmitMany: (...a: unknown[]) => Promise<number[]> }, 'inferiaAdmitMany');
      const key = uniq('key');
      const rpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'requests', limit: 5 };
      const tpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'tokens', limit: 1000 };
      // In order: 400 + 400 fit the 1000 tokens, a third 400 does not; 100 + 100 do; then the tokens refuse a third 100; no tokens fit, until the sixth request.
      const costs = [400, 400, 400, 100, 100, 100, 0, 0];
      const limits = [rpm, tpm]; // one array, as limitsFor hands out per key context
      const results = await Promise.all(costs.map((t) => limiter.admit(limits, t)));
      // One call carrying all eight (made on the pipeline the batch goes out in, whose method is the
      // connection's; a callback last): their two counters once (one plan: 2 × limit, ttl, unit),
      // then each request's plan number and tokens.
      expect(calls).toHaveBeenCalledTimes(1);
      for (const c of calls.mock.calls.map((args) => args.filter((a) => typeof a !== 'function'))) {
        expect(c[0]).toBe(2);
        expect(c.slice(3)).toEqual([1, 2, 5, 65, 0, 1000, 65, 1, ...costs.flatMap((t) => [1, t])]);
      }
      expect(results.map((r) => r.admitted)).toEqual([true, true, false, true, true, false, true, false]);
      const blocked = results.map((r) => (r.admitted ? null : r.blockedBy.limit.unit));
      expect(blocked).toEqual([null, null, 'tokens', null, null, 'tokens', null, 'requests']);
      expect(results[4]!.states.map((s) => s.used)).toEqual([4, 1000]);
    } finally {
      redis.disconnect();
    }
  });

  it('fails only the request whose counter Redis cannot read, not the others of its batch', async () => {
    const bad: Limit = { scope: 'key', id: uniq('key'), period: 'minute', unit: 'requests', limit: 10 };
    const good: Limit = { scope: 'key', id: uniq('key'), period: 'minute', unit: 'requests', limit: 10 };
    const now = Date.now();
    await gateways[0]!.hset(`${prefix}:key:${bad.id}:minute:requests:${windowOf('minute', now).start}`, 'not', 'a counter');
    const [a, b] = await Promise.allSettled([limiters[1]!.admit([bad], 0, now), limiters[1]!.admit([good], 0, now)]);
    expect(a.status).toBe('rejected');
    expect(b.status === 'fulfilled' && b.value.admitted).toBe(true);
  });

  it('keeps minute, day and month windows apart and reports when each resets', () => {
    const t = Date.UTC(2026, 10, 23, 10, 30, 15);
    expect(windowOf('minute', t)).toEqual({ start: Date.UTC(2026, 10, 23, 10, 30), seconds: 60 });
    expect(windowOf('day', t)).toEqual({ start: Date.UTC(2026, 10, 23), seconds: 86_400 });
    expect(windowOf('month', t)).toEqual({ start: Date.UTC(2026, 10, 1), seconds: 30 * 86_400 });
  });

  it('derives limits from a key and its org', () => {
    const limits = limitsFor({
      org_id: 'org',
      api_key_id: 'key',
      rpm_limit: 60,
      tpm_limit: null,
      limits: [
        { scope: 'org', period: 'day', token_limit: 1000, request_limit: null },
        { scope: 'key', period: 'minute', token_limit: null, request_limit: 5 },
      ],
    });
    expect(limits).toEqual([
      { scope: 'key', id: 'key', period: 'minute', unit: 'requests', limit: 60 },
      { scope: 'org', id: 'org', period: 'day', unit: 'tokens', limit: 1000 },
      { scope: 'key', id: 'key', period: 'minute', unit: 'requests', limit: 5 },
    ]);
  });

  it('leaves a counter whose window has ended alone when a late settle or refund comes', async () => {
    const key = uniq('key');
    const tpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'tokens', limit: 1000 };
    const rpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'requests', limit: 10 };
    const a = await limiters[1]!.admit([rpm, tpm], 300);
    const b = await limiters[2]!.admit([rpm, tpm], 300);
    if (!a.admitted || !b.admitted) throw new Error('not admitted');
    const keys = [...a.reservation.tokenKeys.map((t) => t.key), ...a.reservation.requestKeys.map((r) => r.key)];
    await gateways[0]!.del(...keys); // the window expired while the calls ran
    await limiters[1]!.settle(a.reservation, 50);
    await limiters[2]!.refund(b.reservation);
    expect(await gateways[0]!.exists(...keys)).toBe(0);
  });

  it('sends deferred settlements with the next admission, before it, or on its own within the delay', async () => {
    const config = testConfig();
    const redis = createRedis(config.redisUrl, 'limits-deferred', { autoPipelining: true });
    try {
      const deferred = new DeferredCommands(200);
      const limiter = new Limiter(redis, `inferia:test-limit:${uniq('deferred')}`, deferred);
      const key = uniq('key');
      const tpm: Limit = { scope: 'key', id: key, period: 'minute', unit: 'tokens', limit: 1000 };
      const a = await limiter.admit([tpm], 600);
      if (!a.admitted) throw new Error('not admitted');
      const settled = limiter.settle(a.reservation, 100);
      // A second adjustment of the same counter joins the same call: the deltas add up (-500, then -50).
      const again = limiter.settle({ ...a.reservation, tokenKeys: a.reservation.tokenKeys.map((t) => ({ ...t, reserved: 100 })) }, 50);
      expect(deferred.pending).toBe(1);
      expect(await redis.get(a.reservation.tokenKeys[0]!.key)).toBe('600'); // not sent yet
      // The next admission carries it, ahead of itself: 50 + 600 fits where 600 + 600 would not.
      const b = await limiter.admit([tpm], 600);
      expect(b.admitted).toBe(true);
      await Promise.all([settled, again]);
      expect(deferred.pending).toBe(0);
      if (!b.admitted) return;
      const refunded = limiter.refund(b.reservation);
      await refunded; // no admission follows: the timer sends it
      expect(await redis.get(b.reservation.tokenKeys[0]!.key)).toBe('50');
    } finally {
      redis.disconnect();
    }
  });

  it('moves to the next window at its boundary, however its counter keys are cached', async () => {
    const limits = limitsFor({ org_id: uniq('org'), api_key_id: uniq('key'), rpm_limit: 1, tpm_limit: null, limits: [] });
    expect(limitsFor({ org_id: 'x', api_key_id: 'y', rpm_limit: 1, tpm_limit: null })).not.toBe(limits);
    const end = Math.ceil(Date.now() / 60_000) * 60_000;
    const a = await limiters[0]!.admit(limits, 0, end - 100);
    const b = await limiters[0]!.admit(limits, 0, end - 50);
    const c = await limiters[0]!.admit(limits, 0, end + 10);
    expect([a.admitted, b.admitted, c.admitted]).toEqual([true, false, true]);
    expect(a.states[0]!.resetSeconds).toBe(1);
    expect(c.states[0]!.resetSeconds).toBe(60);
  });
});
