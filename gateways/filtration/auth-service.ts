// Sign-in and sessions: register, login (with TOTP when enabled), refresh-token rotation with
// family revocation on reuse, logout, password change, and TOTP enrolment. Built as the most
// trusted identity systems do it: one answer for unknown users and wrong passwords, throttling
// per account and per address, one-time TOTP codes, secrets encrypted, tokens stored hashed.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import type { Config } from '../../lib/config.js';
import { decryptSecret, dummyPasswordHash, encryptSecret, hashPassword, keyedHash, randomToken, verifyPassword } from '../../lib/crypto.js';
import type { Db } from '../../lib/db.js';
import { AppError, conflict, unauthorized } from '../../lib/errors.js';
import { signAccessToken, type Caller } from '../../lib/http/auth.js';
import type { SessionRevocations } from '../../lib/sessions.js';
import { FailureCounter } from '../../lib/throttle.js';

export interface AuthDeps {
  db: Db;
  redis: Redis;
  config: Config;
  sessions: SessionRevocations;
}

export interface ClientMeta {
  ip: string;
  userAgent: string;
}

const LOGIN_FAILED = 'invalid email or password';
const TOTP_FAILURE_LIMIT = 5;
const LOCK_MINUTES = 15;

type UserRow = Awaited<ReturnType<Db['user']['findUniqueOrThrow']>>;

export class AuthService {
  private readonly accountFailures: FailureCounter;
  private readonly addressFailures: FailureCounter;
  private readonly totpFailures: FailureCounter;

  constructor(private readonly deps: AuthDeps) {
    this.accountFailures = new FailureCounter(deps.redis, 'login-account', 10, 15 * 60);
    this.addressFailures = new FailureCounter(deps.redis, 'login-address', 100, 15 * 60);
    this.totpFailures = new FailureCounter(deps.redis, 'totp', TOTP_FAILURE_LIMIT, 15 * 60);
  }

  // ───────────────────────────── sign-in ─────────────────────────────

  async register(input: { email: string; password: string; name?: string; org_name?: string }, meta: ClientMeta) {
    const { db } = this.deps;
    const email = input.email.toLowerCase();
    const domain = email.split('@')[1] ?? '';
    const passwordHash = await hashPassword(input.password);
    // An organisation that allows this e-mail domain takes the user in as a viewer; otherwise the
    // user founds their own organisation and owns it.
    const joinable = await db.organization.findFirst({ where: { allowedEmailDomains: { has: domain } }, orderBy: { createdAt: 'asc' } });
    try {
      const created = await db.$transaction(async (tx) => {
        const user = await tx.user.create({ data: { email, passwordHash, name: input.name ?? '' } });
        const org =
          joinable ??
          (await tx.organization.create({
            data: { name: input.org_name ?? `${input.name || email.split('@')[0]}'s organization`, slug: `org-${randomUUID().slice(0, 8)}` },
          }));
        const roleName = joinable ? 'viewer' : 'owner';
        const role = await tx.role.findFirstOrThrow({ where: { orgId: null, name: roleName } });
        await tx.membership.create({ data: { userId: user.id, orgId: org.id, roleId: role.id } });
        await tx.auditLog.create({
          data: { orgId: org.id, actorId: user.id, actorType: 'user', action: 'auth.register', resourceType: 'user', resourceId: user.id, after: { email, role: roleName }, ip: meta.ip },
        });
        return { user_id: user.id, org_id: org.id, role: roleName };
      });
      return created;
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw conflict('an account with this e-mail already exists', { field: 'email' });
      throw err;
    }
  }

  async login(input: { email: string; password: string; totp_code?: string; org_id?: string }, meta: ClientMeta) {
    const { db } = this.deps;
    const email = input.email.toLowerCase();
    const blocked = Math.max(await this.accountFailures.blockedFor(email), await this.addressFailures.blockedFor(meta.ip));
    if (blocked > 0) throw new AppError('rate_limited', 'too many failed sign-in attempts; try again later', { retry_after: blocked });

    const user = await db.user.findUnique({ where: { email } });
    // Verify against a real-cost hash even for an unknown user: same answer, similar timing.
    const passwordOk = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !passwordOk || !user.isActive) {
      await Promise.all([this.accountFailures.fail(email), this.addressFailures.fail(meta.ip)]);
      throw new AppError('unauthorized', LOGIN_FAILED);
    }
    if (user.lockedUntil && user.lockedUntil > new Date()) throw new AppError('unauthorized', 'account temporarily locked after repeated failures');
    if (user.totpEnabled) {
      if (!input.totp_code) throw new AppError('totp_required', 'a TOTP code is required for this account');
      await this.consumeTotp(user, input.totp_code);
    }
    await this.accountFailures.reset(email);

