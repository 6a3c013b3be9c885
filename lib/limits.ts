// Rate limits (per minute) and quotas (per day / month), per key and per org, counted in Redis by
// one Lua script so that admission is atomic across every gateway instance: with a limit L, never
// more than L are admitted in a window, however many clients and gateways race.
//
// Tokens are reserved up front (an estimate: prompt plus max_tokens) and settled to the real usage
// afterwards (or refunded when the upstream failed), so a stream cannot overrun a token budget.
//
// Leases: a counter whose limit is large (a thousandth of it at least twice what a request costs)
// is not asked about every request. The gateway takes a share of it from Redis (a lease: at most a
// thousandth of the limit, 1 000 requests or 1 000 000 tokens, counted in Redis as used at once)
// and admits requests from it in process until it runs low or `leaseMs` has passed; what is left
// unused then goes back. Every admitted unit is still counted by the script before it is used, so
// never more than L are admitted in a window; what a lease costs is that near the limit a request
// can be refused while another gateway holds unused units (at most one lease per gateway), and
// that an instance keeps admitting from a lease it holds for up to `leaseMs` after Redis goes away.
import type { Redis } from 'ioredis';
import { commandOn, type ChainableCommander, type DeferredCommands } from './redis.js';

export type LimitPeriod = 'minute' | 'day' | 'month';
export type LimitUnit = 'requests' | 'tokens';

export interface Limit {
  scope: 'key' | 'org';
  /** The key id or org id. */
  id: string;
  period: LimitPeriod;
  unit: LimitUnit;
  limit: number;
}

export interface LimitState {
  limit: Limit;
  used: number;
  remaining: number;
  /** Seconds until this window resets. */
  resetSeconds: number;
}

export type Admission =
  | { admitted: true; states: LimitState[]; reservation: Reservation }
  | { admitted: false; states: LimitState[]; blockedBy: LimitState };

export interface Reservation {
  /** Counter keys and what was added to each (tokens only are settled later). */
  tokenKeys: { key: string; ttl: number; reserved: number }[];
  requestKeys: { key: string; ttl: number }[];
}

/** Window start (UTC) and length in seconds for a period at time `now` (ms). */
export function windowOf(period: LimitPeriod, now: number): { start: number; seconds: number } {
  const d = new Date(now);
  if (period === 'minute') {
    const start = Math.floor(now / 60_000) * 60_000;
    return { start, seconds: 60 };
  }
  if (period === 'day') {
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    return { start, seconds: 86_400 };
  }
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { start, seconds: Math.round((next - start) / 1000) };
}

// Admissions of many requests in one call (those that arrived in the same turn of the event loop).
// The requests of one key share their counters, so each set of counters ("plan") is sent once:
// KEYS: each plan's counters, plan after plan. ARGV[1]: the number of plans; per plan: n, then per
// counter: limit, ttl, and 1 if it counts tokens (0: requests); then per request: its plan's number
// and its tokens. Each request checks every counter of its plan and adds its costs only if all
// fit, in order, so the batch counts exactly as the requests would one by one. Returns, per
// request: admitted (1, 0, or -1 when its counters could not be read), the 1-based index of the
// counter that refused it, then each counter's value.
const ADMIT_MANY = `
local plans = {}
local a, k = 2, 0
for p = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a])
  plans[p] = {n, a + 1, k}
  a = a + 1 + n * 3
  k = k + n
end
local function one(plan, tokens)
  local n, at, base = plan[1], plan[2], plan[3]
  local res = {}
  for i = 1, n do
    local spec = at + (i - 1) * 3
    local cost = ARGV[spec + 2] == '1' and tokens or 1
    local current = tonumber(redis.call('GET', KEYS[base + i]) or '0')
    if current + cost > tonumber(ARGV[spec]) then
      res[1] = 0
      res[2] = i
      for j = 1, n do res[2 + j] = tonumber(redis.call('GET', KEYS[base + j]) or '0') end
      return res
    end
  end
  res[1] = 1
  res[2] = 0
  for i = 1, n do
    local spec = at + (i - 1) * 3
    local key = KEYS[base + i]
    res[2 + i] = redis.call('INCRBY', key, ARGV[spec + 2] == '1' and tokens or 1)
    if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[spec + 1]) end
  end
  return res
end
local out = {}
for r = a, #ARGV, 2 do
  local plan = plans[tonumber(ARGV[r])]
  local ok, res = pcall(one, plan, tonumber(ARGV[r + 1]))
  if ok then
    for j = 1, plan[1] + 2 do out[#out + 1] = res[j] end
  else
    out[#out + 1] = -1
    out[#out + 1] = 0
    for j = 1, plan[1] do out[#out + 1] = 0 end
  end
end
return out
`;

