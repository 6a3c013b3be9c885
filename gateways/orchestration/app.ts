// Orchestration gateway HTTP API (seed 001 paths and bodies). Thin: authenticate, validate,
// call the service layer.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../../lib/config.js';
import { authenticate, bearerToken } from '../../lib/http/auth.js';
import { commonPlugin } from '../../lib/http/common.js';
import {
  CreatePoolBody,
  DeleteModelBody,
  DeployBody,
  DeploymentIdBody,
  DeploymentIdParams,
  HeartbeatBody,
  ModelNameParams,
  ModelParams,
  OrgQuery,
  OwnerIdParams,
  PoolIdParams,
  ProviderQuery,
  RegisterModelBody,
  ScaleBody,
  StatusQuery,
} from './schemas.js';
import type { OrchestrationService } from './service.js';

export interface OrchestrationAppOptions {
  config: Config;
  service: OrchestrationService;
  ready?: () => Promise<Record<string, boolean>>;
}

export async function orchestrationApp(fastify: FastifyInstance, opts: OrchestrationAppOptions) {
  const { config, service } = opts;
  await fastify.register(commonPlugin, { service: 'orchestration', title: 'Inferia orchestration gateway', ready: opts.ready });
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const caller = (req: FastifyRequest) => authenticate(config, req);

  app.post('/deployment/registerModel', { schema: { body: RegisterModelBody } }, async (req, reply) =>
    reply.status(201).send(await service.registerModel(caller(req), req.body)),
  );
  app.get('/deployment/getModel/:name/:version', { schema: { params: ModelParams, querystring: OrgQuery } }, async (req) =>
    service.getModel(caller(req), req.params.name, req.params.version, req.query.org_id),
  );
  app.get('/deployment/listModels/:model_name', { schema: { params: ModelNameParams, querystring: OrgQuery } }, async (req) => ({
    models: await service.listModels(caller(req), req.params.model_name, req.query.org_id),
  }));
  app.get('/deployment/listModels', { schema: { querystring: OrgQuery } }, async (req) => ({
    models: await service.listModels(caller(req), undefined, req.query.org_id),
  }));
  app.delete('/deployment/deleteModel', { schema: { body: DeleteModelBody } }, async (req) => service.deleteModel(caller(req), req.body));

  app.post('/deployment/createpool', { schema: { body: CreatePoolBody } }, async (req, reply) =>
    reply.status(201).send(await service.createPool(caller(req), req.body)),
  );
  app.get('/deployment/listPools/:owner_id', { schema: { params: OwnerIdParams } }, async (req) => ({
    pools: await service.listPools(caller(req), req.params.owner_id),
  }));
  app.get('/deployment/list/pool/:pool_id/inventory', { schema: { params: PoolIdParams } }, async (req) =>
    service.poolInventory(caller(req), req.params.pool_id),
  );
  app.post('/deployment/deletepool/:pool_id', { schema: { params: PoolIdParams } }, async (req) => service.deletePool(caller(req), req.params.pool_id));

  app.post('/deployment/deploy', { schema: { body: DeployBody } }, async (req, reply) =>
    reply.status(202).send(await service.deploy(caller(req), req.body)),
  );
  app.get('/deployment/deployments', { schema: { querystring: OrgQuery } }, async (req) => ({
    deployments: await service.listDeployments(caller(req), req.query.org_id),
  }));
  app.get('/deployment/status/:deployment_id', { schema: { params: DeploymentIdParams, querystring: StatusQuery } }, async (req) =>
    service.getDeployment(caller(req), req.params.deployment_id, { live: req.query.live }),
  );
  app.post('/deployment/start', { schema: { body: DeploymentIdBody } }, async (req, reply) =>
    reply.status(202).send(await service.start(caller(req), req.body.deployment_id)),
  );
  app.post('/deployment/terminate', { schema: { body: DeploymentIdBody } }, async (req, reply) =>
    reply.status(202).send(await service.terminate(caller(req), req.body.deployment_id)),
  );
  app.post('/deployment/scale', { schema: { body: ScaleBody } }, async (req, reply) =>
    reply.status(202).send(await service.scale(caller(req), req.body.deployment_id, req.body.replicas)),
  );
  app.delete('/deployment/delete/:deployment_id', { schema: { params: DeploymentIdParams } }, async (req, reply) =>
    reply.status(202).send(await service.delete(caller(req), req.params.deployment_id)),
  );

  app.get('/deployment/provider/resources', { schema: { querystring: ProviderQuery } }, async (req) =>
    service.providerResources(caller(req), req.query.provider),
  );

  app.post('/inventory/heartbeat', { schema: { body: HeartbeatBody } }, async (req) => service.heartbeat(bearerToken(req), req.body));
}
