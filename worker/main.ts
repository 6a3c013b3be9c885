// The Temporal worker process: runs workflows and activities on the orchestration task queue.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../lib/config.js';
import { PROVIDERS } from '../lib/providers.js';
import { createDb } from '../lib/db.js';
import { createRedis } from '../lib/redis.js';
import { ensureSearchAttributes } from '../lib/temporal.js';
import { startTracing } from '../lib/tracing.js';
import { createOrchestrationWorker } from './create-worker.js';
import { createWorkerLogger } from './logger.js';
import { ensureReconcileSchedules } from './schedules.js';

const config = loadConfig();
const tracing = await startTracing(config, 'worker');
// JSON lines like the gateways', with workflowId, runId, activityType… from the SDK as fields.
const logger = createWorkerLogger(config.logLevel);
const log = logger.pino;
Runtime.install({
  logger,
  telemetryOptions: {
    logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
    // The SDK core serves the worker's metrics (poll and task latencies, slots, activity and workflow outcomes).
    ...(config.workerMetricsAddress ? { metrics: { prometheus: { bindAddress: config.workerMetricsAddress } } } : {}),
  },
});
const db = createDb(config.databaseUrl);
const redis = createRedis(config.redisUrl, 'worker');
const admin = await Connection.connect({ address: config.temporal.address });
const added = await ensureSearchAttributes(admin, config.temporal.namespace);
if (added.length > 0) log.info({ searchAttributes: added }, 'registered search attributes');
const schedules = await ensureReconcileSchedules(new Client({ connection: admin, namespace: config.temporal.namespace }), {
  providers: PROVIDERS,
  taskQueue: config.temporal.taskQueue,
  intervalSeconds: config.reconcileIntervalSeconds,
});
log.info({ schedules, everySeconds: config.reconcileIntervalSeconds }, 'reconciliation schedules');
await admin.close();
const connection = await NativeConnection.connect({ address: config.temporal.address });
const worker = await createOrchestrationWorker({ config, db, redis, connection, tracing });
log.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address }, 'worker polling');
try {
  await worker.run(); // resolves after SIGINT/SIGTERM (the SDK installs the handlers)
} finally {
  await connection.close();
  await db.$disconnect();
  redis.disconnect();
  await tracing?.shutdown();
}