// KEYS: counters; ARGV: the amount to add to each. One command however many counters change. A
// counter that has expired is left alone: its window is over, and INCRBY would recreate it
// without a TTL, for ever.
const ADJUST = `
for i = 1, #KEYS do
  local delta = tonumber(ARGV[i])
  if delta ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], delta) end
end
return 0
`;

// KEYS: counters; ARGV per counter: limit, ttl, units wanted. Grants each counter what it can spare
// up to the units wanted (0 when it is full or cannot be read) and counts them as used. Returns,
// per counter: the units granted and the counter's value after.
const LEASE = `
local out = {}
for i = 1, #KEYS do
  local at = (i - 1) * 3
  local ok, granted, value = pcall(function()
    local limit, want = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 3])
    local current = tonumber(redis.call('GET', KEYS[i]) or '0')
    local grant = math.min(want, limit - current)
    if grant <= 0 then return 0, current end
    current = redis.call('INCRBY', KEYS[i], grant)
    if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[at + 2]) end
    return grant, current
  end)
  if ok then
    out[#out + 1] = granted
    out[#out + 1] = value
  else
    out[#out + 1] = 0
    out[#out + 1] = 0
  end
end
return out
`;

/** Units of a counter this gateway may admit without asking Redis, until `until` (ms). */
interface Lease {
  left: number;
  /** The counter's value when the last grant came back (every lease of every gateway counted as used). */
  top: number;
  until: number;
  /** When the counter's window ends (a lease never outlives it). */
  end: number;
}

export interface LimiterOptions {
  /**
   * How long a lease may be used before what is left of it goes back (default 1000 ms); 0 asks
   * Redis about every request, whatever its limits.
   */
  leaseMs?: number;
}

/** A lease is at most this share of a limit, and this many units. */
const LEASE_SHARE = 1 / 1000;
const LEASE_MAX = { requests: 1000, tokens: 1_000_000 } as const;

