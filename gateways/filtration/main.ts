// Filtration gateway process (FILTRATION_PORT, default 8000).
import Fastify from 'fastify';
import { loadConfig } from '../../lib/config.js';
import { createDb } from '../../lib/db.js';
import { reachable, serve, serverOptions } from '../../lib/http/server-options.js';
import { InferenceLogConsumer } from '../../lib/inference-log.js';
import { createRedis } from '../../lib/redis.js';
import { SessionRevocations } from '../../lib/sessions.js';
import { filtrationApp } from './app.js';
import { AuthService } from './auth-service.js';
import { ManagementService } from './management-service.js';
import { PolicyService } from './policy-service.js';
import { IdentityService } from './identity-service.js';

const config = loadConfig();
const db = createDb(config.databaseUrl);
const app = Fastify(serverOptions('filtration', config));
const redis = createRedis(config.redisUrl, 'filtration');
const sessions = new SessionRevocations(redis, config.jwt.accessTtlSeconds);
const auth = new AuthService({ db, redis, config, sessions });
await app.register(filtrationApp, {
  config,
  identity: new IdentityService({ db, config }),
  auth,
  management: new ManagementService({ db, redis, config, endSessions: (userId) => auth.endAllSessions(userId) }),
  policy: new PolicyService({ db, redis, config }),
  sessions,
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
await serve(app, config.ports.filtration, config.host);
