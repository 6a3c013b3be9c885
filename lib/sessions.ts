// Revocation of live access tokens. Access tokens are short-lived JWTs; logout, a password change
// or a role change must still end them at once. Redis keeps, for at most one token lifetime,
// which sessions are revoked and from when a user's tokens are valid again; every gateway checks
// both in one round trip.
import type { Redis } from 'ioredis';
import { unauthorized } from './errors.js';
import type { Caller } from './http/auth.js';

const sidKey = (sid: string) => `inferia:revoked-session:${sid}`;
const userKey = (userId: string) => `inferia:sessions-valid-from:${userId}`;

export class SessionRevocations {
  constructor(
    private readonly redis: Redis,
    private readonly accessTtlSeconds: number,
  ) {}

  async revokeSessions(sids: string[]): Promise<void> {
    if (sids.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const sid of sids) pipeline.set(sidKey(sid), '1', 'EX', this.accessTtlSeconds + 60);
    await pipeline.exec();
  }

  /** Every token of this user issued before now stops working. */
  async revokeUser(userId: string): Promise<void> {
    await this.redis.set(userKey(userId), String(Date.now()), 'EX', this.accessTtlSeconds + 60);
  }

  async assertLive(caller: Caller): Promise<void> {
    if (caller.kind !== 'user') return;
    const [revoked, validFrom] = await this.redis.mget(sidKey(caller.sessionId ?? '-'), userKey(caller.userId));
    if (revoked || (validFrom && caller.issuedAt <= Number(validFrom))) throw unauthorized('session has ended; sign in again');
  }
}
