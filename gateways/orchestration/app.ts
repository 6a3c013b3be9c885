// Orchestration gateway HTTP API (seed 001 paths and bodies). Thin: authenticate, validate,
// call the service layer.
import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../../lib/config.js';
import { authenticate, bearerToken, type Caller } from '../../lib/http/auth.js';
import { commonPlugin } from '../../lib/http/common.js';
import { deploymentLogsKey, type Redis } from '../../lib/redis.js';
import type { SessionRevocations } from '../../lib/sessions.js';
import {
  CreatePoolBody,
  DeleteModelBody,
  DeployBody,
  DeploymentIdBody,
  DeploymentIdParams,
  HeartbeatBody,
  LogsBody,
  LogsQuery,
  ModelNameParams,
  ModelParams,
  OrgQuery,
  OwnerIdParams,
  PoolIdParams,
  ProviderQuery,
  RegisterModelBody,
  ScaleBody,
  StatusQuery,
  TicketQuery,
} from './schemas.js';
import { logEntry, type OrchestrationService } from './service.js';

export interface OrchestrationAppOptions {
  config: Config;
  service: OrchestrationService;
  /** A Redis connection of its own for each live log socket (blocking reads). */
  streamRedis?: () => Redis;
  /** Refuses access tokens whose session was ended (logout, password or role change). */
  sessions?: SessionRevocations;
  ready?: () => Promise<Record<string, boolean>>;
}

