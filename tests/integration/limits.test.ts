// Rate limits and quotas on the real Redis: exact under concurrency across several "gateway
// instances" (separate connections), tokens reserved then settled or refunded, windows by period.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Limiter, limitsFor, windowOf, type Limit } from '../../lib/limits.js';
import { createRedis, DeferredCommands, type Redis } from '../../lib/redis.js';
import { testConfig, uniq, waitFor } from '../helpers/env.js';

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

  describe('leases of large limits', () => {
    type Spied = Record<'inferiaAdmitMany' | 'inferiaLease' | 'inferiaAdjust', (...a: unknown[]) => Promise<unknown>>;
    const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

    it('admits in process once Redis has granted a lease, with exact headers, and leaves exactly what was used counted once it gives the lease back', async () => {
      const redis = createRedis(testConfig().redisUrl, 'limits-lease', { autoPipelining: true });
      try {
        const limiter = new Limiter(redis, prefix, undefined, { leaseMs: 60_000 });
        const spied = redis as unknown as Spied;
        const admits = vi.spyOn(spied, 'inferiaAdmitMany');
        const leases = vi.spyOn(spied, 'inferiaLease');
        const adjusts = vi.spyOn(spied, 'inferiaAdjust');
        const key = uniq('key');
        const rpd: Limit = { scope: 'key', id: key, period: 'day', unit: 'requests', limit: 1_000_000 }; // lease: 1 000 requests (a day: no window ends during the test)
        const tpm: Limit = { scope: 'org', id: uniq('org'), period: 'month', unit: 'tokens', limit: 100_000_000 }; // lease: 100 000 tokens
        const limits = [rpd, tpm];
        expect(limiter.admitFromLeases(limits, 500)).toBeUndefined(); // nothing leased yet
        const first = await limiter.admit(limits, 500); // Redis counts it, and grants leases in the same write
        await tick();
        expect(first.admitted).toBe(true);
        expect(admits).toHaveBeenCalledTimes(1);
        expect(leases).toHaveBeenCalledTimes(1);
        const [requestKey, tokenKey] = first.admitted ? [first.reservation.requestKeys[0]!.key, first.reservation.tokenKeys[0]!.key] : [];
        expect(await redis.get(requestKey!)).toBe(String(1 + 1000));
        expect(await redis.get(tokenKey!)).toBe(String(500 + 100_000));

        const reservations = [first.admitted ? first.reservation : undefined!];
        for (let i = 2; i <= 150; i++) {
          const a = limiter.admitFromLeases(limits, 500);
          expect(a?.admitted).toBe(true);
          if (a?.admitted) {
            reservations.push(a.reservation);
            // The same figures Redis would give: everything admitted so far, nothing of what is leased.
            expect(a.states.map((s) => s.used)).toEqual([i, i * 500]);
            expect(a.states[0]!.remaining).toBe(1_000_000 - i);
          }
        }
        expect(admits).toHaveBeenCalledTimes(1); // 149 requests, no admission script
        // Each used 100 tokens of its 500: the rest goes back into the lease, not to Redis.
        await Promise.all(reservations.map((r) => limiter.settle(r, 100)));
        expect(adjusts).not.toHaveBeenCalled();
        expect(limiter.admitFromLeases(limits, 0)?.states.map((s) => s.used)).toEqual([151, 150 * 100]);

        await limiter.close(); // what is left of the leases goes back
        expect(await redis.get(requestKey!)).toBe('151');
        expect(await redis.get(tokenKey!)).toBe(String(150 * 100));
        expect(limiter.admitFromLeases(limits, 0)).toBeUndefined();
      } finally {
        redis.disconnect();
      }
    });

    it('never admits more than L across gateways that hold leases, and refuses at most a lease per gateway early', async () => {
      const connections = [0, 1, 2].map((i) => createRedis(testConfig().redisUrl, `limits-lease-${i}`, { autoPipelining: true }));
      try {
        const leased = connections.map((r) => new Limiter(r, prefix, undefined, { leaseMs: 60_000 }));
        const limit: Limit = { scope: 'org', id: uniq('org'), period: 'day', unit: 'requests', limit: 5000 }; // leases of 5
        let admitted = 0;
        let counter = '';
        for (let round = 0; round < 70; round++) {
          // Each round: 100 requests over the three gateways, from their leases or through Redis.
          const results = await Promise.all(Array.from({ length: 100 }, (_, i) => leased[i % 3]!.admit([limit], 0)));
          admitted += results.filter((r) => r.admitted).length;
          const first = results.find((r) => r.admitted);
          if (first?.admitted) counter = first.reservation.requestKeys[0]!.key;
        }
        expect(admitted).toBeLessThanOrEqual(5000);
        expect(admitted).toBeGreaterThanOrEqual(5000 - 3 * 5);
        expect(Number(await connections[0]!.get(counter))).toBeLessThanOrEqual(5000);
        await Promise.all(leased.map((l) => l.close()));
        expect(Number(await connections[0]!.get(counter))).toBe(admitted);
      } finally {
        connections.forEach((r) => r.disconnect());
      }
    });

    it('gives back what is left of a lease once it expires, and leases no small limit', async () => {
      const redis = createRedis(testConfig().redisUrl, 'limits-lease-expiry', { autoPipelining: true });
      try {
        const limiter = new Limiter(redis, prefix, undefined, { leaseMs: 100 });
        const leases = vi.spyOn(redis as unknown as Spied, 'inferiaLease');
        const small: Limit = { scope: 'key', id: uniq('key'), period: 'minute', unit: 'requests', limit: 1999 }; // a lease would be 1
        expect((await limiter.admit([small], 0)).admitted).toBe(true);
        expect(leases).not.toHaveBeenCalled();

        const large: Limit = { scope: 'key', id: uniq('key'), period: 'day', unit: 'requests', limit: 100_000 };
        const a = await limiter.admit([large], 0);
        await tick();
        expect(limiter.admitFromLeases([large], 0)?.admitted).toBe(true);
        const key = a.admitted ? a.reservation.requestKeys[0]!.key : '';
        expect(await redis.get(key)).toBe(String(1 + 100));
        // Expired (100 ms) and swept (every 100 ms): the 99 unused requests go back.
        await waitFor(async () => (await redis.get(key)) === '2', 5000, 20);
        expect(await redis.get(key)).toBe('2');
        expect(limiter.admitFromLeases([large], 0)).toBeUndefined();

        // A lease granted after close (asked with an admission just before) goes back as well.
        const closing = new Limiter(redis, prefix, undefined, { leaseMs: 60_000 });
        const other: Limit = { scope: 'key', id: uniq('key'), period: 'day', unit: 'requests', limit: 100_000 };
        const admitted = closing.admit([other], 0);
        await new Promise((r) => setImmediate(r)); // the admission and the lease request are on their way
        await closing.close();
        const b = await admitted;
        expect(b.admitted).toBe(true);
        expect(await redis.get(b.admitted ? b.reservation.requestKeys[0]!.key : '')).toBe('1');
      } finally {
        redis.disconnect();
      }
    });
  });
});
