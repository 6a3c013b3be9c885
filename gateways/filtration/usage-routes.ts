// GET /management/usage: requests, tokens and latency per model or API key over time (the
// dashboard's charts). Access comes from the route table (`usage:read`).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from './app.js';
import type { UsageService } from './usage-service.js';

export const UsageQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  bucket: z.enum(['hour', 'day']).default('hour'),
  group_by: z.enum(['model', 'api_key']).default('model'),
  model: z.string().trim().min(1).max(256).optional(),
  api_key_id: z.uuid().optional(),
});

export async function usageRoutes(fastify: FastifyInstance, opts: { usage: UsageService }) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/management/usage', { schema: { querystring: UsageQuery } }, async (req) => opts.usage.usage(callerOf(req), req.query));
}
