// Orchestration gateway process: HTTP on ORCHESTRATION_PORT, gRPC on ORCHESTRATION_GRPC_PORT,
// one service layer behind both.
import Fastify from 'fastify';
import { loadConfig } from '../../lib/config.js';
import { startTracing } from '../../lib/tracing.js';
import { createDb } from '../../lib/db.js';
import { reachable, serve, serverOptions } from '../../lib/http/server-options.js';
import { createRedis } from '../../lib/redis.js';
import { SessionRevocations } from '../../lib/sessions.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { orchestrationApp } from './app.js';
import { createOrchestrationGrpcServer, listen } from './grpc.js';
import { OrchestrationService } from './service.js';

const config = loadConfig();
// Before the app is built: the common plugin adds its request spans only when tracing is on.
const tracing = await startTracing(config, 'orchestration');
const db = createDb(config.databaseUrl);
const app = Fastify(serverOptions('orchestration', config));
const temporal = await createTemporalClient(config, app.log);
const redis = createRedis(config.redisUrl, 'orchestration');
const service = new OrchestrationService({ db, temporal, redis, config, log: app.log });
const sessions = new SessionRevocations(redis, config.jwt.accessTtlSeconds);
await app.register(orchestrationApp, {
  config,
  service,
  streamRedis: () => createRedis(config.redisUrl, 'orchestration-logs'),
  sessions,
  ready: async () => ({
    postgres: await reachable(() => db.$queryRaw`SELECT 1`),
    temporal: await reachable(() => temporal.connection.workflowService.getSystemInfo({})),
  }),
});
const grpcServer = createOrchestrationGrpcServer({ config, service, sessions, log: app.log });
app.addHook('onClose', async () => {
  await new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
  await temporal.connection.close();
  redis.disconnect();
  await db.$disconnect();
});

await serve(app, config.ports.orchestration, config.host, tracing);
const grpcPort = await listen(grpcServer, config.host, config.ports.orchestrationGrpc);
app.log.info({ port: grpcPort }, 'gRPC listening');
