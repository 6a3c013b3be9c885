// Provider reconciliation: what the provider has versus what the inventory says. Marks nodes
// that vanished TERMINATED and silent ones UNHEALTHY (unless the provider vouches for them),
// records nodes it did not know, and caches the provider's resources for the API.
import { Context, log } from '@temporalio/activity';
import type { ProviderRegistry } from '../adapters/providers/registry.js';
import type { Db } from '../lib/db.js';
import { channels, providerResourcesKey, type Redis } from '../lib/redis.js';
import type { NodeEvent } from '../workflows/deployment.messages.js';

export interface ReconcileDeps {
  db: Db;
  redis: Redis;
  providers: ProviderRegistry;
  staleHeartbeatSeconds: number;
}

export interface NodeChange {
  deploymentId: string;
  providerInstanceId: string;
  state: NodeEvent['state'];
  exposeUrl: string | null;
}

export function createReconcileActivities(deps: ReconcileDeps) {
  const { db, redis } = deps;
  return {
    async reconcileProvider(input: { provider: string }): Promise<{ changes: NodeChange[]; discovered: number; vanished: number; unhealthy: number }> {
      const adapter = deps.providers.get(input.provider);
      if (!adapter) return { changes: [], discovered: 0, vanished: 0, unhealthy: 0 };
      const rows = await db.inventoryNode.findMany({ where: { provider: input.provider, state: { not: 'TERMINATED' } } });
      const known = rows.filter((n) => adapter.owns?.(n.providerInstanceId) ?? true);
      // A provider nobody uses (no pool, no node) is not called: an unconfigured cloud stays quiet.
      const pools = await db.computePool.count({ where: { provider: input.provider, deletedAt: null } });
      if (pools === 0 && known.length === 0) return { changes: [], discovered: 0, vanished: 0, unhealthy: 0 };
      const result = await adapter.reconcile(known.map((n) => n.providerInstanceId));
      Context.current().heartbeat('reconciled');
      const changes: NodeChange[] = [];
      const mark = async (node: (typeof known)[number], state: NodeChange['state'], why: string) => {
        // Only a real change is written and signalled; a concurrent heartbeat may have beaten us.
        const updated = await db.inventoryNode.updateMany({ where: { id: node.id, state: node.state }, data: { state, ...(state === 'TERMINATED' ? { exposeUrl: null } : {}) } });
        if (updated.count > 0 && node.deploymentId) {
          changes.push({ deploymentId: node.deploymentId, providerInstanceId: node.providerInstanceId, state, exposeUrl: null });
          log.info('node state changed by reconciliation', { provider: input.provider, node: node.providerInstanceId, state, why });
        }
      };

      const vanished = new Set(result.vanished);
      for (const node of known.filter((n) => vanished.has(n.providerInstanceId))) await mark(node, 'TERMINATED', 'vanished from the provider');

      let unhealthy = 0;
      const staleBefore = Date.now() - deps.staleHeartbeatSeconds * 1000;
      for (const node of known) {
        if (vanished.has(node.providerInstanceId) || node.state !== 'READY' || !node.deploymentId) continue;
        if (node.lastHeartbeatAt && node.lastHeartbeatAt.getTime() >= staleBefore) continue;
        // Silent (or never heartbeating): ask the provider before condemning it.
        const probe = await adapter.probeEngine(node.providerInstanceId).catch(() => ({ state: 'UNHEALTHY' as const }));
        if (probe.state === 'READY' && !node.lastHeartbeatAt) continue; // agentless node the provider vouches for
        if (probe.state === 'READY' && node.lastHeartbeatAt) {
          unhealthy += 1;
          await mark(node, 'UNHEALTHY', `no heartbeat for over ${deps.staleHeartbeatSeconds} s`);
        } else if (probe.state === 'TERMINATED' || probe.state === 'UNHEALTHY') {
          unhealthy += 1;
          await mark(node, probe.state, 'provider reports it');
        }
      }

      const pool = await db.computePool.findFirst({ where: { provider: input.provider, status: 'ACTIVE', deletedAt: null }, orderBy: { createdAt: 'asc' } });
      let discovered = 0;
      if (pool) {
        for (const node of result.discovered) {
          await db.inventoryNode.upsert({
            where: { provider_providerInstanceId: { provider: input.provider, providerInstanceId: node.providerInstanceId } },
            create: {
              poolId: pool.id,
              provider: input.provider,
              providerInstanceId: node.providerInstanceId,
              state: node.state,
              gpuType: node.gpuType ?? null,
              gpuAllocated: node.gpuCount,
              vcpuAllocated: node.vcpu,
              ramGbAllocated: node.ramGb,
              exposeUrl: node.exposeUrl ?? null,
              metadata: node.metadata as object,
            },
            update: {},
          });
          discovered += 1;
        }
      }

      const resources = await adapter.listResources().catch((err: Error) => {
        log.warn('provider resources unavailable', { provider: input.provider, error: err.message });
        return undefined;
      });
      if (resources) {
        await redis.set(providerResourcesKey(input.provider), JSON.stringify({ fetched_at: new Date().toISOString(), resources }), 'EX', 3600);
      }
      if (changes.length > 0) await redis.publish(channels.routes, input.provider).catch(() => 0);
      return { changes, discovered, vanished: vanished.size, unhealthy };
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
