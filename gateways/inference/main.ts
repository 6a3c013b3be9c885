// Inference gateway process (INFERENCE_PORT, default 8001): the OpenAI-compatible hot path.
import Fastify from 'fastify';
import pg from 'pg';
import { poolClusters } from '../../adapters/clusters/pool-clusters.js';
import { loadConfig } from '../../lib/config.js';
import { InferenceLogWriter } from '../../lib/inference-log.js';
import { Limiter } from '../../lib/limits.js';
import type { Db } from '../../lib/db.js';
import { lazyChildLoggerFactory } from '../../lib/http/lazy-child-logger.js';
import { reachable, serve, serverOptions } from '../../lib/http/server-options.js';
import { createRedis, DeferredCommands } from '../../lib/redis.js';
import { inferenceApp, newRequestId } from './app.js';
import { ContextCache } from './context-cache.js';
import { pgRouteSource, RoutingTable } from './routing-table.js';
import { UpstreamPool } from './upstream.js';

const config = loadConfig();
// The hot path reads Postgres only to load the routing table, over pg directly. The Prisma client
// (about 70 MiB once its Wasm query compiler runs) is loaded on first use, by /v1/clusters.
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
// An idle connection dropped (Postgres restarted): the next refresh opens another.
pool.on('error', (err) => app.log.warn({ err }, 'postgres connection dropped'));
let db: Promise<Db> | undefined;
const lazyDb = () => (db ??= import('../../lib/db.js').then(({ createDb }) => createDb(config.databaseUrl, { max: 2 })));
const subscriber = createRedis(config.redisUrl, 'inference-sub');
const redis = createRedis(config.redisUrl, 'inference', { autoPipelining: true });
// Settlements and log entries leave with the next admission's write (or within 5 ms).
const deferred = new DeferredCommands();
const contexts = new ContextCache({
  filtrationUrl: config.urls.filtration,
  serviceToken: config.secrets.internalServiceToken,
  ttlMs: config.contextCacheTtlMs,
});
const routes = new RoutingTable(pgRouteSource(pool), config.routesRefreshMs);
const upstream = new UpstreamPool();
routes.onLoad((urls) => upstream.retain(urls));
await contexts.subscribe(subscriber);
await routes.start(subscriber);

const app = Fastify(serverOptions('inference', config, { bodyLimit: 8 * 1024 * 1024, genReqId: newRequestId, childLoggerFactory: lazyChildLoggerFactory }));
await app.register(inferenceApp, {
  contexts,
  routes,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  upstream,
  limiter: new Limiter(redis, undefined, deferred),
  clusters: async (orgId) => poolClusters(await lazyDb(), orgId),
  logs: new InferenceLogWriter(redis, { deferred, onError: (err) => app.log.warn({ err }, 'inference log buffered: Redis unreachable') }),
  limiterFailureMode: config.limiterFailureMode,
  ready: async () => ({
    redis: await reachable(() => redis.ping()),
    routes: routes.loadedAt > 0,
  }),
});
app.addHook('onClose', async () => {
  routes.stop();
  upstream.close();
  subscriber.disconnect();
  deferred.flush();
  await redis.quit().catch(() => redis.disconnect());
  await pool.end();
  if (db) await (await db).$disconnect();
});
await serve(app, config.ports.inference, config.host);
