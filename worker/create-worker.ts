// The one place that wires workflows and activities into a Temporal worker.
import { fileURLToPath } from 'node:url';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createBatchActivities } from '../activities/batch.activities.js';
import { createDeploymentActivities } from '../activities/deployment.activities.js';
import { createPoolActivities } from '../activities/pool.activities.js';
import { createReconcileActivities } from '../activities/reconcile.activities.js';
import { createProviderRegistry, type ProviderRegistry } from '../adapters/providers/registry.js';
import type { Config } from '../lib/config.js';
import type { Db } from '../lib/db.js';
import type { Redis } from '../lib/redis.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerDeps {
  config: Config;
  db: Db;
  redis: Redis;
  connection: NativeConnection;
  providers?: ProviderRegistry;
  taskQueue?: string;
  /** A prebuilt bundle (tests build it once per file). */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export async function createActivities(deps: WorkerDeps) {
  const { config } = deps;
  const providers = deps.providers ?? (await createProviderRegistry(config));
  return {
    ...createDeploymentActivities({
      db: deps.db,
      redis: deps.redis,
      providers,
      heartbeatUrl: `${config.urls.orchestration}/inventory/heartbeat`,
      heartbeatIntervalMs: config.engineHeartbeatIntervalMs,
      pepper: config.secrets.apiKeyPepper,
    }),
    ...createPoolActivities({ db: deps.db, providers }),
    ...createReconcileActivities({ db: deps.db, redis: deps.redis, providers, staleHeartbeatSeconds: config.staleHeartbeatSeconds }),
    ...createBatchActivities({
      db: deps.db,
      inferenceUrl: config.urls.inference,
      serviceToken: config.secrets.internalServiceToken,
      maxRequests: config.batch.maxRequests,
      requestTimeoutMs: config.upstreamTimeoutMs + 10_000,
    }),
  };
}

export async function createOrchestrationWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.taskQueue ?? deps.config.temporal.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: await createActivities(deps),
    shutdownGraceTime: '10 seconds',
  });
}
