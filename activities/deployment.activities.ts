// Side effects of the deployment workflow. Built by a factory that takes its dependencies, so
// the worker wires real ones and tests can wire their own. Every activity is idempotent: a retry
// after a crash finds what the first attempt did and carries on from there.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { ProviderRegistry } from '../adapters/providers/registry.js';
import { ProviderConfigError, type EngineProbe, type ProviderAdapter } from '../adapters/providers/types.js';
import { keyedHash, nodeToken } from '../lib/crypto.js';
import type { Db } from '../lib/db.js';
import { channels, type Redis } from '../lib/redis.js';
import type { DeploymentSpec, DeploymentStatus } from '../workflows/deployment.messages.js';

export interface DeploymentActivityDeps {
  db: Db;
  redis: Redis;
  providers: ProviderRegistry;
  /** Public URL of the orchestration gateway's POST /inventory/heartbeat. */
  heartbeatUrl: string;
  heartbeatIntervalMs: number;
  pepper: string;
}

export interface StartReplicaResult {
  nodeId: string;
  providerInstanceId: string;
}

export function createDeploymentActivities(deps: DeploymentActivityDeps) {
  const { db, redis } = deps;

  const adapterFor = (provider: string): ProviderAdapter => {
    const adapter = deps.providers.get(provider);
    if (!adapter) throw ApplicationFailure.nonRetryable(`no adapter registered for provider '${provider}'`, 'ProviderConfigError');
    return adapter;
  };

  const publishRoutes = (deploymentId: string) => redis.publish(channels.routes, deploymentId).catch(() => 0);

  return {
    async recordStatus(input: { deploymentId: string; status: DeploymentStatus; reason: string | null; replicas?: number }): Promise<void> {
      await db.$transaction([
        db.deployment.updateMany({
          where: { id: input.deploymentId },
          data: { status: input.status, statusReason: input.reason, ...(input.replicas ? { replicas: input.replicas } : {}) },
        }),
        db.deploymentEvent.createMany({
          data: [{ deploymentId: input.deploymentId, kind: 'status', message: input.reason ? `${input.status}: ${input.reason}` : input.status }],
          skipDuplicates: true,
        }),
      ]).catch(async (err: unknown) => {
        // The deployment row may have been removed; the event's foreign key then fails. Nothing to record.
        const exists = await db.deployment.count({ where: { id: input.deploymentId } });
        if (exists > 0) throw err;
      });
      await publishRoutes(input.deploymentId);
    },

    async recordEvent(input: { deploymentId: string; kind: string; message: string }): Promise<void> {
      const exists = await db.deployment.count({ where: { id: input.deploymentId } });
      if (exists > 0) await db.deploymentEvent.create({ data: input });
    },

    /**
     * Asks the provider how replicas are doing (for engines without a node agent) and records a
     * READY one with its URL, so the routing table can use it.
     */
    async probeReplicas(input: { deploymentId: string; provider: string; providerInstanceIds: string[] }): Promise<Record<string, EngineProbe>> {
      const adapter = adapterFor(input.provider);
      const out: Record<string, EngineProbe> = {};
      for (const id of input.providerInstanceIds) {
        const probe = await adapter.probeEngine(id);
        out[id] = probe;
        if (probe.state === 'READY') {
          const updated = await db.inventoryNode.updateMany({
            where: { provider: input.provider, providerInstanceId: id, state: { not: 'READY' } },
            data: { state: 'READY', ...(probe.exposeUrl ? { exposeUrl: probe.exposeUrl } : {}) },
          });
          if (updated.count > 0) await publishRoutes(input.deploymentId);
        }
      }
      return out;
    },

    async startReplica(input: { spec: DeploymentSpec; replicaIndex: number }): Promise<StartReplicaResult> {
      const { spec, replicaIndex } = input;
      const adapter = adapterFor(spec.provider);
      const token = nodeToken(deps.pepper, `${spec.deploymentId}:${replicaIndex}`);
      Context.current().heartbeat({ step: 'starting engine' });
      let instance;
      try {
        instance = await adapter.startEngine({
          deploymentId: spec.deploymentId,
          replicaIndex,
          poolId: spec.poolId,
          engine: spec.engine,
          model: spec.inferenceModel,
          artifactUri: spec.artifactUri,
          gpuPerReplica: spec.gpuPerReplica,
          configuration: spec.configuration,
          heartbeat: { url: deps.heartbeatUrl, token, intervalMs: deps.heartbeatIntervalMs },
        });
      } catch (err) {
        if (err instanceof ProviderConfigError) throw ApplicationFailure.nonRetryable(err.message, 'ProviderConfigError');
        throw err;
      }
      Context.current().heartbeat({ step: 'recording node' });
      const fields = {
        poolId: spec.poolId,
        state: 'PROVISIONING',
        nodeTokenHash: keyedHash(deps.pepper, token),
        deploymentId: spec.deploymentId,
        replicaIndex,
        gpuAllocated: spec.gpuPerReplica,
        exposeUrl: instance.exposeUrl ?? null,
        metadata: instance.metadata as object,
      };
      const node = await db.inventoryNode.upsert({
        where: { provider_providerInstanceId: { provider: spec.provider, providerInstanceId: instance.providerInstanceId } },
        create: { provider: spec.provider, providerInstanceId: instance.providerInstanceId, ...fields },
        update: fields,
      });
      log.info('replica started', { deploymentId: spec.deploymentId, replicaIndex, providerInstanceId: instance.providerInstanceId });
      return { nodeId: node.id, providerInstanceId: instance.providerInstanceId };
    },

    async stopReplica(input: { deploymentId: string; provider: string; providerInstanceId: string }): Promise<void> {
      const adapter = adapterFor(input.provider);
      await adapter.stopEngine(input.providerInstanceId);
      await db.inventoryNode.updateMany({
        where: { provider: input.provider, providerInstanceId: input.providerInstanceId },
        data: { state: 'TERMINATED', exposeUrl: null },
      });
      await publishRoutes(input.deploymentId);
    },

    async removeDeployment(input: { deploymentId: string }): Promise<void> {
      await db.$transaction([
        db.inventoryNode.updateMany({ where: { deploymentId: input.deploymentId }, data: { deploymentId: null, state: 'TERMINATED', exposeUrl: null } }),
        db.deployment.deleteMany({ where: { id: input.deploymentId } }),
      ]);
      await publishRoutes(input.deploymentId);
    },
  };
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;
