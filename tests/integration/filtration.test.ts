// The filtration gateway's first slice on real Postgres: login (with TOTP when enabled), the
// caller's profile, and the internal API-key context the inference gateway depends on.
import Fastify, { type FastifyInstance } from 'fastify';
import { generate as generateTotp, generateSecret } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filtrationApp } from '../../gateways/filtration/app.js';
import { createFiltrationServices } from '../../gateways/filtration/services.js';
import { ROUTE_PERMISSIONS, UNLISTED_ROUTES, routeKey } from '../../gateways/filtration/route-permissions.js';
import { signAccessToken } from '../../lib/http/auth.js';
import type { Config } from '../../lib/config.js';
import { decryptSecret, encryptSecret, hashPassword, parseApiKey } from '../../lib/crypto.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let config: Config;
let services: ReturnType<typeof connect>;
let app: FastifyInstance;
let org: DemoCredentials;
const registered: string[] = [];

// Each run signs in from its own address, so per-address throttling never spills between runs.
const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
const post = (url: string, body: unknown, token?: string) =>
  app.inject({ method: 'POST', url, remoteAddress: address, payload: body as object, headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  config = testConfig();
  services = connect(config, 'filtration-it');
  app = Fastify();
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') registered.push(routeKey(m, r.url));
  });
  await app.register(filtrationApp, createFiltrationServices({ db: services.db, redis: services.redis, config }));
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

    // By key id, for a service acting for the key without holding it (the batch worker).
    const token = config.secrets.internalServiceToken;
    const keyId = ok.json<{ api_key_id: string }>().api_key_id;
    const byId = await post('/internal/context', { api_key_id: keyId }, token);
    expect(byId.statusCode).toBe(200);
    expect(byId.json()).toEqual(ok.json());
    expect((await post('/internal/context', { api_key_id: '00000000-0000-4000-8000-000000000000' }, token)).statusCode).toBe(401);
    const both = await post('/internal/context', { api_key: org.api_key, api_key_id: keyId }, token);
    expect(both.statusCode).toBe(400);
    expect(both.json().error.message).toContain('api_key');
    expect((await post('/internal/context', { api_key_id: 'not-a-uuid' }, token)).statusCode).toBe(400);
    expect((await post('/internal/context', { api_key_id: keyId })).statusCode).toBe(401);

    await services.db.apiKey.update({ where: { prefix: parseApiKey(org.api_key)!.prefix }, data: { revokedAt: new Date() } });
    expect((await post('/internal/context', { api_key: org.api_key }, config.secrets.internalServiceToken)).statusCode).toBe(401);
    expect((await post('/internal/context', { api_key_id: keyId }, token)).statusCode).toBe(401);
  });
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const login = async (emailAddress: string, password: string, totp_code?: string) =>
  post('/auth/login', { email: emailAddress, password, ...(totp_code ? { totp_code } : {}) });

