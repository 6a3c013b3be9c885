// The Temporal worker process: runs workflows and activities on the orchestration task queue.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../lib/config.js';
import { PROVIDERS } from '../lib/providers.js';
import { createDb } from '../lib/db.js';
import { createRedis } from '../lib/redis.js';
import { ensureSearchAttributes } from '../lib/temporal.js';
import { createOrchestrationWorker } from './create-worker.js';
import { ensureReconcileSchedules } from './schedules.js';

const config = loadConfig();
Runtime.install({
  // The SDK's INFO output (bundle build, state changes) drowns the console; debug brings it back.
  logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'),
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
if (added.length > 0) console.log(`registered search attributes: ${added.join(', ')}`);
const schedules = await ensureReconcileSchedules(new Client({ connection: admin, namespace: config.temporal.namespace }), {
  providers: PROVIDERS,
  taskQueue: config.temporal.taskQueue,
  intervalSeconds: config.reconcileIntervalSeconds,
});
console.log(`reconciliation schedules: ${schedules.join(', ')} (every ${config.reconcileIntervalSeconds} s)`);
await admin.close();
const connection = await NativeConnection.connect({ address: config.temporal.address });
const worker = await createOrchestrationWorker({ config, db, redis, connection });
console.log(`worker polling task queue ${config.temporal.taskQueue} on ${config.temporal.address}`);
try {
  await worker.run(); // resolves after SIGINT/SIGTERM (the SDK installs the handlers)
} finally {
  await connection.close();
  await db.$disconnect();
  redis.disconnect();
}
