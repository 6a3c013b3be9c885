// The one place that wires workflows and activities into a Temporal worker.
import { createRequire } from 'node:module';
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
import type { Tracing } from '../lib/tracing.js';

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
  /** When set, workflows and activities continue the trace their starter sent in the headers. */
  tracing?: Tracing;
}

/**
 * Temporal's OpenTelemetry interceptors: a span per workflow run, signal, update and activity
 * schedule (inside the workflow sandbox, handed out through a sink to this process's span
 * processor) and per activity execution, each the child of the span that started it.
 */
export async function tracingOptions(tracing: Tracing): Promise<Pick<WorkerOptions, 'interceptors' | 'sinks'>> {
  const otel = await import('@temporalio/interceptors-opentelemetry');
  return {
    interceptors: {
      workflowModules: [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
      activity: [
        (ctx) => ({
          inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: otel.makeWorkflowExporter(tracing.processor, tracing.resource) },
  };
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
    ...(deps.tracing ? await tracingOptions(deps.tracing) : {}),
    shutdownGraceTime: '10 seconds',
  });
}
