// Fixed-window failure counters in Redis, shared by every gateway instance: login attempts per
// account and per address, TOTP failures per user.
import type { Redis } from 'ioredis';

export class FailureCounter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly limit: number,
    readonly windowSeconds: number,
  ) {}

  private key(id: string) {
    return `inferia:fail:${this.prefix}:${id}`;
  }

  /** Seconds until the window ends when the limit is reached, else 0. */
  async blockedFor(id: string): Promise<number> {
    const [count, ttl] = await Promise.all([this.redis.get(this.key(id)), this.redis.ttl(this.key(id))]);
    return Number(count ?? 0) >= this.limit ? Math.max(ttl, 1) : 0;
  }

  /** Counts one failure; returns the count in this window. */
  async fail(id: string): Promise<number> {
    const [[, count]] = (await this.redis.multi().incr(this.key(id)).expire(this.key(id), this.windowSeconds, 'NX').exec()) as [[null, number], unknown];
    return count;
  }

  async reset(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
