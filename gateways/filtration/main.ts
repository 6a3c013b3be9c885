// Filtration gateway process (FILTRATION_PORT, default 8000).
import Fastify from 'fastify';
import { loadConfig } from '../../lib/config.js';
import { startTracing } from '../../lib/tracing.js';
import { createDb } from '../../lib/db.js';
import { reachable, serve, serverOptions } from '../../lib/http/server-options.js';
import { InferenceLogConsumer } from '../../lib/inference-log.js';
import { createRedis } from '../../lib/redis.js';
import { filtrationApp } from './app.js';
import { createFiltrationServices } from './services.js';

const config = loadConfig();
// Before the app is built: the common plugin adds its request spans only when tracing is on.
const tracing = await startTracing(config, 'filtration');
const db = createDb(config.databaseUrl);
const app = Fastify(serverOptions('filtration', config));
const redis = createRedis(config.redisUrl, 'filtration');
await app.register(filtrationApp, {
  ...createFiltrationServices({ db, redis, config }),
  ready: async () => ({ postgres: await reachable(() => db.$queryRaw`SELECT 1`) }),
});
// The inference log writer: a consumer group member draining the Redis Stream into Postgres.
const logConsumer = new InferenceLogConsumer(createRedis(config.redisUrl, 'filtration-logs'), db, {
  onError: (err) => app.log.warn({ err }, 'inference log consumer: retrying'),
});
logConsumer.start();
app.addHook('onClose', async () => {
  await logConsumer.stop();
  redis.disconnect();
  await db.$disconnect();
});
await serve(app, config.ports.filtration, config.host, tracing);
