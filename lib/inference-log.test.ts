import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InferenceLogWriter, MAX_ENTRIES_PER_PACKET, type InferenceLogEntry } from './inference-log.js';
import { DeferredCommands } from './redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Redis that can be away. A command sent while it is away waits (as in ioredis's offline queue)
 * and then succeeds if it has come back meanwhile, else fails; one sent while it is up answers fast.
 */
class FlakyRedis {
  up = false;
  readonly stream: string[] = [];
  constructor(private readonly awayWaitMs: number) {}
  /** Each value is a packet: one entry (field `entry`) or a JSON array of them (`entries`). */
  private async answer(packets: [field: string, value: string][]): Promise<[Error | null, string | null][]> {
    await sleep(this.up ? 2 : this.awayWaitMs);
    return packets.map(([field, value]) => {
      if (!this.up) return [new Error('Connection is closed.'), null];
      const entries = field === 'entries' ? (JSON.parse(value) as InferenceLogEntry[]) : [JSON.parse(value) as InferenceLogEntry];
      for (const e of entries) this.stream.push(e.request_id);
      this.packets += 1;
      return [null, `${this.packets}-0`];
    });
  }
  packets = 0;
  async xadd(_stream: string, _id: string, field: string, value: string): Promise<string> {
    const [[err, id]] = (await this.answer([[field, value]])) as [[Error | null, string | null]];
    if (err) throw err;
    return id!;
  }
  pipeline() {
    const packets: [string, string][] = [];
    const pipeline = {
      xadd: (_stream: string, _id: string, field: string, value: string) => {
        packets.push([field, value]);
        return pipeline;
      },
      exec: () => this.answer(packets),
    };
    return pipeline;
  }
}

const entry = (n: number) => ({ request_id: `req_${n}` }) as InferenceLogEntry;

describe('inference log writer', () => {
  it('buffers while Redis is away and sends every entry exactly once when it is back, however writes and retries interleave', async () => {
    // Commands into the void take longer than the retry interval, so retries and writes overlap.
    const redis = new FlakyRedis(1200);
    const errors: unknown[] = [];
    const writer = new InferenceLogWriter(redis as unknown as Redis, { retryMs: 50, onError: (err) => errors.push(err) });
    let n = 0;
    for (; n < 250; n++) {
      writer.write(entry(n));
      await sleep(10);
    }
    expect(writer.buffered).toBeGreaterThan(0);
    redis.up = true;
    for (; n < 400; n++) {
      writer.write(entry(n));
      if (n % 20 === 0) await sleep(3);
    }
    for (let i = 0; i < 300 && writer.buffered > 0; i++) await sleep(20);
    expect(writer.buffered).toBe(0);
    expect(new Set(redis.stream).size).toBe(400); // none lost
    expect(redis.stream).toHaveLength(400); // none twice
    // Once an entry waits, the next ones join it instead of each trying (and failing) on its own.
    expect(errors.length).toBeLessThan(250);
  });

  it('drops what does not fit its bound, and says how much', async () => {
    const redis = new FlakyRedis(1);
    const writer = new InferenceLogWriter(redis as unknown as Redis, { retryMs: 1000, maxBuffered: 10 });
    writer.write(entry(0));
    await sleep(20);
    for (let n = 1; n < 15; n++) writer.write(entry(n));
    expect(writer.buffered).toBe(10);
    expect(writer.dropped).toBe(5);
  });

  it('on close sends what it buffered at once, without waiting for its retry timer', async () => {
    const redis = new FlakyRedis(5);
    const writer = new InferenceLogWriter(redis as unknown as Redis, { retryMs: 60_000 });
    for (let n = 0; n < 20; n++) writer.write(entry(n));
    await sleep(50);
    expect(writer.buffered).toBe(20);
    redis.up = true;
    await writer.close(2000);
    expect(writer.buffered).toBe(0);
    expect(redis.stream).toHaveLength(20);
  });

  it('sends what it buffered in packets of at most MAX_ENTRIES_PER_PACKET entries, in order', async () => {
    const redis = new FlakyRedis(5);
    const writer = new InferenceLogWriter(redis as unknown as Redis, { retryMs: 60_000 });
    const count = 2 * MAX_ENTRIES_PER_PACKET + 50;
    for (let n = 0; n < count; n++) writer.write(entry(n));
    await sleep(50);
    redis.up = true;
    await writer.close(2000);
    expect(redis.stream).toEqual(Array.from({ length: count }, (_, n) => `req_${n}`));
    // Each write failed on its own (nothing waited yet when it was sent); the buffer left in three packets.
    expect(redis.packets).toBe(3);
  });

  it('on close sends the entries waiting for the deferred flush, and gives up after its timeout while Redis stays away', async () => {
    const redis = new FlakyRedis(5);
    redis.up = true;
    const deferred = new DeferredCommands(60_000);
    const writer = new InferenceLogWriter(redis as unknown as Redis, { retryMs: 60_000, deferred });
    for (let n = 0; n < 3; n++) writer.write(entry(n));
    expect(redis.stream).toHaveLength(0);
    await writer.close(2000);
    expect(redis.stream).toEqual(['req_0', 'req_1', 'req_2']);

    redis.up = false;
    writer.write(entry(3));
    const started = Date.now();
    await writer.close(300);
    expect(Date.now() - started).toBeLessThan(5000); // tripwire: it returns, it does not hang
    expect(writer.buffered).toBe(1);
  });
});
