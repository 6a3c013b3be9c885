// Inference gateway process (INFERENCE_PORT, default 8001): the OpenAI-compatible hot path.
import type { Client } from '@temporalio/client';
import Fastify from 'fastify';
import pg from 'pg';
import { poolClusters } from '../../adapters/clusters/pool-clusters.js';
import { loadConfig } from '../../lib/config.js';
import { startTracing } from '../../lib/tracing.js';
import { InferenceLogWriter } from '../../lib/inference-log.js';
import { Limiter } from '../../lib/limits.js';
import { lazyDb } from '../../lib/lazy-db.js';
import { lazyChildLoggerFactory } from '../../lib/http/lazy-child-logger.js';
import { reachable, serve, serverOptions } from '../../lib/http/server-options.js';
import { createRedis, DeferredCommands } from '../../lib/redis.js';
import { inferenceApp, newRequestId } from './app.js';
import { ContextCache } from './context-cache.js';
import { PromptProcessor } from './prompt.js';
import { pgRouteSource, RoutingTable } from './routing-table.js';
import { loadStaticConfig } from './static-config.js';
import { routedEmbedder } from './targets.js';
import { UpstreamPool } from './upstream.js';

const config = loadConfig();
// Before the app is built: the common plugin adds its request spans only when tracing is on.
const tracing = await startTracing(config, 'inference');
// The hot path reads Postgres only to load the routing table, over pg directly.
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
// An idle connection dropped (Postgres restarted): the next refresh opens another.
pool.on('error', (err) => app.log.warn({ err }, 'postgres connection dropped'));
// The Prisma client serves prompt templates, RAG, files and batches and /v1/clusters, never the
// plain hot path: its modules load on its first query.
const db = lazyDb(async () => (await import('../../lib/db.js')).createDb(config.databaseUrl, { max: 2 }));
const subscriber = createRedis(config.redisUrl, 'inference-sub');
const redis = createRedis(config.redisUrl, 'inference', { autoPipelining: true });
// Settlements and log entries leave with the next admission's write (or within 5 ms).
const deferred = new DeferredCommands();
const contexts = new ContextCache({
  filtrationUrl: config.urls.filtration,
  serviceToken: config.secrets.internalServiceToken,
  ttlMs: config.contextCacheTtlMs,
});
// config/endpoints.json and clusters.json: a file that is present but wrong stops the start here.
const statics = await loadStaticConfig(config.configDir);
const routes = new RoutingTable(pgRouteSource(pool), config.routesRefreshMs, {
  encryptionKey: config.secrets.encryptionKey,
  staticEndpoints: statics.endpoints,
  outbound: { allow: config.outboundAllowlist },
});
const upstream = new UpstreamPool();
routes.onLoad((urls) => upstream.retain(urls));
const prompts = new PromptProcessor(db, routedEmbedder(routes, config.upstreamTimeoutMs));
await contexts.subscribe(subscriber);
await routes.start(subscriber);
await prompts.subscribe(subscriber);

const logs = new InferenceLogWriter(redis, { deferred, onError: (err) => app.log.warn({ err }, 'inference log buffered: Redis unreachable') });
const limiter = new Limiter(redis, undefined, deferred, { leaseMs: config.limiterLeaseMs });
const app = Fastify(serverOptions('inference', config, { bodyLimit: 8 * 1024 * 1024, genReqId: newRequestId, childLoggerFactory: lazyChildLoggerFactory }));
// Loaded on the first batch request (the client's modules cost the hot path ~35 MiB it never uses),
// and its connection is lazy: the gateway starts and serves while Temporal is down.
let temporalClient: Promise<Client> | undefined;
const temporal = () =>
  (temporalClient ??= (async () => {
    const [{ Client, Connection }, { clientInterceptors }] = await Promise.all([import('@temporalio/client'), import('../../lib/temporal.js')]);
    return new Client({
      connection: Connection.lazy({ address: config.temporal.address }),
      namespace: config.temporal.namespace,
      interceptors: await clientInterceptors(app.log),
    });
  })());
await app.register(inferenceApp, {
  contexts,
  routes,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  upstream,
  limiter,
  clusters: async (orgId) => [...(await poolClusters(db, orgId)), ...statics.clusters],
  prompts,
  logs,
  limiterFailureMode: config.limiterFailureMode,
  filesBatches: {
    db,
    temporal,
    taskQueue: config.temporal.taskQueue,
    maxFileBytes: config.batch.maxFileBytes,
    concurrency: config.batch.concurrency,
    chunkSize: config.batch.chunkSize,
  },
  ready: async () => ({
    redis: await reachable(() => redis.ping()),
    routes: routes.loadedAt > 0,
  }),
});
app.addHook('onClose', async () => {
  routes.stop();
  upstream.close();
  subscriber.disconnect();
  // Before the connection goes: this hook runs before the app plugin's own (which does the same).
  await logs.close();
  // Unused leases of rate-limit counters go back (through the deferred commands, within their delay).
  await limiter.close().catch(() => undefined);
  deferred.flush();
  await redis.quit().catch(() => redis.disconnect());
  if (temporalClient) await (await temporalClient).connection.close().catch(() => undefined);
  await pool.end();
  await db.$disconnect();
});
await serve(app, config.ports.inference, config.host, tracing);
