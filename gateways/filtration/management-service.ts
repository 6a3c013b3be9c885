// Management and administration of an organisation: API keys, users and their roles, the
// organisation itself, and the audit log. Every query is scoped to the caller's organisation
// (another org's object is "not found"), every mutation is audited in its own transaction.
import type { Redis } from 'ioredis';
import { audit } from '../../lib/audit.js';
import type { Config } from '../../lib/config.js';
import { generateApiKey } from '../../lib/crypto.js';
import type { Db, Prisma } from '../../lib/db.js';
import { AppError, forbidden, notFound } from '../../lib/errors.js';
import type { Caller } from '../../lib/http/auth.js';
import { BUILTIN_ROLES, type Permission } from '../../lib/rbac.js';
import { channels } from '../../lib/redis.js';

export interface ManagementDeps {
  db: Db;
  redis: Redis;
  config: Config;
  /** Ends a user's sessions (a role change must not leave old rights in live tokens). */
  endSessions: (userId: string) => Promise<void>;
}

export interface RequestMeta {
  ip: string;
  requestId: string;
}

/** What a key may be used for, and the permission its creator must hold to grant it. */
export const KEY_SCOPES: Record<string, Permission> = {
  inference: 'deployments:read',
  files: 'deployments:write',
  batches: 'deployments:write',
};

/** Roles from least to most powerful: nobody grants a role above their own. */
const ROLE_RANK: Record<string, number> = { viewer: 0, operator: 1, admin: 2, owner: 3 };

export interface CreateKeyInput {
  name: string;
  scopes: string[];
  allowed_models: string[];
  /** Tried in order when the requested model has nothing healthy (each still subject to allowed_models). */
  fallback_models?: string[];
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  expires_at?: string | null;
}

type KeyRow = Awaited<ReturnType<Db['apiKey']['findFirstOrThrow']>>;

function keyView(k: KeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    allowed_models: k.allowedModels,
    fallback_models: k.fallbackModels ?? [],
    rpm_limit: k.rpmLimit,
    tpm_limit: k.tpmLimit,
    expires_at: k.expiresAt?.toISOString() ?? null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
    created_by: k.userId,
  };
}

const userOf = (caller: Caller) => {
  if (caller.kind !== 'user') throw forbidden('a user token is required');
  return caller;
};

export class ManagementService {
  constructor(private readonly deps: ManagementDeps) {}

  // ───────────────────────────── API keys ─────────────────────────────

  async createKey(caller: Caller, input: CreateKeyInput, meta: RequestMeta) {
    const user = userOf(caller);
    for (const scope of input.scopes) {
      const needed = KEY_SCOPES[scope];
      if (!needed) throw new AppError('bad_request', `scopes: unknown scope '${scope}' (known: ${Object.keys(KEY_SCOPES).join(', ')})`, { field: 'scopes' });
      if (!user.permissions.has(needed)) throw forbidden(`cannot grant scope '${scope}': it needs '${needed}', which you do not hold`);
    }
    const expiresAt = input.expires_at ? new Date(input.expires_at) : null;
    if (expiresAt && expiresAt <= new Date()) throw new AppError('bad_request', 'expires_at: must be in the future', { field: 'expires_at' });
    const generated = generateApiKey(this.deps.config.secrets.apiKeyPepper);
    const row = await this.deps.db.$transaction(async (tx) => {
      const created = await tx.apiKey.create({
        data: {
          orgId: user.orgId,
          userId: user.userId,
          name: input.name,
          prefix: generated.prefix,
          keyHash: generated.hash,
          scopes: input.scopes,
          allowedModels: input.allowed_models,
          fallbackModels: input.fallback_models ?? [],
          rpmLimit: input.rpm_limit ?? null,
          tpmLimit: input.tpm_limit ?? null,
          expiresAt,
        },
      });
      await audit(tx, {
        orgId: user.orgId,
        actor: caller,
        action: 'api_key.create',
        resourceType: 'api_key',
        resourceId: created.id,
        after: { name: created.name, prefix: created.prefix, scopes: created.scopes, allowed_models: created.allowedModels },
        ...meta,
      });
      return created;
    });
    // The secret is in this answer and nowhere else, ever.
    return { ...keyView(row), key: generated.key };
  }

