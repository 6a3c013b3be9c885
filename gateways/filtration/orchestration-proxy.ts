// /management/deployments, /management/pools, /management/models: the orchestration API under the
// management namespace, for the dashboard and CLI. The caller's own token is forwarded, so the
// orchestration gateway applies the same org scoping and permissions; this gateway checks the
// route table first. No orchestration logic lives here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import { callerOf } from './app.js';

const Id = z.object({ id: z.uuid() });
const Replicas = z.object({ replicas: z.number().int().min(1).max(64) });
const Body = z.record(z.string(), z.unknown());

export async function orchestrationProxy(fastify: FastifyInstance, opts: { orchestrationUrl: string; timeoutMs?: number }) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  const forward = async (req: FastifyRequest, reply: FastifyReply, method: string, path: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${opts.orchestrationUrl}${path}`, {
        method,
        headers: {
          authorization: req.headers.authorization ?? '',
          'x-request-id': String(req.id),
          // Honoured by the orchestration gateway only with TRUST_PROXY (its audit rows then name the client).
          'x-forwarded-for': req.ip,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
    } catch {
      throw new AppError('unavailable', 'the orchestration gateway is unreachable');
    }
    const text = await res.text();
    return reply.status(res.status).header('content-type', res.headers.get('content-type') ?? 'application/json').send(text);
  };
  const orgOf = (req: FastifyRequest) => {
    const c = callerOf(req);
    return c.kind === 'user' ? c.orgId : '';
  };

  app.get('/management/deployments', async (req, reply) => forward(req, reply, 'GET', '/deployment/deployments'));
  app.post('/management/deployments', { schema: { body: Body } }, async (req, reply) => forward(req, reply, 'POST', '/deployment/deploy', req.body));
  app.get('/management/deployments/:id', { schema: { params: Id } }, async (req, reply) => forward(req, reply, 'GET', `/deployment/status/${req.params.id}?live=true`));
  app.get('/management/deployments/:id/logs', { schema: { params: Id } }, async (req, reply) => forward(req, reply, 'GET', `/deployment/logs/${req.params.id}`));
  app.post('/management/deployments/:id/start', { schema: { params: Id } }, async (req, reply) =>
    forward(req, reply, 'POST', '/deployment/start', { deployment_id: req.params.id }),
  );
  app.post('/management/deployments/:id/terminate', { schema: { params: Id } }, async (req, reply) =>
    forward(req, reply, 'POST', '/deployment/terminate', { deployment_id: req.params.id }),
  );
  app.post('/management/deployments/:id/scale', { schema: { params: Id, body: Replicas } }, async (req, reply) =>
    forward(req, reply, 'POST', '/deployment/scale', { deployment_id: req.params.id, replicas: req.body.replicas }),
  );
  app.delete('/management/deployments/:id', { schema: { params: Id } }, async (req, reply) => forward(req, reply, 'DELETE', `/deployment/delete/${req.params.id}`));

  app.get('/management/pools', async (req, reply) => forward(req, reply, 'GET', `/deployment/listPools/${orgOf(req)}`));
  app.post('/management/pools', { schema: { body: Body } }, async (req, reply) => forward(req, reply, 'POST', '/deployment/createpool', req.body));
  app.get('/management/pools/:id/inventory', { schema: { params: Id } }, async (req, reply) =>
    forward(req, reply, 'GET', `/deployment/list/pool/${req.params.id}/inventory`),
  );
  app.delete('/management/pools/:id', { schema: { params: Id } }, async (req, reply) => forward(req, reply, 'POST', `/deployment/deletepool/${req.params.id}`));

  app.get('/management/models', async (req, reply) => forward(req, reply, 'GET', '/deployment/listModels'));
  app.post('/management/models', { schema: { body: Body } }, async (req, reply) => forward(req, reply, 'POST', '/deployment/registerModel', req.body));
  app.delete('/management/models', { schema: { body: Body } }, async (req, reply) => forward(req, reply, 'DELETE', '/deployment/deleteModel', req.body));
}
