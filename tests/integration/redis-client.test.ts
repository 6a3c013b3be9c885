// The Redis connections every process makes (lib/redis.ts), against a Redis of the test's own that
// it freezes (SIGSTOP), kills and restarts: a command never waits longer than its timeout, a
// blocking read waits what it asked for, a command whose caller gave up is not replayed, and
// subscriptions come back after a restart.
import { Command } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, RedisTimeoutError, type Redis } from '../../lib/redis.js';
import { uniq, waitFor } from '../helpers/env.js';
import { privateDir, privateRedis, type PrivateRedis } from '../helpers/private-services.js';

let folder: ReturnType<typeof privateDir>;
let redis: PrivateRedis;
const clients: Redis[] = [];

const client = (timeoutMs: number) => {
  const c = createRedis(redis.url, uniq('client'), { commandTimeoutMs: timeoutMs });
  c.on('error', () => undefined); // reconnection errors are expected here
  clients.push(c);
  return c;
};

beforeAll(async () => {
  folder = privateDir('redis-client');
  redis = await privateRedis(folder.dir);
});

afterAll(() => {
  for (const c of clients) c.disconnect();
  redis?.stop();
  folder?.remove();
});

describe('Redis connections when Redis goes away', () => {
  it('fails a command on a frozen Redis within its timeout, and does not replay it', async () => {
    const c = client(300);
    const key = uniq('counter');
    await c.set(key, '0');
    redis.signal('SIGSTOP');
    try {
      const started = performance.now();
      const incr = new Command('incr', [key]);
      await expect(c.sendCommand(incr) as Promise<unknown>).rejects.toBeInstanceOf(RedisTimeoutError);
      expect(performance.now() - started).toBeLessThan(3000);
      // ioredis re-sends unanswered and queued commands when a connection is ready again; this one's
      // caller has given up (and may have answered 503 or buffered its entry), so it is not re-sent.
      await expect(c.sendCommand(incr) as Promise<unknown>).rejects.toBeInstanceOf(RedisTimeoutError);
      // A stream read without BLOCK is an ordinary command.
      await expect(c.xread('COUNT', 1, 'STREAMS', key, '0')).rejects.toBeInstanceOf(RedisTimeoutError);
    } finally {
      redis.signal('SIGCONT');
    }
    // The server runs what it had already received, once.
    await waitFor(async () => (await c.get(key)) === '1', 10_000);
    expect(await c.get(key)).toBe('1');
  });

  it('lets a blocking read wait as long as it asked, beyond the command timeout', async () => {
    const c = client(200);
    const started = performance.now();
    expect(await c.xread('BLOCK', 800, 'STREAMS', uniq('empty'), '$')).toBeNull();
    expect(performance.now() - started).toBeGreaterThanOrEqual(700);
  });

  it('fails commands in bounded time while Redis is dead, and works again with its subscriptions after a restart', async () => {
    const c = client(500);
    const subscriber = client(500);
    const channel = uniq('channel');
    const heard: string[] = [];
    await subscriber.subscribe(channel);
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    await c.publish(channel, 'before');
    await waitFor(async () => heard.includes('before'), 5_000, 20);

    redis.signal('SIGKILL');
    await waitFor(async () => c.status !== 'ready', 5_000, 20);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await expect(c.get('x')).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(3000);
    }

    await redis.start();
    await waitFor(async () => (await c.ping().catch(() => '')) === 'PONG', 15_000, 100);
    // ioredis subscribes again by itself once it has reconnected.
    await waitFor(
      async () => {
        await c.publish(channel, 'after');
        return heard.includes('after');
      },
      15_000,
      200,
    );
  });
});