  /** Newest first; `q` matches the name or prefix, `status` keeps live (`active`) or `revoked` keys. */
  async listKeys(caller: Caller, page: { limit: number; offset: number; q?: string; status?: 'active' | 'revoked' | 'all' }) {
    const user = userOf(caller);
    const conditions: Prisma.ApiKeyWhereInput[] = [{ orgId: user.orgId }];
    if (page.q) conditions.push({ OR: [{ name: { contains: page.q, mode: 'insensitive' } }, { prefix: { contains: page.q.toLowerCase() } }] });
    if (page.status === 'active') conditions.push({ revokedAt: null }, { OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });
    if (page.status === 'revoked') conditions.push({ revokedAt: { not: null } });
    const where: Prisma.ApiKeyWhereInput = { AND: conditions };
    const [rows, total] = await Promise.all([
      this.deps.db.apiKey.findMany({ where, orderBy: { createdAt: 'desc' }, take: page.limit, skip: page.offset }),
      this.deps.db.apiKey.count({ where }),
    ]);
    return { data: rows.map(keyView), total, limit: page.limit, offset: page.offset };
  }

  /** Revokes a key; every inference gateway drops it from its cache at once (Redis pub/sub). */
  async revokeKey(caller: Caller, id: string, meta: RequestMeta) {
    const user = userOf(caller);
    const row = await this.deps.db.apiKey.findFirst({ where: { id, orgId: user.orgId } });
    if (!row) throw notFound(`API key ${id}`);
    if (row.revokedAt) return keyView(row);
    const revoked = await this.deps.db.$transaction(async (tx) => {
      const updated = await tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
      await audit(tx, { orgId: user.orgId, actor: caller, action: 'api_key.revoke', resourceType: 'api_key', resourceId: id, before: { revoked: false }, after: { revoked: true }, ...meta });
      return updated;
    });
    await this.deps.redis.publish(channels.apiKeys, row.prefix);
    return keyView(revoked);
  }

  // ───────────────────────────── users, roles, organisation ─────────────────────────────

  async listUsers(caller: Caller) {
    const user = userOf(caller);
    const members = await this.deps.db.membership.findMany({ where: { orgId: user.orgId }, include: { user: true, role: true }, orderBy: { createdAt: 'asc' } });
    return {
      data: members.map((m) => ({ user_id: m.userId, email: m.user.email, name: m.user.name, role: m.role.name, totp_enabled: m.user.totpEnabled, active: m.user.isActive })),
    };
  }

  listRoles() {
    return { data: Object.entries(BUILTIN_ROLES).map(([name, permissions]) => ({ name, permissions })) };
  }

  /** Changes a member's role: never one's own, never above one's own rank; ends their sessions. */
  async setRole(caller: Caller, userId: string, roleName: string, meta: RequestMeta) {
    const user = userOf(caller);
    if (userId === user.userId) throw forbidden('you cannot change your own role');
    if (!(roleName in ROLE_RANK)) throw new AppError('bad_request', `role: unknown role '${roleName}'`, { field: 'role' });
    if (ROLE_RANK[roleName]! > (ROLE_RANK[user.role] ?? -1)) throw forbidden(`cannot grant '${roleName}', which is above your own role`);
    const membership = await this.deps.db.membership.findFirst({ where: { orgId: user.orgId, userId }, include: { role: true } });
    if (!membership) throw notFound(`user ${userId}`);
    if ((ROLE_RANK[membership.role.name] ?? 0) > (ROLE_RANK[user.role] ?? -1)) throw forbidden('cannot change the role of someone above you');
    const role = await this.deps.db.role.findFirstOrThrow({ where: { orgId: null, name: roleName } });
    await this.deps.db.$transaction(async (tx) => {
      await tx.membership.update({ where: { id: membership.id }, data: { roleId: role.id } });
      await audit(tx, { orgId: user.orgId, actor: caller, action: 'user.role_change', resourceType: 'user', resourceId: userId, before: { role: membership.role.name }, after: { role: roleName }, ...meta });
    });
    await this.deps.endSessions(userId);
    return { user_id: userId, role: roleName };
  }

  async getOrg(caller: Caller) {
    const user = userOf(caller);
    const org = await this.deps.db.organization.findUniqueOrThrow({ where: { id: user.orgId } });
    return { org_id: org.id, name: org.name, slug: org.slug, allowed_email_domains: org.allowedEmailDomains, created_at: org.createdAt.toISOString() };
  }

  async updateOrg(caller: Caller, input: { name?: string; allowed_email_domains?: string[] }, meta: RequestMeta) {
    const user = userOf(caller);
    const before = await this.deps.db.organization.findUniqueOrThrow({ where: { id: user.orgId } });
    await this.deps.db.$transaction(async (tx) => {
      await tx.organization.update({
        where: { id: user.orgId },
        data: { ...(input.name ? { name: input.name } : {}), ...(input.allowed_email_domains ? { allowedEmailDomains: input.allowed_email_domains } : {}) },
      });
      await audit(tx, {
        orgId: user.orgId,
        actor: caller,
        action: 'org.update',
        resourceType: 'organization',
        resourceId: user.orgId,
        before: { name: before.name, allowed_email_domains: before.allowedEmailDomains },
        after: input,
        ...meta,
      });
    });
    return this.getOrg(caller);
  }

