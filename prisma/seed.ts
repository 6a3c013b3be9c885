// Built-in roles, and the demo organisation `inferia up` prints: an owner, an API key, a `local`
// pool and the registered `mock` model. Idempotent: running it again keeps what exists.
import type { Config } from '../lib/config.js';
import { generateApiKey, hashPassword, keyedHash, parseApiKey, randomToken } from '../lib/crypto.js';
import type { Db } from '../lib/db.js';
import { BUILTIN_ROLES } from '../lib/rbac.js';

export interface DemoCredentials {
  org_id: string;
  user_id: string;
  admin_email: string;
  admin_password: string;
  api_key: string;
  pool_id: string;
  model_name: string;
  model_version: string;
}

export async function seedRoles(db: Db): Promise<void> {
  for (const [name, permissions] of Object.entries(BUILTIN_ROLES)) {
    const existing = await db.role.findFirst({ where: { orgId: null, name } });
    if (existing) await db.role.update({ where: { id: existing.id }, data: { permissions } });
    else await db.role.create({ data: { name, permissions, description: `built-in ${name}` } });
  }
}

export interface OrgSeed {
  slug: string;
  name: string;
  adminEmail: string;
  /** Keep these when they still work (a restart prints the same credentials). */
  adminPassword?: string;
  apiKey?: string;
  role?: 'owner' | 'admin' | 'operator' | 'viewer';
}

/**
 * Creates (or finds) an organisation with an admin, an API key, a `local` pool and the
 * registered `mock` model. Used for the demo org and by tests (each with its own slug).
 */
export async function seedOrg(db: Db, config: Config, seed: OrgSeed): Promise<DemoCredentials> {
  await seedRoles(db);
  const org = await db.organization.upsert({ where: { slug: seed.slug }, create: { name: seed.name, slug: seed.slug }, update: {} });
  const email = seed.adminEmail.toLowerCase();
  let password = seed.adminPassword;
  let user = await db.user.findUnique({ where: { email } });
  if (!user) {
    password ??= randomToken(12);
    user = await db.user.create({ data: { email, name: `${seed.name} admin`, passwordHash: await hashPassword(password) } });
  } else if (!password) {
    // The password was lost with the data folder's demo.json: set a new one.
    password = randomToken(12);
    await db.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(password) } });
  }
  const role = await db.role.findFirstOrThrow({ where: { orgId: null, name: seed.role ?? 'owner' } });
  await db.membership.upsert({
    where: { userId_orgId: { userId: user.id, orgId: org.id } },
    create: { userId: user.id, orgId: org.id, roleId: role.id },
    update: {},
  });

  let apiKey = seed.apiKey;
  const parsed = apiKey ? parseApiKey(apiKey) : undefined;
  const keyRow = parsed ? await db.apiKey.findUnique({ where: { prefix: parsed.prefix } }) : null;
  if (!apiKey || !keyRow || keyRow.revokedAt || keyRow.keyHash !== keyedHash(config.secrets.apiKeyPepper, apiKey)) {
    const generated = generateApiKey(config.secrets.apiKeyPepper);
    await db.apiKey.create({
      data: { orgId: org.id, userId: user.id, name: `${seed.slug} key`, prefix: generated.prefix, keyHash: generated.hash, scopes: ['inference'] },
    });
    apiKey = generated.key;
  }

  let pool = await db.computePool.findFirst({ where: { orgId: org.id, poolName: 'local', deletedAt: null } });
  pool ??= await db.computePool.create({
    data: { orgId: org.id, poolName: 'local', ownerType: 'org', ownerId: org.id, provider: 'local', status: 'ACTIVE' },
  });
  await db.registeredModel.upsert({
    where: { orgId_modelName_modelVersion: { orgId: org.id, modelName: 'mock', modelVersion: '1.0' } },
    create: { orgId: org.id, modelName: 'mock', modelVersion: '1.0', backend: 'mock', artifactUri: 'inferia/mock-engine', configJson: {} },
    update: {},
  });

  return {
    org_id: org.id,
    user_id: user.id,
    admin_email: email,
    admin_password: password!,
    api_key: apiKey,
    pool_id: pool.id,
    model_name: 'mock',
    model_version: '1.0',
  };
}

/** The demo organisation `inferia up` prints; `previous` is what an earlier run printed. */
export function seedDemo(db: Db, config: Config, previous?: Partial<DemoCredentials>): Promise<DemoCredentials> {
  return seedOrg(db, config, {
    slug: 'demo',
    name: 'Demo organization',
    adminEmail: 'admin@inferia.local',
    adminPassword: previous?.admin_password,
    apiKey: previous?.api_key,
  });
}
