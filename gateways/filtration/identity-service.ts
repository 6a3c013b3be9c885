// Identity lookups: the caller's own profile, and the API-key context the inference gateway
// resolves on its hot path.
import type { ApiKeyContext } from '../../lib/api-key-context.js';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual, keyedHash, parseApiKey } from '../../lib/crypto.js';
import type { Db, Prisma } from '../../lib/db.js';
import { AppError, unauthorized } from '../../lib/errors.js';
import type { Caller } from '../../lib/http/auth.js';
import { permissionsFor } from '../../lib/rbac.js';

export interface IdentityDeps {
  db: Db;
  config: Config;
}

export class IdentityService {
  constructor(private readonly deps: IdentityDeps) {}

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
    if (!row || !hashOk) throw new AppError('unauthorized', 'invalid API key');
    return this.contextOf(row);
  }

  /**
   * The same context by key id, for a service acting for a key it does not hold (the batch
   * worker). Only the service token reaches this; a revoked or expired key is refused alike.
   */
  async apiKeyContextById(apiKeyId: string): Promise<ApiKeyContext> {
    const row = await this.deps.db.apiKey.findUnique({ where: { id: apiKeyId } });
    if (!row) throw new AppError('unauthorized', 'invalid API key');
    return this.contextOf(row);
  }

  private async contextOf(row: Prisma.ApiKeyModel): Promise<ApiKeyContext> {
    const { db } = this.deps;
    if (row.revokedAt || (row.expiresAt && row.expiresAt <= new Date())) {
      throw new AppError('unauthorized', 'invalid API key');
    }
    const [guardrails, quotas] = await Promise.all([
      db.guardrailPolicy.findMany({
        where: { orgId: row.orgId, enabled: true, OR: [{ apiKeyIds: { isEmpty: true } }, { apiKeyIds: { has: row.id } }] },
        orderBy: { createdAt: 'asc' },
      }),
      db.quota.findMany({ where: { orgId: row.orgId, OR: [{ apiKeyId: null }, { apiKeyId: row.id }] } }),
    ]);
    const owner = row.userId
      ? await db.user.findUnique({
          where: { id: row.userId },
          select: { email: true, groupMembers: { where: { group: { orgId: row.orgId } }, select: { group: { select: { name: true } } } } },
        })
      : null;
    return {
      org_id: row.orgId,
      api_key_id: row.id,
      key_prefix: row.prefix,
      scopes: row.scopes,
      allowed_models: row.allowedModels,
      fallback_models: row.fallbackModels ?? [],
      rpm_limit: row.rpmLimit,
      tpm_limit: row.tpmLimit,
      expires_at: row.expiresAt?.toISOString() ?? null,
      groups: owner?.groupMembers.map((m) => m.group.name.toLowerCase()) ?? [],
      email_domain: owner?.email.split('@')[1]?.toLowerCase() ?? null,
      guardrails: guardrails.map((g) => ({ id: g.id, name: g.name, config: g.config as Record<string, unknown> })),
      limits: quotas.map((q) => ({
        scope: q.apiKeyId ? ('key' as const) : ('org' as const),
        period: q.period,
        token_limit: q.tokenLimit === null ? null : Number(q.tokenLimit),
        request_limit: q.requestLimit === null ? null : Number(q.requestLimit),
      })),
    };
  }
}
