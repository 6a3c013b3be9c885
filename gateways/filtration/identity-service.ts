// Identity: password login (with TOTP when enabled), access and refresh tokens, and the API-key
// context the inference gateway resolves on its hot path.
import { randomUUID } from 'node:crypto';
import { verify as verifyTotp } from 'otplib';
import type { ApiKeyContext } from '../../lib/api-key-context.js';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual, decryptSecret, dummyPasswordHash, keyedHash, parseApiKey, randomToken, verifyPassword } from '../../lib/crypto.js';
import type { Db } from '../../lib/db.js';
import { AppError, unauthorized } from '../../lib/errors.js';
import { signAccessToken, type Caller } from '../../lib/http/auth.js';
import { permissionsFor } from '../../lib/rbac.js';

export interface IdentityDeps {
  db: Db;
  config: Config;
}

export interface LoginInput {
  email: string;
  password: string;
  totp_code?: string;
  org_id?: string;
}

const LOGIN_FAILED = 'invalid email or password';

export class IdentityService {
  constructor(private readonly deps: IdentityDeps) {}

  async login(input: LoginInput, meta: { ip: string; userAgent: string }) {
    const { db, config } = this.deps;
    const user = await db.user.findUnique({ where: { email: input.email.toLowerCase() } });
    // Verify against a real-cost hash even for an unknown user: same answer, similar timing.
    const passwordOk = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !passwordOk || !user.isActive) throw new AppError('unauthorized', LOGIN_FAILED, { reason: 'invalid_credentials' });
    if (user.lockedUntil && user.lockedUntil > new Date()) throw new AppError('unauthorized', 'account temporarily locked', { reason: 'locked' });

    if (user.totpEnabled) {
      if (!input.totp_code) throw new AppError('totp_required', 'a TOTP code is required for this account');
      const secret = decryptSecret(config.secrets.encryptionKey, user.totpSecretEnc ?? '', `totp:${user.id}`);
      const result = await verifyTotp({
        secret,
        token: input.totp_code,
        epochTolerance: 30,
        afterTimeStep: user.totpLastStep === null ? undefined : Number(user.totpLastStep),
      });
      if (!result.valid) throw new AppError('unauthorized', 'invalid TOTP code', { reason: 'totp_invalid' });
      const step = 'timeStep' in result ? Number(result.timeStep) : undefined;
      if (step !== undefined) {
        // Accept each code once: only the first login to record this step wins.
        const won = await db.user.updateMany({
          where: { id: user.id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: BigInt(step) } }] },
          data: { totpLastStep: BigInt(step) },
        });
        if (won.count === 0) throw new AppError('unauthorized', 'TOTP code already used', { reason: 'totp_replayed' });
      }
    }

    const membership = await db.membership.findFirst({
      where: { userId: user.id, ...(input.org_id ? { orgId: input.org_id } : {}) },
      include: { role: true },
      orderBy: { createdAt: 'asc' },
    });
    if (!membership) throw new AppError('forbidden', 'user has no organization membership');
    return this.issueTokens(user.id, user.email, membership.orgId, membership.role.name, randomUUID(), meta);
  }

  private async issueTokens(userId: string, email: string, orgId: string, role: string, familyId: string, meta: { ip: string; userAgent: string }) {
    const { db, config } = this.deps;
    const sid = randomUUID();
    const refresh = `rt_${randomToken(32)}`;
    await db.refreshToken.create({
      data: {
        id: sid,
        userId,
        familyId,
        tokenHash: keyedHash(config.secrets.apiKeyPepper, refresh),
        expiresAt: new Date(Date.now() + config.jwt.refreshTtlSeconds * 1000),
        ip: meta.ip.slice(0, 100),
        userAgent: meta.userAgent.slice(0, 300),
      },
    });
    return {
      access_token: signAccessToken(config, { sub: userId, org: orgId, role, email, sid }),
      refresh_token: refresh,
      token_type: 'bearer',
      expires_in: config.jwt.accessTtlSeconds,
    };
  }

  async me(caller: Caller) {
    if (caller.kind !== 'user') throw unauthorized('a user token is required');
    const user = await this.deps.db.user.findUnique({ where: { id: caller.userId } });
    if (!user) throw unauthorized();
    return {
      user_id: user.id,
      email: user.email,
      name: user.name,
      org_id: caller.orgId,
      role: caller.role,
      permissions: [...permissionsFor(caller.role)],
      totp_enabled: user.totpEnabled,
    };
  }

  /** API key → everything the inference gateway needs. One indexed lookup by prefix, then a constant-time hash check. */
  async apiKeyContext(apiKey: string): Promise<ApiKeyContext> {
    const { db, config } = this.deps;
    const parsed = parseApiKey(apiKey);
    const row = parsed ? await db.apiKey.findUnique({ where: { prefix: parsed.prefix } }) : null;
    const hashOk = row ? constantTimeEqual(keyedHash(config.secrets.apiKeyPepper, apiKey), row.keyHash) : false;
    if (!row || !hashOk || row.revokedAt || (row.expiresAt && row.expiresAt <= new Date())) {
      throw new AppError('unauthorized', 'invalid API key');
    }
    return {
      org_id: row.orgId,
      api_key_id: row.id,
      key_prefix: row.prefix,
      scopes: row.scopes,
      allowed_models: row.allowedModels,
      rpm_limit: row.rpmLimit,
      tpm_limit: row.tpmLimit,
      expires_at: row.expiresAt?.toISOString() ?? null,
    };
  }
}