    const membership = await db.membership.findFirst({
      where: { userId: user.id, ...(input.org_id ? { orgId: input.org_id } : {}) },
      include: { role: true },
      orderBy: { createdAt: 'asc' },
    });
    if (!membership) throw new AppError('forbidden', 'user has no membership in that organization');
    return this.issue(user, membership.orgId, membership.role.name, randomUUID(), meta);
  }

  /**
   * Accepts a TOTP code at most once (RFC 6238, one step of drift either way). Only the first of
   * concurrent submissions of the same code records its time step; the others are replays.
   * Failures are counted across sessions and lock the account.
   */
  private async consumeTotp(user: UserRow, code: string): Promise<void> {
    const { db, config } = this.deps;
    if (user.lockedUntil && user.lockedUntil > new Date()) throw new AppError('unauthorized', 'account temporarily locked after repeated failures');
    const secret = decryptSecret(config.secrets.encryptionKey, user.totpSecretEnc ?? '', `totp:${user.id}`);
    const result = await verifyTotp({ secret, token: code, epochTolerance: 30 });
    const step = result.valid && 'timeStep' in result ? BigInt(result.timeStep as number) : undefined;
    if (step !== undefined) {
      const won = await db.user.updateMany({
        where: { id: user.id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
        data: { totpLastStep: step },
      });
      if (won.count === 1) {
        await this.totpFailures.reset(user.id);
        return;
      }
    }
    const failures = await this.totpFailures.fail(user.id);
    if (failures >= TOTP_FAILURE_LIMIT) {
      await db.user.update({ where: { id: user.id }, data: { lockedUntil: new Date(Date.now() + LOCK_MINUTES * 60_000) } });
      await this.totpFailures.reset(user.id);
    }
    throw new AppError('unauthorized', step === undefined ? 'invalid TOTP code' : 'TOTP code already used');
  }

  private async issue(user: UserRow, orgId: string, role: string, familyId: string, meta: ClientMeta) {
    const { db, config } = this.deps;
    const sid = randomUUID();
    const refresh = `rt_${randomToken(32)}`;
    await db.refreshToken.create({
      data: {
        id: sid,
        userId: user.id,
        familyId,
        tokenHash: keyedHash(config.secrets.apiKeyPepper, refresh),
        expiresAt: new Date(Date.now() + config.jwt.refreshTtlSeconds * 1000),
        ip: meta.ip.slice(0, 100),
        userAgent: meta.userAgent.slice(0, 300),
      },
    });
    return {
      access_token: signAccessToken(config, { sub: user.id, org: orgId, role, email: user.email, sid }),
      refresh_token: refresh,
      token_type: 'bearer',
      expires_in: config.jwt.accessTtlSeconds,
      org_id: orgId,
    };
  }

  /** Rotates a refresh token. A spent one presented again means theft: the whole family ends. */
  async refresh(token: string, meta: ClientMeta) {
    const { db, config } = this.deps;
    const row = await db.refreshToken.findUnique({ where: { tokenHash: keyedHash(config.secrets.apiKeyPepper, token) } });
    if (!row) throw unauthorized('invalid refresh token');
    if (row.usedAt || row.revokedAt) {
      await this.revokeFamily(row.familyId);
      throw unauthorized('refresh token reuse detected; every session of this sign-in has been ended');
    }
    if (row.expiresAt <= new Date()) throw unauthorized('refresh token expired');
    const spent = await db.refreshToken.updateMany({ where: { id: row.id, usedAt: null, revokedAt: null }, data: { usedAt: new Date() } });
    if (spent.count === 0) {
      await this.revokeFamily(row.familyId); // lost a race with another use of the same token
      throw unauthorized('refresh token reuse detected; every session of this sign-in has been ended');
    }
    const user = await db.user.findUniqueOrThrow({ where: { id: row.userId } });
    if (!user.isActive) throw unauthorized('account disabled');
    const claimsOrg = await db.membership.findFirst({ where: { userId: user.id }, include: { role: true }, orderBy: { createdAt: 'asc' } });
    if (!claimsOrg) throw new AppError('forbidden', 'user has no organization membership');
    await this.deps.sessions.revokeSessions([row.id]);
    return this.issue(user, claimsOrg.orgId, claimsOrg.role.name, row.familyId, meta);
  }

  private async revokeFamily(familyId: string): Promise<void> {
    const { db } = this.deps;
    const members = await db.refreshToken.findMany({ where: { familyId }, select: { id: true } });
    await db.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
    await this.deps.sessions.revokeSessions(members.map((m) => m.id));
  }

  async logout(caller: Caller): Promise<{ logged_out: true }> {
    if (caller.kind !== 'user') throw unauthorized('a user token is required');
    if (caller.sessionId) {
      const row = await this.deps.db.refreshToken.findUnique({ where: { id: caller.sessionId } });
      if (row) await this.revokeFamily(row.familyId);
      else await this.deps.sessions.revokeSessions([caller.sessionId]);
    }
    return { logged_out: true };
  }

  /** Ends every session of a user (password change, role change, disable). */
  async endAllSessions(userId: string): Promise<void> {
    await this.deps.db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } });
    await this.deps.sessions.revokeUser(userId);
  }

  async changePassword(caller: Caller, input: { current_password: string; new_password: string }, meta: ClientMeta) {
    if (caller.kind !== 'user') throw unauthorized('a user token is required');
    const { db } = this.deps;
    const user = await db.user.findUniqueOrThrow({ where: { id: caller.userId } });
    if (!(await verifyPassword(input.current_password, user.passwordHash))) throw new AppError('unauthorized', 'current password is wrong');
    await db.$transaction([
      db.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(input.new_password), sessionsValidFrom: new Date() } }),
      db.auditLog.create({
        data: { orgId: caller.orgId, actorId: user.id, actorType: 'user', action: 'auth.password_change', resourceType: 'user', resourceId: user.id, ip: meta.ip },
      }),
    ]);
    await this.endAllSessions(user.id);
    return { changed: true };
  }

  // ───────────────────────────── TOTP enrolment ─────────────────────────────

  async setupTotp(caller: Caller) {
    if (caller.kind !== 'user') throw unauthorized('a user token is required');
    const { db, config } = this.deps;
    const user = await db.user.findUniqueOrThrow({ where: { id: caller.userId } });
    if (user.totpEnabled) throw conflict('two-factor authentication is already on; disable it first');
    const secret = generateSecret();
    await db.user.update({
      where: { id: user.id },
      data: { totpSecretEnc: encryptSecret(config.secrets.encryptionKey, secret, `totp:${user.id}`), totpLastStep: null },
    });
    return { secret, otpauth_url: generateURI({ issuer: 'Inferia', label: user.email, secret }) };
  }

  async enableTotp(caller: Caller, code: string, meta: ClientMeta) {
    if (caller.kind !== 'user') throw unauthorized('a user token is required');
    const { db } = this.deps;
    const user = await db.user.findUniqueOrThrow({ where: { id: caller.userId } });
    if (user.totpEnabled) throw conflict('two-factor authentication is already on');
    if (!user.totpSecretEnc) throw conflict('call /auth/2fa/setup first');
    await this.consumeTotp(user, code);
    await db.$transaction([
      db.user.update({ where: { id: user.id }, data: { totpEnabled: true } }),
      db.auditLog.create({ data: { orgId: caller.orgId, actorId: user.id, actorType: 'user', action: 'auth.2fa_enable', resourceType: 'user', resourceId: user.id, ip: meta.ip } }),
    ]);
    return { totp_enabled: true };
  }

  async disableTotp(caller: Caller, code: string, meta: ClientMeta) {
    if (caller.kind !== 'user') throw unauthorized('a user token is required');
    const { db } = this.deps;
    const user = await db.user.findUniqueOrThrow({ where: { id: caller.userId } });
    if (!user.totpEnabled) throw conflict('two-factor authentication is not on');
    await this.consumeTotp(user, code);
    await db.$transaction([
      db.user.update({ where: { id: user.id }, data: { totpEnabled: false, totpSecretEnc: null, totpLastStep: null } }),
      db.auditLog.create({ data: { orgId: caller.orgId, actorId: user.id, actorType: 'user', action: 'auth.2fa_disable', resourceType: 'user', resourceId: user.id, ip: meta.ip } }),
    ]);
    return { totp_enabled: false };
  }
}
