// The filtration gateway's first slice on real Postgres: login (with TOTP when enabled), the
// caller's profile, and the internal API-key context the inference gateway depends on.
import Fastify, { type FastifyInstance } from 'fastify';
import { generate as generateTotp, generateSecret } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filtrationApp } from '../../gateways/filtration/app.js';
import { IdentityService } from '../../gateways/filtration/identity-service.js';
import type { Config } from '../../lib/config.js';
import { encryptSecret, hashPassword, parseApiKey } from '../../lib/crypto.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let config: Config;
let services: ReturnType<typeof connect>;
let app: FastifyInstance;
let org: DemoCredentials;

const post = (url: string, body: unknown, token?: string) =>
  app.inject({ method: 'POST', url, payload: body as object, headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  config = testConfig();
  services = connect(config, 'filtration-it');
  app = Fastify();
  await app.register(filtrationApp, { config, identity: new IdentityService({ db: services.db, config }) });
  const slug = uniq('filt');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local`, adminPassword: 'a long enough password' });
});

afterAll(async () => {
  await app?.close();
  await services?.close();
});

describe('POST /auth/login', () => {
  it('issues a short-lived access token and a refresh token', async () => {
    const res = await post('/auth/login', { email: org.admin_email, password: 'a long enough password' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ access_token: string; refresh_token: string; token_type: string; expires_in: number }>();
    expect(body.token_type).toBe('bearer');
    expect(body.expires_in).toBeLessThanOrEqual(900);
    expect(body.refresh_token).toMatch(/^rt_/);
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${body.access_token}` } });
    expect(me.json()).toMatchObject({ user_id: org.user_id, org_id: org.org_id, role: 'owner' });
    // The refresh token is stored only as a keyed hash.
    const stored = await services.db.refreshToken.findMany({ where: { userId: org.user_id } });
    expect(stored.some((t) => t.tokenHash === body.refresh_token)).toBe(false);
  });

  it('gives the same answer for an unknown user and a wrong password', async () => {
    const wrong = await post('/auth/login', { email: org.admin_email, password: 'not it' });
    const unknown = await post('/auth/login', { email: `${uniq('nobody')}@test.local`, password: 'not it' });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().error.message).toBe(unknown.json().error.message);
  });

  it('names the bad field', async () => {
    const res = await post('/auth/login', { email: 'not-an-email', password: 'x' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('email');
  });

  it('requires a TOTP code when 2FA is on, and accepts each code once', async () => {
    const slug = uniq('totp');
    const secret = generateSecret();
    const user = await services.db.user.create({
      data: { email: `${slug}@test.local`, passwordHash: await hashPassword('another long password'), totpEnabled: true },
    });
    await services.db.user.update({ where: { id: user.id }, data: { totpSecretEnc: encryptSecret(config.secrets.encryptionKey, secret, `totp:${user.id}`) } });
    const role = await services.db.role.findFirstOrThrow({ where: { orgId: null, name: 'viewer' } });
    await services.db.membership.create({ data: { userId: user.id, orgId: org.org_id, roleId: role.id } });

    const noCode = await post('/auth/login', { email: user.email, password: 'another long password' });
    expect(noCode.statusCode).toBe(401);
    expect(noCode.json().error.code).toBe('totp_required');

    const code = await generateTotp({ secret });
    const ok = await post('/auth/login', { email: user.email, password: 'another long password', totp_code: code });
    expect(ok.statusCode).toBe(200);
    const replay = await post('/auth/login', { email: user.email, password: 'another long password', totp_code: code });
    expect(replay.statusCode).toBe(401);
  });
});

describe('POST /internal/context', () => {
  it('is for services only', async () => {
    expect((await post('/internal/context', { api_key: org.api_key })).statusCode).toBe(401);
    const login = (await post('/auth/login', { email: org.admin_email, password: 'a long enough password' })).json<{ access_token: string }>();
    expect((await post('/internal/context', { api_key: org.api_key }, login.access_token)).statusCode).toBe(401);
  });

  it('resolves a valid key to its org and limits, and refuses revoked, unknown or malformed keys', async () => {
    const ok = await post('/internal/context', { api_key: org.api_key }, config.secrets.internalServiceToken);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ org_id: org.org_id, key_prefix: parseApiKey(org.api_key)!.prefix });

    const tampered = org.api_key.slice(0, -1) + (org.api_key.endsWith('A') ? 'B' : 'A');
    expect((await post('/internal/context', { api_key: tampered }, config.secrets.internalServiceToken)).statusCode).toBe(401);
    expect((await post('/internal/context', { api_key: 'sk-garbage' }, config.secrets.internalServiceToken)).statusCode).toBe(401);

    await services.db.apiKey.update({ where: { prefix: parseApiKey(org.api_key)!.prefix }, data: { revokedAt: new Date() } });
    expect((await post('/internal/context', { api_key: org.api_key }, config.secrets.internalServiceToken)).statusCode).toBe(401);
  });
});
