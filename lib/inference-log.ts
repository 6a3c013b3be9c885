// The inference log pipeline: each request's log goes to a Redis Stream (written by the inference
// gateway off the hot path) and a consumer group writes it to Postgres — idempotently (unique
// request id), acknowledging only after the commit, reclaiming entries a dead consumer held, and
// dead-lettering entries Postgres keeps refusing. Nothing is lost when Postgres is down: entries
// wait in the stream until a commit succeeds, and the outage does not count against them.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Db } from './db.js';
import { commandOn, type ChainableCommander, type DeferredCommands } from './redis.js';

export const INFERENCE_LOG_STREAM = 'inferia:inference-logs';
export const INFERENCE_LOG_DEAD = 'inferia:inference-logs:dead';
export const INFERENCE_LOG_GROUP = 'inferia-log-writers';

export interface InferenceLogEntry {
  request_id: string;
  org_id: string;
  api_key_id: string | null;
  model: string;
  deployment_id: string | null;
  replica: string | null;
  stream: boolean;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number;
  ttfb_ms: number | null;
  status_code: number;
  error_code: string | null;
  guardrails: unknown[];
  /** Knowledge-base passages the prompt was given (RAG), with their documents and scores. */
  rag_sources?: unknown[];
  created_at: string;
}

/**
 * Entries written together go in one stream entry: field `entries`, a JSON array of them (one
 * entry alone: field `entry`, the entry). One XADD for many requests instead of one each: Redis,
 * the consumer's reads and acknowledgements and its insert handle a packet per event-loop turn
 * rather than a request at a time. At most this many entries per packet, so that a backlog sent
 * at once makes packets of a bounded size.
 */
export const MAX_ENTRIES_PER_PACKET = 200;

/** The stream fields of one packet: `entry` for one entry, `entries` (a JSON array) for more. */
export function packet(entries: readonly InferenceLogEntry[]): [field: 'entry' | 'entries', value: string] {
  if (entries.length === 1) return ['entry', JSON.stringify(entries[0])];
  let value = '[';
  for (let i = 0; i < entries.length; i++) value += (i === 0 ? '' : ',') + JSON.stringify(entries[i]);
  return ['entries', `${value}]`];
}

/** Splits entries into packets of at most MAX_ENTRIES_PER_PACKET. */
function packets<T>(entries: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < entries.length; i += MAX_ENTRIES_PER_PACKET) out.push(entries.slice(i, i + MAX_ENTRIES_PER_PACKET));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/**
 * Appends log entries. While Redis is unreachable they wait in a bounded buffer, and one retry loop
 * sends them in batches once it is back (the consumer ignores a duplicate: the request id is unique).
 */
export class InferenceLogWriter {
  private pending: InferenceLogEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private droppedCount = 0;
  /** Entries waiting for the deferred flush. */
  private waiting: InferenceLogEntry[] | undefined;
  /** Sends not answered yet (a failed one puts its entries in the buffer). */
  private readonly inflight = new Set<Promise<void>>();

