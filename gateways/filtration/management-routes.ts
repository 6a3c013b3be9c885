// /management/*: an organisation's policy objects. Access is checked by the route table before
// a handler runs; handlers only validate and call the management service.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isoDateTime } from '../../lib/http/common.js';
import { callerOf } from './app.js';
import type { ManagementService } from './management-service.js';

export const Page = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), offset: z.coerce.number().int().min(0).max(1_000_000).default(0) });

const CreateKeyBody = z.object({
  name: z.string().trim().min(1).max(200),
  scopes: z.array(z.string().min(1).max(50)).max(10).default(['inference']),
  allowed_models: z.array(z.string().trim().min(1).max(256)).max(200).default([]),
  fallback_models: z.array(z.string().trim().min(1).max(256)).max(10).default([]),
  rpm_limit: z.number().int().min(1).max(1_000_000).nullish(),
  tpm_limit: z.number().int().min(1).max(1_000_000_000).nullish(),
  expires_at: isoDateTime().nullish(),
});

export const requestMeta = (req: FastifyRequest) => ({ ip: req.ip, requestId: String(req.id) });

export async function managementRoutes(fastify: FastifyInstance, opts: { management: ManagementService }) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { management } = opts;

  const KeyQuery = Page.extend({ q: z.string().trim().min(1).max(200).optional(), status: z.enum(['active', 'revoked', 'all']).default('all') });
  app.get('/management/api-keys', { schema: { querystring: KeyQuery } }, async (req) => management.listKeys(callerOf(req), req.query));
  app.post('/management/api-keys', { schema: { body: CreateKeyBody } }, async (req, reply) =>
    reply.status(201).send(await management.createKey(callerOf(req), req.body, requestMeta(req))),
  );
  app.delete('/management/api-keys/:id', { schema: { params: z.object({ id: z.uuid() }) } }, async (req) =>
    management.revokeKey(callerOf(req), req.params.id, requestMeta(req)),
  );
}
