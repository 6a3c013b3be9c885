// Filtration gateway: identity and policy. Auth (register, login with TOTP, refresh rotation,
// logout, password change, 2FA enrolment), the caller's profile, and the internal API-key context.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual } from '../../lib/crypto.js';
import { unauthorized } from '../../lib/errors.js';
import { authenticate, bearerToken, type Caller } from '../../lib/http/auth.js';
import { commonPlugin } from '../../lib/http/common.js';
import type { SessionRevocations } from '../../lib/sessions.js';
import type { AuthService } from './auth-service.js';
import type { IdentityService } from './identity-service.js';

export interface FiltrationAppOptions {
  config: Config;
  identity: IdentityService;
  auth: AuthService;
  sessions: SessionRevocations;
  ready?: () => Promise<Record<string, boolean>>;
}

const email = z.email().max(320);
// OWASP ASVS: at least 12 characters, no composition rules, long passphrases allowed.
const newPassword = z.string().min(12, 'must be at least 12 characters').max(1024);
const totpCode = z.string().regex(/^\d{6}$/, 'must be 6 digits');

const RegisterBody = z.object({ email, password: newPassword, name: z.string().trim().max(200).optional(), org_name: z.string().trim().min(1).max(200).optional() });
const LoginBody = z.object({ email, password: z.string().min(1).max(1024), totp_code: totpCode.optional(), org_id: z.uuid().optional() });
const RefreshBody = z.object({ refresh_token: z.string().min(10).max(200) });
const PasswordBody = z.object({ current_password: z.string().min(1).max(1024), new_password: newPassword });
const TotpBody = z.object({ totp_code: totpCode });
const ContextBody = z.object({ api_key: z.string().min(1).max(200) });

export async function filtrationApp(fastify: FastifyInstance, opts: FiltrationAppOptions) {
  const { config, identity, auth, sessions } = opts;
  await fastify.register(commonPlugin, { service: 'filtration', title: 'Inferia filtration gateway', ready: opts.ready });
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  const meta = (req: FastifyRequest) => ({ ip: req.ip, userAgent: String(req.headers['user-agent'] ?? '') });
  /** The authenticated caller, with revoked sessions refused. */
  const caller = async (req: FastifyRequest): Promise<Caller> => {
    const c = authenticate(config, req);
    await sessions.assertLive(c);
    return c;
  };
  const requireService = (req: FastifyRequest) => {
    const token = bearerToken(req);
    if (!token || !constantTimeEqual(token, config.secrets.internalServiceToken)) throw unauthorized('service token required');
  };

  app.post('/auth/register', { schema: { body: RegisterBody } }, async (req, reply) => reply.status(201).send(await auth.register(req.body, meta(req))));
  app.post('/auth/login', { schema: { body: LoginBody } }, async (req) => auth.login(req.body, meta(req)));
  app.post('/auth/refresh', { schema: { body: RefreshBody } }, async (req) => auth.refresh(req.body.refresh_token, meta(req)));
  app.post('/auth/logout', async (req) => auth.logout(await caller(req)));
  app.get('/auth/me', async (req) => identity.me(await caller(req)));
  app.post('/auth/password', { schema: { body: PasswordBody } }, async (req) => auth.changePassword(await caller(req), req.body, meta(req)));
  app.post('/auth/2fa/setup', async (req) => auth.setupTotp(await caller(req)));
  app.post('/auth/2fa/enable', { schema: { body: TotpBody } }, async (req) => auth.enableTotp(await caller(req), req.body.totp_code, meta(req)));
  app.post('/auth/2fa/disable', { schema: { body: TotpBody } }, async (req) => auth.disableTotp(await caller(req), req.body.totp_code, meta(req)));

  app.post('/internal/context', { schema: { body: ContextBody } }, async (req) => {
    requireService(req);
    return identity.apiKeyContext(req.body.api_key);
  });
}