  private readonly stream: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: {
      maxBuffered?: number;
      retryMs?: number;
      onError?: (err: unknown) => void;
      stream?: string;
      /** Entries wait here and leave with the connection's next urgent command (see DeferredCommands). */
      deferred?: DeferredCommands;
    } = {},
  ) {
    this.stream = options.stream ?? INFERENCE_LOG_STREAM;
  }

  write(entry: InferenceLogEntry): void {
    // Entries already wait: Redis is away, so this one joins them instead of trying on its own.
    if (this.pending.length > 0) return this.buffer(entry);
    if (!this.options.deferred) return this.send([entry]);
    // Entries waiting for the deferred flush leave in one command.
    if (!this.waiting) {
      this.waiting = [];
      this.options.deferred.defer((via) => this.sendWaiting(via));
    }
    this.waiting.push(entry);
  }

  private sendWaiting(via?: ChainableCommander): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) this.send(waiting, via);
  }

  /** Sends on the connection, or into `via` (a pipeline its owner executes). */
  private send(entries: InferenceLogEntry[], via?: ChainableCommander): void {
    if (entries.length > MAX_ENTRIES_PER_PACKET) {
      for (const part of packets(entries)) this.send(part, via);
      return;
    }
    if (entries.length === 0) return;
    const sent = commandOn(via ?? this.redis, 'xadd', this.stream, '*', ...packet(entries));
    const answered: Promise<void> = sent.then(
      () => {
        this.inflight.delete(answered);
      },
      (err: unknown) => {
        this.inflight.delete(answered);
        this.options.onError?.(err);
        for (const entry of entries) this.buffer(entry);
      },
    );
    this.inflight.add(answered);
  }

  /** Sends what waits, in batches; stops at the first batch Redis does not take and tries again later. */
  flush(): Promise<void> {
    this.flushing ??= this.sendBuffered().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.schedule();
    });
    return this.flushing;
  }

  /**
   * Graceful shutdown (the gateway's close, on SIGTERM): sends the entries waiting for the deferred
   * flush and those the buffer holds, without waiting for the retry timer, and resolves once Redis
   * has taken them, or after `timeoutMs` if it stays away (what is left then is lost with the process).
   */
  async close(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.sendWaiting();
      // Each send is answered, or fails within the connection's command timeout (then buffered).
      while (this.inflight.size > 0 && Date.now() < deadline) await Promise.race([Promise.all([...this.inflight]), sleep(deadline - Date.now())]);
      if ((this.pending.length === 0 && this.inflight.size === 0) || Date.now() >= deadline) break;
      await this.flush();
      if (this.pending.length > 0) await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async sendBuffered(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = packets(this.pending.slice(0, 5 * MAX_ENTRIES_PER_PACKET));
      const pipeline = this.redis.pipeline();
      for (const part of batch) pipeline.xadd(this.stream, '*', ...packet(part));
      const results = await pipeline.exec().catch(() => null);
      const sent = new Set(batch.filter((_, i) => results?.[i] && !results[i]![0]).flat());
      if (sent.size === 0) break;
      // Entries written meanwhile were appended: remove by identity, not by position.
      this.pending = this.pending.filter((e) => !sent.has(e));
    }
  }

  private buffer(entry: InferenceLogEntry): void {
    if (this.pending.length < (this.options.maxBuffered ?? 50_000)) this.pending.push(entry);
    else this.droppedCount += 1;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => void this.flush(), this.options.retryMs ?? 1000);
    this.timer.unref();
  }

  /** Entries waiting for Redis (or for the deferred flush). */
  get buffered(): number {
    return this.pending.length + (this.waiting?.length ?? 0);
  }

  /** Entries lost because the buffer was full. */
  get dropped(): number {
    return this.droppedCount;
  }
}

export interface ConsumerOptions {
  consumer?: string;
  batch?: number;
  blockMs?: number;
  /** Entries pending this long on a consumer are taken over (the consumer is presumed dead). */
  claimIdleMs?: number;
  /**
   * Failed attempts after which an entry Postgres keeps refusing is dead-lettered (a row refused for
   * its content is at once). Only attempts Postgres answered count: an outage dead-letters nothing.
   */
  maxAttempts?: number;
  /** Pause after a round that failed (Redis or Postgres unreachable). */
  retryMs?: number;
  /** How often to look for other consumers' stale entries (the first round always looks); default claimIdleMs. */
  claimEveryMs?: number;
  /**
   * After a round that found less than a full batch, wait this long before reading again, so the
   * next round stores many entries in one insert instead of a few (default 100 ms).
   */
  lingerMs?: number;
  /**
   * How often to remove acknowledged entries from the stream (default 5000 ms; 0: after every round
   * that stored something). Without it the stream keeps every entry ever written.
   */
  trimEveryMs?: number;
  onError?: (err: unknown) => void;
  /** Stream names (tests use their own). */
  stream?: string;
  deadLetterStream?: string;
  group?: string;
}

type StreamEntry = [id: string, fields: string[] | null];

const DEFAULT_BATCH = 500;

