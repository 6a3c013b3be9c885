// The Temporal worker process: runs workflows and activities on the orchestration task queue.
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../lib/config.js';
import { createDb } from '../lib/db.js';
import { createRedis } from '../lib/redis.js';
import { createOrchestrationWorker } from './create-worker.js';

const config = loadConfig();
Runtime.install({
  // The SDK's INFO output (bundle build, state changes) drowns the console; debug brings it back.
  logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
});
const db = createDb(config.databaseUrl);
const redis = createRedis(config.redisUrl, 'worker');
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
