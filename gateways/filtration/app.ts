// Filtration gateway: identity and policy. This first slice serves login, the caller's own
// profile and the internal API-key context; management, admin and audit routes grow here.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual } from '../../lib/crypto.js';
import { unauthorized } from '../../lib/errors.js';
import { authenticate, bearerToken } from '../../lib/http/auth.js';
import { commonPlugin } from '../../lib/http/common.js';
import type { IdentityService } from './identity-service.js';

export interface FiltrationAppOptions {
  config: Config;
  identity: IdentityService;
  ready?: () => Promise<Record<string, boolean>>;
}

const LoginBody = z.object({
  email: z.email().max(320),
  password: z.string().min(1).max(1024),
  totp_code: z.string().regex(/^\d{6}$/, 'must be 6 digits').optional(),
  org_id: z.uuid().optional(),
});

const ContextBody = z.object({ api_key: z.string().min(1).max(200) });

export async function filtrationApp(fastify: FastifyInstance, opts: FiltrationAppOptions) {
  const { config, identity } = opts;
  await fastify.register(commonPlugin, { service: 'filtration', title: 'Inferia filtration gateway', ready: opts.ready });
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  const requireService = (req: FastifyRequest) => {
    const token = bearerToken(req);
    if (!token || !constantTimeEqual(token, config.secrets.internalServiceToken)) throw unauthorized('service token required');
  };

  app.post('/auth/login', { schema: { body: LoginBody } }, async (req) =>
    identity.login(req.body, { ip: req.ip, userAgent: String(req.headers['user-agent'] ?? '') }),
  );
  app.get('/auth/me', async (req) => identity.me(authenticate(config, req)));

  app.post('/internal/context', { schema: { body: ContextBody } }, async (req) => {
    requireService(req);
    return identity.apiKeyContext(req.body.api_key);
  });
}