export class InferenceLogConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  /** Failed attempts per entry id while Postgres answered (this consumer's view). */
  private readonly failures = new Map<string, number>();
  private lastClaimAt = 0;
  private lastTrimAt = 0;
  /** This consumer may hold entries it has not stored (at start, after a failed round). */
  private ownPending = true;
  /** Stream entries the last round read (packets: each holds one log entry or more). */
  private lastRead = 0;
  readonly consumer: string;
  private readonly stream: string;
  private readonly dead: string;
  private readonly group: string;

  constructor(
    private readonly redis: Redis,
    private readonly db: Db,
    private readonly options: ConsumerOptions = {},
  ) {
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}`;
    this.stream = options.stream ?? INFERENCE_LOG_STREAM;
    this.dead = options.deadLetterStream ?? INFERENCE_LOG_DEAD;
    this.group = options.group ?? INFERENCE_LOG_GROUP;
  }

  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      let grouped = false;
      const batch = this.options.batch ?? DEFAULT_BATCH;
      const linger = this.options.lingerMs ?? 100;
      while (this.running) {
        try {
          if (!grouped) {
            await this.ensureGroup();
            grouped = true;
          }
          const stored = await this.runOnce();
          if (stored > 0 && this.lastRead < batch && linger > 0) await sleep(linger);
        } catch (err) {
          this.ownPending = true;
          this.options.onError?.(err);
          // A Redis restarted without its data lost the group as well: create it again (from 0,
          // so entries written since the restart are read too).
          if (String((err as Error)?.message).includes('NOGROUP')) grouped = false;
          await sleep(this.options.retryMs ?? 1000);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * One round: retry what this consumer holds unstored, else take over stale entries of others,
   * else read new ones; store and acknowledge. Returns how many log entries were stored.
   */
  async runOnce(): Promise<number> {
    const batch = this.options.batch ?? DEFAULT_BATCH;
    const claimIdleMs = this.options.claimIdleMs ?? 30_000;
    // Its own pending entries first: after a Postgres outage they are stored as soon as it is back,
    // not once claimIdleMs has passed. Only looked for when there may be some (a round that stored
    // everything it read leaves none).
    let entries: StreamEntry[] = [];
    let moreOwn = false;
    if (this.ownPending) {
      entries = await this.read(batch, '0');
      moreOwn = entries.length >= batch;
      if (!moreOwn) this.ownPending = false;
    }
    // Claiming scans the pending list: once per claim period is enough (and on the first round).
    if (entries.length === 0 && Date.now() - this.lastClaimAt >= (this.options.claimEveryMs ?? claimIdleMs)) {
      const claimed = (await this.redis.xautoclaim(this.stream, this.group, this.consumer, claimIdleMs, '0-0', 'COUNT', batch)) as [string, StreamEntry[]];
      entries = claimed[1] ?? [];
      // A full batch means there may be more to take over: look again next round.
      if (entries.length < batch) this.lastClaimAt = Date.now();
    }
    if (entries.length === 0) entries = await this.read(batch, '>', this.options.blockMs ?? 2000);
    this.lastRead = entries.length;
    if (entries.length === 0) return 0;
    const stored = await this.store(entries);
    if (moreOwn) this.ownPending = true;
    if (stored > 0 && Date.now() - this.lastTrimAt >= (this.options.trimEveryMs ?? 5000)) {
      this.lastTrimAt = Date.now();
      // A failed trim loses nothing: the next one removes what this one would have.
      await this.trim().catch((err: unknown) => this.options.onError?.(err));
    }
    return stored;
  }

  /**
   * Removes the entries that every group of the stream is done with: those older than the oldest
   * entry any group still has pending (delivered, not acknowledged: on whichever consumer), and for
   * a group with nothing pending, older than the last entry it was given. An entry no group has been
   * given yet is newer than every group's last-delivered id, so it stays; so do dead consumers'
   * entries until they are claimed and stored. Returns how many entries were removed.
   */
  async trim(): Promise<number> {
    const groups = (await this.redis.xinfo('GROUPS', this.stream)) as unknown[][];
    let floor: string | undefined;
    for (const group of groups) {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < group.length; i += 2) info.set(String(group[i]), group[i + 1]);
      let oldest = String(info.get('last-delivered-id') ?? '0-0');
      if (Number(info.get('pending') ?? 0) > 0) {
        const summary = (await this.redis.xpending(this.stream, String(info.get('name')))) as [number, string | null, ...unknown[]];
        if (summary[1]) oldest = summary[1];
      }
      if (floor === undefined || compareIds(oldest, floor) < 0) floor = oldest;
    }
    if (floor === undefined || floor === '0-0') return 0;
    return Number(await this.redis.xtrim(this.stream, 'MINID', floor));
  }

  private async read(count: number, from: '0' | '>', blockMs?: number): Promise<StreamEntry[]> {
    const { group, consumer, stream } = this;
    const read = (
      blockMs === undefined
        ? await this.redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, from)
        : await this.redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', stream, from)
    ) as [string, StreamEntry[]][] | null;
    return read?.[0]?.[1] ?? [];
  }

  private async store(read: StreamEntry[]): Promise<number> {
    // Until the batch is acknowledged (or dead-lettered) this consumer holds it.
    this.ownPending = true;
    const packets: Packet[] = [];
    const gone: string[] = [];
    for (const [id, fields] of read) {
      if (fields) packets.push(unpack(id, fields));
      else gone.push(id); // trimmed from the stream while pending: nothing left to store
    }
    if (gone.length > 0) await this.redis.xack(this.stream, this.group, ...gone);
    const items = packets.flatMap((p) => p.items);
    if (items.length > 0) {
      try {
        for (const group of insertGroups(packets)) await insertLogs(this.db, group);
      } catch (err) {
        this.options.onError?.(err);
        // Postgres down: leave the batch pending; it is retried once Postgres is back, and never
        // dead-lettered for the outage. Postgres up: one row is bad; find it one by one.
        if (await this.postgresAnswers()) await this.storeOneByOne(packets);
        else await sleep(this.options.retryMs ?? 1000);
        return 0;
      }
      if (this.failures.size > 0) for (const item of items) this.failures.delete(item.entry.request_id);
    }
    if (packets.length > 0) {
      // One transaction: the refused parts go to the dead letters as the packets are acknowledged.
      const done = this.redis.multi();
      for (const p of packets) for (const [original, deadFields] of p.refused) done.xadd(this.dead, '*', 'original_id', original, ...deadFields);
      done.xack(this.stream, this.group, ...packets.map((p) => p.id));
      await done.exec();
    }
    this.ownPending = false;
    return items.length;
  }

  private postgresAnswers(): Promise<boolean> {
    return this.db.$queryRaw`SELECT 1`.then(
      () => true,
      () => false,
    );
  }

  /**
   * Postgres answers but refused the batch: store entry by entry. One refused for its content is
   * dead-lettered at once; one failing otherwise is retried, and dead-lettered after maxAttempts so
   * that it cannot hold up the entries behind it. A packet is acknowledged once each of its entries
   * is stored or dead-lettered; one whose entries are partly stored and partly to be retried gives
   * those to the stream again as a new packet (in the transaction that acknowledges it), so that
   * what was stored or dead-lettered is not done twice.
   */
  private async storeOneByOne(packets: Packet[]) {
    let retrying = false;
    for (const p of packets) {
      const again: Item[] = [];
      const refused = [...p.refused];
      for (const item of p.items) {
        const { entry } = item;
        try {
          await this.db.inferenceLog.createMany({ data: [toRow(entry)], skipDuplicates: true });
          this.failures.delete(entry.request_id);
          continue;
        } catch (err) {
          if (!refusedForItsData(err) && !(await this.postgresAnswers())) return; // it went away meanwhile: everything waits
          const attempts = refusedForItsData(err) ? Infinity : (this.failures.get(entry.request_id) ?? 0) + 1;
          if (attempts >= (this.options.maxAttempts ?? 5)) {
            refused.push(item.deadLetter());
            this.failures.delete(entry.request_id);
          } else {
            if (this.failures.size >= 10_000) this.failures.clear();
            this.failures.set(entry.request_id, attempts);
            again.push(item);
          }
        }
      }
      if (again.length > 0) retrying = true;
      // Nothing of it stored or dead-lettered: it stays pending as it is, and is read again.
      if (again.length > 0 && again.length === p.items.length && refused.length === 0) continue;
      const done = this.redis.multi();
      if (again.length > 0) done.xadd(this.stream, '*', ...packet(again.map((a) => a.entry)));
      for (const [original, deadFields] of refused) done.xadd(this.dead, '*', 'original_id', original, ...deadFields);
      done.xack(this.stream, this.group, p.id);
      await done.exec();
    }
    if (retrying) await sleep(this.options.retryMs ?? 1000);
  }
}

/** Orders two stream ids (`<ms>-<seq>`). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** Refused for the row's content (SQLSTATE class 22 or 23, or Prisma's own validation): retrying cannot help. */
function refusedForItsData(err: unknown): boolean {
  if ((err as Error | undefined)?.name === 'PrismaClientValidationError') return true;
  const code = (err as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } } | undefined)?.meta?.driverAdapterError?.cause?.originalCode;
  return typeof code === 'string' && /^2[23]/.test(code);
}

/** Log entries per insert statement (a round can read many packets of many entries each). */
const INSERT_ROWS = 2000;

/** Packets in groups of about INSERT_ROWS entries (a packet is never split). */
function insertGroups(packets: readonly Packet[]): Packet[][] {
  const groups: Packet[][] = [];
  let rows = INSERT_ROWS;
  for (const p of packets) {
    if (p.items.length === 0) continue;
    if (rows + p.items.length > INSERT_ROWS) {
      groups.push([]);
      rows = 0;
    }
    groups[groups.length - 1]!.push(p);
    rows += p.items.length;
  }
  return groups;
}

/** One log entry of a packet, read and checked. */
interface Item {
  entry: InferenceLogEntry;
  /** The entry as it would go to the dead letters: its original id (`<stream id>#<index>` in a packet) and fields. */
  deadLetter(): [original: string, fields: string[]];
}