export class Limiter {

  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'inferia:limit',
    /** Settlements and refunds wait here and leave with the next admission (see DeferredCommands). */
    private readonly deferred?: DeferredCommands,
    options: LimiterOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 1000;
    this.redis.defineCommand('inferiaAdmitMany', { lua: ADMIT_MANY });
    this.redis.defineCommand('inferiaAdjust', { lua: ADJUST });
    this.redis.defineCommand('inferiaLease', { lua: LEASE });
  }

  /** Leases held, by counter key. */
  private readonly leases = new Map<string, Lease>();
  /** Counters to ask a lease of with the next batch (key → limit, ttl, units, window end). */
  private wanted = new Map<string, { limit: number; ttl: number; units: number; end: number }>();
  /** Counters whose lease is being asked for. */
  private readonly asking = new Set<string>();
  /** Lease requests not answered yet (close waits for them, to give back what they bring). */
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;

  /** Counter keys of a list of limits in their current windows, until the first of them ends. */
  private readonly windows = new WeakMap<Limit[], { from: number; until: number; keys: { key: string; ttl: number; end: number }[] }>();

  private keysFor(limits: Limit[], now: number) {
    const cached = this.windows.get(limits);
    if (cached && now >= cached.from && now < cached.until) return cached.keys;
    const keys = limits.map((l) => {
      const w = windowOf(l.period, now);
      return { key: `${this.prefix}:${l.scope}:${l.id}:${l.period}:${l.unit}:${w.start}`, ttl: w.seconds + 5, end: w.start + w.seconds * 1000 };
    });
    const from = Math.floor(now / 60_000) * 60_000; // every window starts on a minute
    this.windows.set(limits, { from, until: Math.min(...keys.map((k) => k.end)), keys });
    return keys;
  }

  /** Admissions waiting for this turn of the event loop to end. */
  private batch: PendingAdmission[] = [];

  /**
   * Admits one request costing `tokens` (estimated) against every limit, or none of them. The
   * admissions asked for in one turn of the event loop leave together, in one script call, at the
   * end of that turn: each Redis command costs the client several microseconds whatever it
   * carries, and under load many requests arrive in the same turn.
   */
  admit(limits: Limit[], tokens: number, now = Date.now()): Admission | Promise<Admission> {
    if (limits.length === 0) return { admitted: true, states: [], reservation: { tokenKeys: [], requestKeys: [] } };
    const leased = this.admitFromLeases(limits, tokens, now);
    if (leased) return leased; // at once: no promise, no turn of the event loop
    const keys = this.keysFor(limits, now);
    this.want(limits, keys, tokens, now);
    return new Promise((resolve, reject) => {
      this.batch.push({ limits, keys, tokens, now, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Admits the request at once when this gateway holds a lease of every one of its counters with
   * room for it (and asks for more when one runs low), else undefined: ask Redis (`admit`).
   */
  admitFromLeases(limits: Limit[], tokens: number, now = Date.now()): Admission | undefined {
    if (this.leaseMs <= 0 || limits.length === 0) return undefined;
    const keys = this.keysFor(limits, now);
    for (let i = 0; i < limits.length; i++) {
      const lease = this.leases.get(keys[i]!.key);
      if (!lease || now >= lease.until || lease.left < (limits[i]!.unit === 'tokens' ? tokens : 1)) return undefined;
    }
    const states: LimitState[] = new Array(limits.length);
    const tokenKeys: Reservation['tokenKeys'] = [];
    const requestKeys: Reservation['requestKeys'] = [];
    for (let i = 0; i < limits.length; i++) {
      const l = limits[i]!;
      const k = keys[i]!;
      const lease = this.leases.get(k.key)!;
      if (l.unit === 'tokens') {
        lease.left -= tokens;
        tokenKeys.push({ key: k.key, ttl: k.ttl, reserved: tokens });
      } else {
        lease.left -= 1;
        requestKeys.push({ key: k.key, ttl: k.ttl });
      }
      const used = lease.top - lease.left;
      states[i] = { limit: l, used, remaining: Math.max(0, l.limit - used), resetSeconds: Math.max(1, Math.ceil((k.end - now) / 1000)) };
    }
    // Ask for more before it runs out (a quarter left) or expires (half its time gone), while requests still pass.
    this.want(limits, keys, tokens, now, true);
    if (this.wanted.size > 0) this.schedule();
    return { admitted: true, states, reservation: { tokenKeys, requestKeys } };
  }

  /** Notes the counters of a request that could be leased and are not (enough, for long enough). */
  private want(limits: Limit[], keys: { key: string; ttl: number; end: number }[], tokens: number, now: number, early = false) {
    if (this.leaseMs <= 0 || this.closed) return;
    for (let i = 0; i < limits.length; i++) {
      const l = limits[i]!;
      const key = keys[i]!.key;
      if (this.asking.has(key) || this.wanted.has(key)) continue;
      const units = Math.min(Math.floor(l.limit * LEASE_SHARE), LEASE_MAX[l.unit]);
      if (units < 2 || units < 2 * (l.unit === 'tokens' ? tokens : 1)) continue; // too small a share to be worth it
      const lease = this.leases.get(key);
      if (lease && now < lease.until) {
        const cost = l.unit === 'tokens' ? tokens : 1;
        // Early: a quarter left, or half its time gone when it ends before its window does.
        const low = early ? lease.left < units / 4 || (lease.until < lease.end && now >= lease.until - this.leaseMs / 2) : lease.left < cost;
        // A lease Redis could not fill (the counter is near its limit) is not asked again before it expires.
        if (!low || lease.top >= l.limit) continue;
      }
      this.wanted.set(key, { limit: l.limit, ttl: keys[i]!.ttl, units, end: keys[i]!.end });
    }
  }

  private schedule() {
    if (this.scheduled) {
      if (this.batch.length >= MAX_BATCH) this.sendBatch(); // a long script would hold Redis up for everyone
      return;
    }
    this.scheduled = true;
    setImmediate(this.sendBatch);
  }

  private scheduled = false;

  private readonly sendBatch = () => {
    this.scheduled = false;
    const batch = this.batch;
    const wanted = this.wanted;
    if (batch.length === 0 && wanted.size === 0) return;
    this.batch = [];
    this.wanted = new Map();
    // One write, now: what waits (settlements, returned leases, log entries) first, then the
    // admissions, then the leases (after them: a lease never takes what a request of this batch needs).
    const pipeline = this.redis.pipeline();
    this.deferred?.flush(pipeline);
    if (batch.length > 0) this.sendAdmissions(batch, pipeline);
    if (wanted.size > 0) this.askLeases(wanted, pipeline);
    pipeline.exec().catch(() => undefined); // each command's own callback has its error
  };

  private sendAdmissions(batch: PendingAdmission[], pipeline: ChainableCommander) {
    // Each set of counters once (the requests of one key share theirs), then each request's plan and tokens.
    const plans = new Map<PendingAdmission['keys'], number>();
    const keys: string[] = [];
    const planArgs: (string | number)[] = [0];
    const requestArgs: (string | number)[] = [];
    for (const p of batch) {
      let plan = plans.get(p.keys);
      if (plan === undefined) {
        plan = plans.size + 1;
        plans.set(p.keys, plan);
        planArgs.push(p.limits.length);
        for (let i = 0; i < p.limits.length; i++) {
          const l = p.limits[i]!;
          keys.push(p.keys[i]!.key);
          planArgs.push(l.limit, p.keys[i]!.ttl, l.unit === 'tokens' ? 1 : 0);
        }
      }
      requestArgs.push(plan, p.tokens);
    }
    planArgs[0] = plans.size;
    commandOn(pipeline, 'inferiaAdmitMany', keys.length, ...keys, ...planArgs, ...requestArgs).then(
      (answer) => {
        const result = answer as number[];
        let at = 0;
        for (const p of batch) {
          if (result[at] === -1) p.reject(new Error('the rate-limit counters of this request could not be read (unexpected values in Redis)'));
          else p.resolve(admission(p, result, at));
          at += 2 + p.limits.length;
        }
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  private askLeases(wanted: Map<string, { limit: number; ttl: number; units: number; end: number }>, pipeline: ChainableCommander) {
    const keys = [...wanted.keys()];
    const args: number[] = [];
    for (const w of wanted.values()) args.push(w.limit, w.ttl, w.units);
    for (const key of keys) this.asking.add(key);
    const asked = Date.now();
    const answered: Promise<void> = commandOn(pipeline, 'inferiaLease', keys.length, ...keys, ...args).then(
      (answer) => {
        this.inflight.delete(answered);
        const result = answer as number[];
        keys.forEach((key, i) => {
          this.asking.delete(key);
          const granted = Number(result[2 * i]);
          const top = Number(result[2 * i + 1]);
          const end = wanted.get(key)!.end;
          const until = Math.min(asked + this.leaseMs, end);
          const lease = this.leases.get(key);
          if (lease) {
            lease.left += granted;
            lease.top = top;
            lease.until = until;
          } else this.leases.set(key, { left: granted, top, until, end });
        });
        if (this.closed) void this.close(); // answered after close: give it back as well
        else this.sweepLater();
      },
      () => {
        this.inflight.delete(answered);
        // Redis away: no lease; requests ask it one by one (and get its answer, or its absence).
        for (const key of keys) this.asking.delete(key);
      },
    );
    this.inflight.add(answered);
  }

  /** Drops the leases that have expired (all of them: `all`) and gives back what is left of them. */
  private giveBack(all: boolean): Promise<void> {
    const now = Date.now();
    const keys: string[] = [];
    const deltas: number[] = [];
    for (const [key, lease] of this.leases) {
      if (!all && now < lease.until) continue;
      this.leases.delete(key);
      if (lease.left > 0) {
        keys.push(key);
        deltas.push(-lease.left);
      }
    }
    return keys.length > 0 ? this.toRedis(keys, deltas) : Promise.resolve();
  }

  /** Every leaseMs while there are leases: expired ones go back (if that fails, they stay counted as used until the window ends). */
  private sweepLater() {
    if (this.sweeper || this.leases.size === 0) return;
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      void this.giveBack(false).catch(() => undefined);
      this.sweepLater();
    }, this.leaseMs);
    this.sweeper.unref();
  }

  /**
   * Gives every lease back (on shutdown, before the deferred commands are flushed): what this
   * gateway admitted stays counted, what it held unused does not.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.inflight]);
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    await this.giveBack(true);
  }

  /** Replaces the token estimate with what was really used. */
  async settle(reservation: Reservation, actualTokens: number): Promise<void> {
    const changed = reservation.tokenKeys.filter((t) => t.reserved !== actualTokens);
    if (changed.length === 0) return;
    await this.adjust(
      changed.map((t) => t.key),
      changed.map((t) => actualTokens - t.reserved),
    );
  }

  /** The call never reached a model: give back the request and its tokens. */
  async refund(reservation: Reservation): Promise<void> {
    const { tokenKeys, requestKeys } = reservation;
    if (tokenKeys.length + requestKeys.length === 0) return;
    await this.adjust(
      [...tokenKeys.map((t) => t.key), ...requestKeys.map((r) => r.key)],
      [...tokenKeys.map((t) => -t.reserved), ...requestKeys.map(() => -1)],
    );
  }

  /** Adjustments waiting for the deferred flush: summed per counter, sent as one script call. */
  private waiting: { deltas: Map<string, number>; settled: { resolve: () => void; reject: (err: unknown) => void }[] } | undefined;

  /**
   * A counter this gateway holds a live lease of is adjusted in the lease: units given back join it
   * (Redis counts them as used already), units taken beyond the reservation come out of it first.
   */
  private adjust(keys: string[], deltas: number[]): Promise<void> {
    if (this.leases.size > 0) {
      const now = Date.now();
      const restKeys: string[] = [];
      const restDeltas: number[] = [];
      keys.forEach((key, i) => {
        const lease = this.leases.get(key);
        let delta = deltas[i]!;
        if (lease && now < lease.until) {
          const taken = delta < 0 ? delta : Math.min(delta, Math.max(0, lease.left));
          lease.left -= taken;
          delta -= taken;
        }
        if (delta !== 0) {
          restKeys.push(key);
          restDeltas.push(delta);
        }
      });
      if (restKeys.length === 0) return Promise.resolve();
      return this.toRedis(restKeys, restDeltas);
    }
    return this.toRedis(keys, deltas);
  }

  private toRedis(keys: string[], deltas: number[]): Promise<void> {
    if (!this.deferred) return this.send(keys, deltas);
    return new Promise((resolve, reject) => {
      if (!this.waiting) {
        const waiting = (this.waiting = { deltas: new Map<string, number>(), settled: [] as { resolve: () => void; reject: (err: unknown) => void }[] });
        this.deferred!.defer((via) => {
          this.waiting = undefined;
          this.send([...waiting.deltas.keys()], [...waiting.deltas.values()], via).then(
            () => waiting.settled.forEach((s) => s.resolve()),
            (err: unknown) => waiting.settled.forEach((s) => s.reject(err)),
          );
        });
      }
      keys.forEach((k, i) => this.waiting!.deltas.set(k, (this.waiting!.deltas.get(k) ?? 0) + deltas[i]!));
      this.waiting.settled.push({ resolve, reject });
    });
  }

  private send(keys: string[], deltas: number[], via?: ChainableCommander): Promise<void> {
    return commandOn(via ?? this.redis, 'inferiaAdjust', keys.length, ...keys, ...deltas).then(() => undefined);
  }
}

/** The most admissions one script call carries. */
const MAX_BATCH = 128;

interface PendingAdmission {
  limits: Limit[];
  keys: { key: string; ttl: number; end: number }[];
  tokens: number;
  now: number;
  resolve: (a: Admission) => void;
  reject: (err: unknown) => void;
}

/** One request's admission, read from its part of the batch's answer (admitted, refusing index, values). */
function admission(p: PendingAdmission, result: number[], at: number): Admission {
  const { limits, keys, now, tokens } = p;
  const states: LimitState[] = new Array(limits.length);
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i]!;
    const used = Number(result[at + 2 + i] ?? 0);
    states[i] = { limit: l, used, remaining: Math.max(0, l.limit - used), resetSeconds: Math.max(1, Math.ceil((keys[i]!.end - now) / 1000)) };
  }
  if (result[at] !== 1) return { admitted: false, states, blockedBy: states[Number(result[at + 1]) - 1]! };
  const tokenKeys: Reservation['tokenKeys'] = [];
  const requestKeys: Reservation['requestKeys'] = [];
  for (let i = 0; i < limits.length; i++) {
    if (limits[i]!.unit === 'tokens') tokenKeys.push({ key: keys[i]!.key, ttl: keys[i]!.ttl, reserved: tokens });
    else requestKeys.push({ key: keys[i]!.key, ttl: keys[i]!.ttl });
  }
  return { admitted: true, states, reservation: { tokenKeys, requestKeys } };
}

const limitsOfContext = new WeakMap<object, Limit[]>();

/**
 * The limits that apply to a request, from the key's own RPM/TPM and the org's and key's limits.
 * The same context object (the key-context cache hands out one per refresh) gets the same array
 * back, which also lets the limiter reuse its counter keys: treat it as read-only.
 */
export function limitsFor(ctx: {
  org_id: string;
  api_key_id: string;
  rpm_limit: number | null;
  tpm_limit: number | null;
  limits?: { scope: 'key' | 'org'; period: string; token_limit: number | null; request_limit: number | null }[];
}): Limit[] {
  const cached = limitsOfContext.get(ctx);
  if (cached) return cached;
  const out: Limit[] = [];
  if (ctx.rpm_limit) out.push({ scope: 'key', id: ctx.api_key_id, period: 'minute', unit: 'requests', limit: ctx.rpm_limit });
  if (ctx.tpm_limit) out.push({ scope: 'key', id: ctx.api_key_id, period: 'minute', unit: 'tokens', limit: ctx.tpm_limit });
  for (const l of ctx.limits ?? []) {
    if (l.period !== 'minute' && l.period !== 'day' && l.period !== 'month') continue;
    const id = l.scope === 'key' ? ctx.api_key_id : ctx.org_id;
    if (l.request_limit !== null) out.push({ scope: l.scope, id, period: l.period, unit: 'requests', limit: l.request_limit });
    if (l.token_limit !== null) out.push({ scope: l.scope, id, period: l.period, unit: 'tokens', limit: l.token_limit });
  }
  limitsOfContext.set(ctx, out);
  return out;
}