describe('registration and sessions', () => {
  it('registers a user who founds an organisation, refusing a weak password or a taken e-mail', async () => {
    const emailAddress = `${uniq('reg')}@test.local`;
    expect((await post('/auth/register', { email: emailAddress, password: 'short' })).json().error.message).toContain('password');
    const res = await post('/auth/register', { email: emailAddress, password: 'a perfectly long passphrase' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ role: 'owner' });
    expect((await post('/auth/register', { email: emailAddress, password: 'another long passphrase' })).statusCode).toBe(409);
    expect((await login(emailAddress, 'a perfectly long passphrase')).statusCode).toBe(200);
  });

  it('rotates refresh tokens, and a reused one ends the whole family and its access tokens', async () => {
    const emailAddress = `${uniq('rot')}@test.local`;
    await post('/auth/register', { email: emailAddress, password: 'rotation passphrase 1' });
    const first = (await login(emailAddress, 'rotation passphrase 1')).json<{ refresh_token: string; access_token: string }>();
    const second = (await post('/auth/refresh', { refresh_token: first.refresh_token })).json<{ refresh_token: string; access_token: string }>();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(second.access_token) })).statusCode).toBe(200);
    // The first session's access token ended when its refresh token was spent.
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(first.access_token) })).statusCode).toBe(401);

    const reuse = await post('/auth/refresh', { refresh_token: first.refresh_token });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().error.message).toMatch(/reuse/);
    expect((await post('/auth/refresh', { refresh_token: second.refresh_token })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(second.access_token) })).statusCode).toBe(401);
  });

  it('ends the session on logout and every session on a password change', async () => {
    const emailAddress = `${uniq('out')}@test.local`;
    await post('/auth/register', { email: emailAddress, password: 'logout passphrase 1' });
    const a = (await login(emailAddress, 'logout passphrase 1')).json<{ access_token: string }>();
    const b = (await login(emailAddress, 'logout passphrase 1')).json<{ access_token: string }>();
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: auth(a.access_token) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(a.access_token) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(b.access_token) })).statusCode).toBe(200);

    const changed = await app.inject({
      method: 'POST',
      url: '/auth/password',
      headers: auth(b.access_token),
      payload: { current_password: 'logout passphrase 1', new_password: 'a brand new passphrase' },
    });
    expect(changed.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(b.access_token) })).statusCode).toBe(401);
    expect((await login(emailAddress, 'logout passphrase 1')).statusCode).toBe(401);
    const fresh = (await login(emailAddress, 'a brand new passphrase')).json<{ access_token: string }>();
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(fresh.access_token) })).statusCode).toBe(200);
  });

  it('throttles repeated failed sign-ins for an account, with retry-after', async () => {
    const emailAddress = `${uniq('thr')}@test.local`;
    await post('/auth/register', { email: emailAddress, password: 'throttle passphrase 1' });
    for (let i = 0; i < 10; i++) expect((await login(emailAddress, 'wrong')).statusCode).toBe(401);
    const limited = await login(emailAddress, 'throttle passphrase 1');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('two-factor authentication', () => {
  it('enrols with a QR URL, then requires a code, accepts each code once, even under 20 concurrent submissions', async () => {
    const emailAddress = `${uniq('2fa')}@test.local`;
    await post('/auth/register', { email: emailAddress, password: 'two factor passphrase' });
    const token = (await login(emailAddress, 'two factor passphrase')).json<{ access_token: string }>().access_token;
    const setup = (await app.inject({ method: 'POST', url: '/auth/2fa/setup', headers: auth(token) })).json<{ secret: string; otpauth_url: string }>();
    expect(setup.otpauth_url).toMatch(/^otpauth:\/\/totp\/.+secret=/);
    const stored = await services.db.user.findUniqueOrThrow({ where: { email: emailAddress } });
    expect(stored.totpSecretEnc).not.toContain(setup.secret);
    expect((await app.inject({ method: 'POST', url: '/auth/2fa/enable', headers: auth(token), payload: { totp_code: '000000' } })).statusCode).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const enableCode = await generateTotp({ secret: setup.secret, epoch: now - 30 });
    expect((await app.inject({ method: 'POST', url: '/auth/2fa/enable', headers: auth(token), payload: { totp_code: enableCode } })).statusCode).toBe(200);

    const noCode = await login(emailAddress, 'two factor passphrase');
    expect(noCode.statusCode).toBe(401);
    expect(noCode.json().error.code).toBe('totp_required');

    // 20 concurrent sign-ins with the same fresh code: exactly one gets in.
    const code = await generateTotp({ secret: setup.secret, epoch: now });
    const results = await Promise.all(Array.from({ length: 20 }, () => login(emailAddress, 'two factor passphrase', code)));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 401)).toHaveLength(19);
  });

  it('locks the account after repeated wrong codes, counted across sessions', async () => {
    const emailAddress = `${uniq('lock')}@test.local`;
    await post('/auth/register', { email: emailAddress, password: 'lockout passphrase 1' });
    const token = (await login(emailAddress, 'lockout passphrase 1')).json<{ access_token: string }>().access_token;
    const { secret } = (await app.inject({ method: 'POST', url: '/auth/2fa/setup', headers: auth(token) })).json<{ secret: string }>();
    const enable = await generateTotp({ secret, epoch: Math.floor(Date.now() / 1000) - 30 });
    await app.inject({ method: 'POST', url: '/auth/2fa/enable', headers: auth(token), payload: { totp_code: enable } });
    for (let i = 0; i < 5; i++) expect((await login(emailAddress, 'lockout passphrase 1', '000000')).statusCode).toBe(401);
    const good = await generateTotp({ secret });
    const locked = await login(emailAddress, 'lockout passphrase 1', good);
    expect(locked.statusCode).toBe(401);
    expect(locked.json().error.message).toMatch(/locked/);
  });
});