/** One stream entry: the log entries it holds, and what of it cannot be read (to dead-letter). */
interface Packet {
  id: string;
  items: Item[];
  refused: [original: string, fields: string[]][];
  /** Its entries as JSON objects separated by commas: the text as written when all were readable. */
  rows: string;
}

function readable(value: unknown): value is InferenceLogEntry {
  const e = value as InferenceLogEntry | null;
  return typeof e === 'object' && e !== null && typeof e.request_id === 'string' && typeof e.org_id === 'string';
}

/** Reads a stream entry: `entry` (one log entry) or `entries` (a JSON array of them). */
function unpack(id: string, fields: string[]): Packet {
  const at = fields.indexOf('entry');
  const single = at >= 0 && at % 2 === 0;
  const packed = fields.indexOf('entries');
  const raw = single ? fields[at + 1] : packed >= 0 && packed % 2 === 0 ? fields[packed + 1] : undefined;
  const unreadable: Packet = { id, items: [], refused: [[id, fields]], rows: '' };
  let value: unknown;
  try {
    value = JSON.parse(raw ?? '');
  } catch {
    return unreadable;
  }
  if (single) return readable(value) ? { id, items: [{ entry: value, deadLetter: () => [id, fields] }], refused: [], rows: raw! } : unreadable;
  if (!Array.isArray(value)) return unreadable;
  const out: Packet = { id, items: [], refused: [], rows: '' };
  value.forEach((entry: unknown, i) => {
    const deadLetter = (): [string, string[]] => [`${id}#${i}`, ['entry', JSON.stringify(entry) ?? 'null']];
    if (readable(entry)) out.items.push({ entry, deadLetter });
    else out.refused.push(deadLetter());
  });
  // Written by the gateway, the array's text is its entries' texts between brackets.
  out.rows = out.refused.length === 0 ? raw!.trim().slice(1, -1) : out.items.map((item) => JSON.stringify(item.entry)).join(',');
  return out;
}