  // ───────────────────────────── groups (ALCF model: restrict models to members) ─────────────────────────────

  async listGroups(caller: Caller) {
    const user = userOf(caller);
    const groups = await this.deps.db.group.findMany({ where: { orgId: user.orgId }, include: { members: { select: { userId: true } } }, orderBy: { name: 'asc' } });
    return { data: groups.map((g) => ({ id: g.id, name: g.name, description: g.description, member_ids: g.members.map((m) => m.userId) })) };
  }

  async createGroup(caller: Caller, input: { name: string; description: string }, meta: RequestMeta) {
    const user = userOf(caller);
    try {
      const group = await this.deps.db.$transaction(async (tx) => {
        const g = await tx.group.create({ data: { orgId: user.orgId, name: input.name.toLowerCase(), description: input.description } });
        await audit(tx, { orgId: user.orgId, actor: caller, action: 'group.create', resourceType: 'group', resourceId: g.id, after: { name: g.name }, ...meta });
        return g;
      });
      return { id: group.id, name: group.name, description: group.description, member_ids: [] as string[] };
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw new AppError('conflict', 'a group with this name already exists', { field: 'name' });
      throw err;
    }
  }

  async setGroupMembers(caller: Caller, groupId: string, userIds: string[], meta: RequestMeta) {
    const user = userOf(caller);
    const group = await this.deps.db.group.findFirst({ where: { id: groupId, orgId: user.orgId }, include: { members: true } });
    if (!group) throw notFound(`group ${groupId}`);
    const unique = [...new Set(userIds)];
    const members = await this.deps.db.membership.count({ where: { orgId: user.orgId, userId: { in: unique } } });
    if (members !== unique.length) throw new AppError('bad_request', 'user_ids: every member must belong to the organization', { field: 'user_ids' });
    await this.deps.db.$transaction(async (tx) => {
      await tx.groupMember.deleteMany({ where: { groupId } });
      await tx.groupMember.createMany({ data: unique.map((userId) => ({ groupId, userId })) });
      await audit(tx, {
        orgId: user.orgId,
        actor: caller,
        action: 'group.members_set',
        resourceType: 'group',
        resourceId: groupId,
        before: { member_ids: group.members.map((m) => m.userId) },
        after: { member_ids: unique },
        ...meta,
      });
    });
    await this.deps.redis.publish(channels.apiKeys, '*'); // cached contexts carry group membership
    return { id: groupId, name: group.name, member_ids: unique };
  }

  async deleteGroup(caller: Caller, groupId: string, meta: RequestMeta) {
    const user = userOf(caller);
    const group = await this.deps.db.group.findFirst({ where: { id: groupId, orgId: user.orgId } });
    if (!group) throw notFound(`group ${groupId}`);
    await this.deps.db.$transaction(async (tx) => {
      await tx.group.delete({ where: { id: groupId } });
      await audit(tx, { orgId: user.orgId, actor: caller, action: 'group.delete', resourceType: 'group', resourceId: groupId, before: { name: group.name }, ...meta });
    });
    await this.deps.redis.publish(channels.apiKeys, '*');
    return { id: groupId, deleted: true };
  }

  // ───────────────────────────── audit ─────────────────────────────

  async auditLogs(
    caller: Caller,
    filter: { actor?: string; action?: string; resource_type?: string; resource_id?: string; from?: string; to?: string; limit: number; offset: number },
  ) {
    const user = userOf(caller);
    const where: Prisma.AuditLogWhereInput = {
      orgId: user.orgId,
      ...(filter.actor ? { actorId: filter.actor } : {}),
      ...(filter.action ? { action: filter.action } : {}),
      ...(filter.resource_type ? { resourceType: filter.resource_type } : {}),
      ...(filter.resource_id ? { resourceId: filter.resource_id } : {}),
      ...(filter.from || filter.to ? { createdAt: { ...(filter.from ? { gte: new Date(filter.from) } : {}), ...(filter.to ? { lte: new Date(filter.to) } : {}) } } : {}),
    };
    const [rows, total] = await Promise.all([
      this.deps.db.auditLog.findMany({ where, orderBy: { id: 'desc' }, take: filter.limit, skip: filter.offset }),
      this.deps.db.auditLog.count({ where }),
    ]);
    return {
      data: rows.map((r) => ({
        id: String(r.id),
        at: r.createdAt.toISOString(),
        actor_id: r.actorId,
        actor_type: r.actorType,
        action: r.action,
        resource_type: r.resourceType,
        resource_id: r.resourceId,
        before: r.before,
        after: r.after,
        ip: r.ip,
        request_id: r.requestId,
      })),
      total,
      limit: filter.limit,
      offset: filter.offset,
    };
  }
}
