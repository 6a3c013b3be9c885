// Filtration gateway: identity and policy. Every route's access comes from one table
// (route-permissions.ts), enforced before its body is read; every mutation is audited in the
// same transaction as the change.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual } from '../../lib/crypto.js';
import { AppError, forbidden, unauthorized } from '../../lib/errors.js';
import { authenticate, bearerToken, requirePermission, type Caller } from '../../lib/http/auth.js';
import { commonPlugin, sendInferiaError } from '../../lib/http/common.js';
import type { SessionRevocations } from '../../lib/sessions.js';
import { adminRoutes } from './admin-routes.js';
import type { AuthService } from './auth-service.js';
import type { IdentityService } from './identity-service.js';
import { managementRoutes } from './management-routes.js';
import type { ManagementService } from './management-service.js';
import { orchestrationProxy } from './orchestration-proxy.js';
import { policyRoutes } from './policy-routes.js';
import type { PolicyService } from './policy-service.js';
import { usageRoutes } from './usage-routes.js';
import type { UsageService } from './usage-service.js';
import { ROUTE_PERMISSIONS, UNLISTED_ROUTES, routeKey } from './route-permissions.js';
import { unavailableDependency } from './unavailable.js';

export interface FiltrationAppOptions {
  config: Config;
  identity: IdentityService;
  auth: AuthService;
  management: ManagementService;
  policy: PolicyService;
  usage: UsageService;
  sessions: SessionRevocations;
  ready?: () => Promise<Record<string, boolean>>;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
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
const ContextBody = z
  .object({ api_key: z.string().min(1).max(200).optional(), api_key_id: z.uuid().optional() })
  .refine((b) => (b.api_key === undefined) !== (b.api_key_id === undefined), { message: 'give exactly one of api_key and api_key_id', path: ['api_key'] });

/** The caller the access check attached (routes that need one never run without it). */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw unauthorized();
  return req.caller;
}

export async function filtrationApp(fastify: FastifyInstance, opts: FiltrationAppOptions) {
  const { config, identity, auth, sessions } = opts;

  // Refuse to start with a route the access table does not know.
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const key = routeKey(method, route.url);
      if (!UNLISTED_ROUTES.has(key) && method !== 'HEAD' && !(key in ROUTE_PERMISSIONS)) {
        throw new Error(`route ${key} has no entry in ROUTE_PERMISSIONS (gateways/filtration/route-permissions.ts)`);
      }
    }
  });
  // Before the access check: CORS headers then mark refusals too, so the dashboard can read them.
  await fastify.register(commonPlugin, {
    service: 'filtration',
    title: 'Inferia filtration gateway',
    ready: opts.ready,
    corsOrigins: config.dashboardOrigins,
    isPublic: (method, url) => ROUTE_PERMISSIONS[routeKey(method, url)] === 'public',
    errorHandler: (err, req, reply) => {
      const dependency = unavailableDependency(err);
      if (!dependency) return sendInferiaError(req, reply, err);
      req.log.warn({ err, dependency }, 'dependency unreachable');
      return sendInferiaError(req, reply, new AppError('unavailable', `${dependency === 'database' ? 'The database' : 'Redis'} is unreachable; try again shortly.`));
    },
  });
  fastify.decorateRequest('caller', null);
  fastify.addHook('onRequest', async (req) => {
    const access = ROUTE_PERMISSIONS[routeKey(req.method, req.routeOptions.url ?? '')];
    if (!access || access === 'public') return;
    if (access === 'service') {
      const token = bearerToken(req);
      if (!token || !constantTimeEqual(token, config.secrets.internalServiceToken)) throw unauthorized('service token required');
      req.caller = { kind: 'service', service: 'internal' };
      return;
    }
    const caller = authenticate(config, req);
    await sessions.assertLive(caller);
    if (caller.kind === 'service') throw forbidden('a user token is required');
    if (access !== 'user') requirePermission(caller, access);
    req.caller = caller;
  });

  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const meta = (req: FastifyRequest) => ({ ip: req.ip, userAgent: String(req.headers['user-agent'] ?? '') });

  app.post('/auth/register', { schema: { body: RegisterBody } }, async (req, reply) => reply.status(201).send(await auth.register(req.body, meta(req))));
  app.post('/auth/login', { schema: { body: LoginBody } }, async (req) => auth.login(req.body, meta(req)));
  app.post('/auth/refresh', { schema: { body: RefreshBody } }, async (req) => auth.refresh(req.body.refresh_token, meta(req)));
  app.post('/auth/logout', async (req) => auth.logout(callerOf(req)));
  app.get('/auth/me', async (req) => identity.me(callerOf(req)));
  app.post('/auth/password', { schema: { body: PasswordBody } }, async (req) => auth.changePassword(callerOf(req), req.body, meta(req)));
  app.post('/auth/2fa/setup', async (req) => auth.setupTotp(callerOf(req)));
  app.post('/auth/2fa/enable', { schema: { body: TotpBody } }, async (req) => auth.enableTotp(callerOf(req), req.body.totp_code, meta(req)));
  app.post('/auth/2fa/disable', { schema: { body: TotpBody } }, async (req) => auth.disableTotp(callerOf(req), req.body.totp_code, meta(req)));

  await app.register(managementRoutes, { management: opts.management });
  await app.register(adminRoutes, { management: opts.management, auth });
  await app.register(policyRoutes, { policy: opts.policy });
  await app.register(usageRoutes, { usage: opts.usage });
  await app.register(orchestrationProxy, { orchestrationUrl: config.urls.orchestration });

  app.post('/internal/context', { schema: { body: ContextBody } }, async (req) =>
    req.body.api_key !== undefined ? identity.apiKeyContext(req.body.api_key) : identity.apiKeyContextById(req.body.api_key_id!),
  );
}
