// Orchestration gateway process: HTTP on ORCHESTRATION_PORT, gRPC on ORCHESTRATION_GRPC_PORT,
// one service layer behind both.
import Fastify from 'fastify';
import { loadConfig } from '../../lib/config.js';
import { createDb } from '../../lib/db.js';
import { serverOptions } from '../../lib/http/server-options.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { orchestrationApp } from './app.js';
import { createOrchestrationGrpcServer, listen } from './grpc.js';
import { OrchestrationService } from './service.js';

const config = loadConfig();
const db = createDb(config.databaseUrl);
const temporal = await createTemporalClient(config);
const app = Fastify(serverOptions('orchestration', config));
const service = new OrchestrationService({ db, temporal, config, log: app.log });
await app.register(orchestrationApp, {
  config,
  service,
  ready: async () => ({
    postgres: await db.$queryRaw`SELECT 1`.then(() => true, () => false),
    temporal: await temporal.connection.workflowService.getSystemInfo({}).then(() => true, () => false),
  }),
});
const grpcServer = createOrchestrationGrpcServer({ config, service, log: app.log });
app.addHook('onClose', async () => {
  await new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
  await temporal.connection.close();
  await db.$disconnect();
});

const close = async () => {
  await app.close();
  process.exit(0);
};
process.once('SIGINT', close);
process.once('SIGTERM', close);
await app.listen({ port: config.ports.orchestration, host: config.host });
const grpcPort = await listen(grpcServer, config.host, config.ports.orchestrationGrpc);
app.log.info({ port: grpcPort }, 'gRPC listening');