export async function orchestrationApp(fastify: FastifyInstance, opts: OrchestrationAppOptions) {
  const { config, service } = opts;
  await fastify.register(commonPlugin, { service: 'orchestration', title: 'Inferia orchestration gateway', ready: opts.ready, corsOrigins: config.dashboardOrigins });
  await fastify.register(websocket, { options: { maxPayload: 64 * 1024 } });
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const verify = async (req: FastifyRequest): Promise<Caller> => {
    const c = authenticate(config, req);
    await opts.sessions?.assertLive(c);
    return c;
  };
  // For the audit log: the filtration gateway forwards its own request id when it proxies.
  const meta = (req: FastifyRequest) => ({ ip: req.ip, requestId: String(req.headers['x-request-id'] ?? req.id).slice(0, 200) });
  // Who is asking is settled before the body is read: a caller without a valid token gets 401, never
  // a validation answer. (/inventory/* names its node in the body; the log socket has its ticket.)
  const callers = new WeakMap<FastifyRequest, Caller>();
  fastify.addHook('onRequest', async (req) => {
    const url = req.routeOptions.url;
    if (url?.startsWith('/deployment/') && !url.endsWith('/ws')) callers.set(req, await verify(req));
  });
  const caller = async (req: FastifyRequest): Promise<Caller> => callers.get(req) ?? verify(req);

  app.post('/deployment/registerModel', { schema: { body: RegisterModelBody } }, async (req, reply) =>
    reply.status(201).send(await service.registerModel(await caller(req), req.body, meta(req))),
  );
  app.get('/deployment/getModel/:name/:version', { schema: { params: ModelParams, querystring: OrgQuery } }, async (req) =>
    service.getModel(await caller(req), req.params.name, req.params.version, req.query.org_id),
  );
  app.get('/deployment/listModels/:model_name', { schema: { params: ModelNameParams, querystring: OrgQuery } }, async (req) => ({
    models: await service.listModels(await caller(req), req.params.model_name, req.query.org_id),
  }));
  app.get('/deployment/listModels', { schema: { querystring: OrgQuery } }, async (req) => ({
    models: await service.listModels(await caller(req), undefined, req.query.org_id),
  }));
  app.delete('/deployment/deleteModel', { schema: { body: DeleteModelBody } }, async (req) => service.deleteModel(await caller(req), req.body, meta(req)));

  app.post('/deployment/createpool', { schema: { body: CreatePoolBody } }, async (req, reply) =>
    reply.status(201).send(await service.createPool(await caller(req), req.body, meta(req))),
  );
  app.get('/deployment/listPools/:owner_id', { schema: { params: OwnerIdParams } }, async (req) => ({
    pools: await service.listPools(await caller(req), req.params.owner_id),
  }));
  app.get('/deployment/list/pool/:pool_id/inventory', { schema: { params: PoolIdParams } }, async (req) =>
    service.poolInventory(await caller(req), req.params.pool_id),
  );
  app.post('/deployment/deletepool/:pool_id', { schema: { params: PoolIdParams } }, async (req) => service.deletePool(await caller(req), req.params.pool_id, meta(req)));

  app.post('/deployment/deploy', { schema: { body: DeployBody } }, async (req, reply) =>
    reply.status(202).send(await service.deploy(await caller(req), req.body, meta(req))),
  );
  app.get('/deployment/deployments', { schema: { querystring: OrgQuery } }, async (req) => ({
    deployments: await service.listDeployments(await caller(req), req.query.org_id),
  }));
  app.get('/deployment/status/:deployment_id', { schema: { params: DeploymentIdParams, querystring: StatusQuery } }, async (req) =>
    service.getDeployment(await caller(req), req.params.deployment_id, { live: req.query.live }),
  );
  app.post('/deployment/start', { schema: { body: DeploymentIdBody } }, async (req, reply) =>
    reply.status(202).send(await service.start(await caller(req), req.body.deployment_id, meta(req))),
  );
  app.post('/deployment/terminate', { schema: { body: DeploymentIdBody } }, async (req, reply) =>
    reply.status(202).send(await service.terminate(await caller(req), req.body.deployment_id, meta(req))),
  );
  app.post('/deployment/scale', { schema: { body: ScaleBody } }, async (req, reply) =>
    reply.status(202).send(await service.scale(await caller(req), req.body.deployment_id, req.body.replicas, meta(req))),
  );
  app.delete('/deployment/delete/:deployment_id', { schema: { params: DeploymentIdParams } }, async (req, reply) =>
    reply.status(202).send(await service.delete(await caller(req), req.params.deployment_id, meta(req))),
  );

  app.get('/deployment/provider/resources', { schema: { querystring: ProviderQuery } }, async (req) =>
    service.providerResources(await caller(req), req.query.provider),
  );

  app.get('/deployment/logs/:deployment_id', { schema: { params: DeploymentIdParams, querystring: LogsQuery } }, async (req) =>
    service.logs(await caller(req), req.params.deployment_id, req.query.tail),
  );
  app.get('/deployment/logs/:deployment_id/stream', { schema: { params: DeploymentIdParams } }, async (req) =>
    service.logStream(await caller(req), req.params.deployment_id, `${req.protocol}://${req.host}`),
  );
  app.get(
    '/deployment/logs/:deployment_id/ws',
    { websocket: true, schema: { params: DeploymentIdParams, querystring: TicketQuery, hide: true } },
    (socket, req) => {
      const { deployment_id: deploymentId } = req.params;
      try {
        service.verifyLogTicket(req.query.ticket, deploymentId);
      } catch {
        socket.close(4401, 'invalid or expired ticket');
        return;
      }
      if (!opts.streamRedis) {
        socket.close(1011, 'log streaming unavailable');
        return;
      }
      void streamLogs(socket, opts.streamRedis(), deploymentId, req.log);
    },
  );
  app.post('/inventory/logs', { schema: { body: LogsBody } }, async (req) => service.ingestLogs(bearerToken(req), req.body));

  app.post('/inventory/heartbeat', { schema: { body: HeartbeatBody } }, async (req) => service.heartbeat(bearerToken(req), req.body));
}

/**
 * Sends the recent lines, then every new one as it arrives (blocking reads on the deployment's
 * stream), until the client goes away. Works the same from any gateway instance.
 */
async function streamLogs(socket: WebSocket, redis: Redis, deploymentId: string, log: FastifyBaseLogger) {
  const key = deploymentLogsKey(deploymentId);
  let open = true;
  socket.on('close', () => {
    open = false;
    redis.disconnect();
  });
  try {
    const backlog = (await redis.xrevrange(key, '+', '-', 'COUNT', 100)).reverse();
    for (const [id, fields] of backlog) socket.send(JSON.stringify(logEntry(id, fields)));
    let last = backlog.at(-1)?.[0] ?? '$';
    while (open) {
      const result = await redis.xread('BLOCK', 10_000, 'STREAMS', key, last);
      for (const [, entries] of result ?? []) {
        for (const [id, fields] of entries) {
          socket.send(JSON.stringify(logEntry(id, fields)));
          last = id;
        }
      }
    }
  } catch (err) {
    if (open) {
      log.warn({ err }, 'log stream failed');
      socket.close(1011, 'log stream failed');
    }
  }
}