/**
 * Stores entries in one statement, skipping request ids already stored (redelivered entries).
 * The rows go as one JSON parameter that Postgres reads into records, rather than through
 * Prisma's createMany, which compiled a query plan per batch and cost about 400 µs of CPU per row
 * (or a column array per field, which cost the consumer more to build and send than the JSON it
 * has already). Row by row, after a batch was refused, createMany is kept: its errors say whether
 * the row's content was at fault.
 */
async function insertLogs(db: Db, packets: readonly Packet[]): Promise<void> {
  let rows = '[';
  for (const p of packets) if (p.rows) rows += (rows.length === 1 ? '' : ',') + p.rows;
  rows += ']';
  await db.$executeRaw`
    INSERT INTO inference_logs (request_id, org_id, api_key_id, model, deployment_id, replica, stream, prompt_tokens, completion_tokens,
                                latency_ms, ttfb_ms, status_code, error_code, guardrails, rag_sources, created_at)
    SELECT request_id, org_id, api_key_id, model, deployment_id, replica, stream, prompt_tokens, completion_tokens,
           latency_ms, ttfb_ms, status_code, error_code, coalesce(guardrails, '[]'), coalesce(rag_sources, '[]'), created_at
    FROM json_to_recordset(${rows}::json) AS r(
      request_id text, org_id uuid, api_key_id uuid, model text, deployment_id uuid, replica text, stream boolean, prompt_tokens integer,
      completion_tokens integer, latency_ms integer, ttfb_ms integer, status_code integer, error_code text, guardrails jsonb,
      rag_sources jsonb, created_at timestamptz)
    ON CONFLICT (request_id) DO NOTHING`;
}

function toRow(e: InferenceLogEntry) {
  return {
    requestId: e.request_id,
    orgId: e.org_id,
    apiKeyId: e.api_key_id,
    model: e.model,
    deploymentId: e.deployment_id,
    replica: e.replica,
    stream: e.stream,
    promptTokens: e.prompt_tokens,
    completionTokens: e.completion_tokens,
    latencyMs: e.latency_ms,
    ttfbMs: e.ttfb_ms,
    statusCode: e.status_code,
    errorCode: e.error_code,
    guardrails: e.guardrails as object[],
    ragSources: (e.rag_sources ?? []) as object[],
    createdAt: new Date(e.created_at),
  };
}