describe('access control: one table for every route', () => {
  it('lists every registered route, and lists no route that does not exist', () => {
    const checked = registered.filter((r) => !UNLISTED_ROUTES.has(r));
    expect(checked.filter((r) => !(r in ROUTE_PERMISSIONS))).toEqual([]);
    expect(Object.keys(ROUTE_PERMISSIONS).filter((r) => !registered.includes(r))).toEqual([]);
  });

  it('refuses to start with a route missing from the table', async () => {
    const rogue = Fastify();
    await filtrationApp(rogue, createFiltrationServices({ db: services.db, redis: services.redis, config }));
    expect(() => rogue.get('/admin/backdoor', async () => ({ ok: true }))).toThrow(/no entry in ROUTE_PERMISSIONS/);
    await rogue.close();
  });

  it('answers every protected route 401 without a token and 403 to a role without the permission', async () => {
    const viewer = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'viewer' });
    const paths: Record<string, string> = { ':id': '00000000-0000-4000-8000-000000000000' };
    for (const [key, access] of Object.entries(ROUTE_PERMISSIONS)) {
      if (access === 'public') continue;
      const [method, route] = key.split(' ') as [string, string];
      const url = route.replace(/:id/g, paths[':id']!);
      const anonymous = await app.inject({ method: method as 'GET', url, remoteAddress: address });
      expect(anonymous.statusCode, key).toBe(401);
      if (access === 'service' || access === 'user') continue;
      const asViewer = await app.inject({ method: method as 'GET', url, headers: auth(viewer), remoteAddress: address });
      const viewerMay = new Set(['api_keys:read']).has(access) || access.endsWith(':read') && !['users:read', 'audit:read'].includes(access);
      expect(asViewer.statusCode, key).not.toBe(401);
      if (!viewerMay) expect(asViewer.statusCode, key).toBe(403);
    }
  });
});

describe('API keys', () => {
  it('shows the secret once, lists without it, audits creation, and revokes', async () => {
    const owner = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
    const created = await app.inject({
      method: 'POST',
      url: '/management/api-keys',
      headers: auth(owner),
      payload: { name: 'ci key', scopes: ['inference'], allowed_models: ['mock'], rpm_limit: 60 },
    });
    expect(created.statusCode).toBe(201);
    const key = created.json<{ id: string; key: string; prefix: string }>();
    expect(key.key.startsWith(key.prefix)).toBe(true);
    const listed = await app.inject({ method: 'GET', url: '/management/api-keys?limit=200', headers: auth(owner) });
    expect(listed.body).not.toContain(key.key);
    expect(listed.json<{ data: { id: string }[] }>().data.map((k) => k.id)).toContain(key.id);
    const context = await post('/internal/context', { api_key: key.key }, config.secrets.internalServiceToken);
    expect(context.json()).toMatchObject({ allowed_models: ['mock'], rpm_limit: 60 });

    // An operator cannot mint what it may not do; an unknown scope is named.
    const operator = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'operator' });
    const unknown = await app.inject({ method: 'POST', url: '/management/api-keys', headers: auth(operator), payload: { name: 'x', scopes: ['root'] } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain('scopes');

    expect((await app.inject({ method: 'DELETE', url: `/management/api-keys/${key.id}`, headers: auth(owner) })).statusCode).toBe(200);
    expect((await post('/internal/context', { api_key: key.key }, config.secrets.internalServiceToken)).statusCode).toBe(401);

    const logs = await app.inject({ method: 'GET', url: `/audit/logs?resource_id=${key.id}`, headers: auth(owner) });
    const actions = logs.json<{ data: { action: string; actor_id: string; after: Record<string, unknown> }[] }>().data.map((l) => l.action);
    expect(actions).toEqual(['api_key.revoke', 'api_key.create']);
    expect(logs.body).not.toContain(key.key);
  });

  it("hides another organisation's key", async () => {
    const slug = uniq('other');
    const other = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
    const otherOwner = signAccessToken(config, { sub: other.user_id, org: other.org_id, role: 'owner' });
    const key = await services.db.apiKey.findFirstOrThrow({ where: { orgId: org.org_id } });
    expect((await app.inject({ method: 'DELETE', url: `/management/api-keys/${key.id}`, headers: auth(otherOwner) })).statusCode).toBe(404);
  });
});

describe('roles', () => {
  it('lets nobody raise their own role or grant above their own, and ends the changed user\'s sessions', async () => {
    const slug = uniq('roles');
    const team = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local`, adminPassword: 'team owner passphrase' });
    const memberEmail = `${uniq('member')}@test.local`;
    const member = await services.db.user.create({ data: { email: memberEmail, passwordHash: await hashPassword('member passphrase 1') } });
    const viewerRole = await services.db.role.findFirstOrThrow({ where: { orgId: null, name: 'viewer' } });
    await services.db.membership.create({ data: { userId: member.id, orgId: team.org_id, roleId: viewerRole.id } });
    const owner = (await login(team.admin_email, 'team owner passphrase')).json<{ access_token: string }>().access_token;
    const memberToken = (await login(memberEmail, 'member passphrase 1')).json<{ access_token: string }>().access_token;

    expect((await app.inject({ method: 'PATCH', url: `/admin/users/${team.user_id}/role`, headers: auth(owner), payload: { role: 'viewer' } })).statusCode).toBe(403);
    const admin = signAccessToken(config, { sub: team.user_id, org: team.org_id, role: 'admin' });
    expect((await app.inject({ method: 'PATCH', url: `/admin/users/${member.id}/role`, headers: auth(admin), payload: { role: 'owner' } })).statusCode).toBe(403);
    const promoted = await app.inject({ method: 'PATCH', url: `/admin/users/${member.id}/role`, headers: auth(owner), payload: { role: 'operator' } });
    expect(promoted.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(memberToken) })).statusCode).toBe(401);
    const again = (await login(memberEmail, 'member passphrase 1')).json<{ access_token: string }>().access_token;
    expect((await app.inject({ method: 'GET', url: '/auth/me', headers: auth(again) })).json().role).toBe('operator');
  });
});

describe('policy objects', () => {
  const ownerOf = (o: DemoCredentials) => signAccessToken(config, { sub: o.user_id, org: o.org_id, role: 'owner' });
  const call = async (method: string, url: string, token: string, payload?: object) =>
    app.inject({ method: method as 'GET', url, headers: auth(token), remoteAddress: address, ...(payload ? { payload } : {}) });

  it('keeps provider credentials encrypted and never returns them', async () => {
    const owner = ownerOf(org);
    const secret = `canary-provider-${uniq('cred')}`;
    const created = await call('POST', '/management/providers', owner, {
      name: uniq('openai'),
      provider: 'openai',
      base_url: 'https://203.0.113.10/v1',
      credentials: { api_key: secret },
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain(secret);
    expect(created.json()).toMatchObject({ has_credentials: true });
    const id = created.json<{ id: string }>().id;
    expect((await call('GET', `/management/providers/${id}`, owner)).body).not.toContain(secret);
    const row = await services.db.providerConfig.findUniqueOrThrow({ where: { id } });
    expect(row.secretsEnc).not.toContain(secret);
    expect(decryptSecret(config.secrets.encryptionKey, row.secretsEnc!, `provider:${id}`)).toContain(secret);
    expect((await call('POST', '/management/providers', owner, { name: 'x', provider: 'mars' })).json().error.message).toContain('provider');
    // SSRF: a provider may not point into our own network unless an operator allow-listed it.
    for (const base_url of ['http://127.0.0.1:8001/v1', 'http://169.254.169.254/latest', 'http://[::1]/v1', 'http://10.0.0.8/v1', 'http://localhost/v1']) {
      const refused = await call('POST', '/management/providers', owner, { name: uniq('ssrf'), provider: 'openai', base_url });
      expect(refused.statusCode, base_url).toBe(400);
      expect(refused.json()).toMatchObject({ error: { details: { field: 'base_url' } } });
    }
    const patched = await call('PATCH', `/management/providers/${id}`, owner, { base_url: 'http://192.168.0.10/v1' });
    expect(patched.statusCode).toBe(400);
    const logs = await call('GET', `/audit/logs?resource_id=${id}`, owner);
    expect(logs.json<{ data: unknown[] }>().data).toHaveLength(1);
    expect(logs.body).not.toContain(secret);
  });

  it('chunks uploaded documents, versions prompt templates and replaces quotas', async () => {
    const owner = ownerOf(org);
    const kb = (await call('POST', '/management/knowledge-bases', owner, { name: uniq('kb'), description: 'docs' })).json<{ id: string }>();
    const text = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} explains how Inferia routes requests to healthy replicas.`).join('\n\n');
    const doc = await call('POST', `/management/knowledge-bases/${kb.id}/documents`, owner, { filename: 'guide.md', content_type: 'text/markdown', content: text });
    expect(doc.statusCode).toBe(201);
    const { id: docId, chunks } = doc.json<{ id: string; chunks: number }>();
    expect(chunks).toBeGreaterThan(1);
    const stored = (await call('GET', `/management/knowledge-bases/${kb.id}/documents/${docId}/chunks`, owner)).json<{ data: { content: string }[] }>().data;
    expect(stored).toHaveLength(chunks);
    expect(stored[0]!.content).toContain('Paragraph 0');

    const name = uniq('tmpl');
    const v1 = (await call('POST', '/management/prompt-templates', owner, { name, template: 'Answer as {{ persona }} about {{topic}}.' })).json<{ version: number; variables: string[] }>();
    const v2 = (await call('POST', '/management/prompt-templates', owner, { name, template: 'Be brief, {{persona}}.' })).json<{ version: number }>();
    expect(v1).toMatchObject({ version: 1, variables: ['persona', 'topic'] });
    expect(v2.version).toBe(2);

    await call('PUT', '/management/quotas', owner, { period: 'minute', request_limit: 600 });
    await call('PUT', '/management/quotas', owner, { period: 'day', token_limit: 1000 });
    await call('PUT', '/management/quotas', owner, { period: 'day', token_limit: 5000, request_limit: 10 });
    const quotas = (await call('GET', '/management/quotas', owner)).json<{ data: { period: string; token_limit: number }[] }>().data.filter((q) => q.period === 'day');
    expect(quotas).toEqual([expect.objectContaining({ token_limit: 5000, request_limit: 10 })]);

    // The inference gateway gets limits and applicable guardrail policies with the key, in one call.
    await call('POST', '/management/guardrails', owner, { name: uniq('pii'), config: { rules: [{ type: 'pii', stage: 'both', action: 'redact' }] } });
    const fresh = (await call('POST', '/management/api-keys', owner, { name: 'context check' })).json<{ key: string }>().key;
    const ctx = (await post('/internal/context', { api_key: fresh }, config.secrets.internalServiceToken)).json<{
      limits: { period: string; request_limit: number | null }[];
      guardrails: { config: { rules: { type: string }[] } }[];
    }>();
    expect(ctx.limits).toEqual(expect.arrayContaining([expect.objectContaining({ scope: 'org', period: 'minute', request_limit: 600 })]));
    expect(ctx.guardrails.some((g) => g.config.rules[0]?.type === 'pii')).toBe(true);
  });

  it('stores each inference log once, however often it is delivered', async () => {
    const requestId = uniq('req');
    const entry = { request_id: requestId, org_id: org.org_id, model: 'mock', status_code: 200, prompt_tokens: 3, completion_tokens: 7 };
    const first = await post('/internal/logs', { logs: [entry] }, config.secrets.internalServiceToken);
    const again = await post('/internal/logs', { logs: [entry, entry] }, config.secrets.internalServiceToken);
    expect(first.json()).toMatchObject({ stored: 1 });
    expect(again.json()).toMatchObject({ stored: 0 });
    expect(await services.db.inferenceLog.count({ where: { requestId } })).toBe(1);
  });
});

