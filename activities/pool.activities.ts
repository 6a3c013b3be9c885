// Side effects of the pool workflow: validate and provision the provider side, keep the
// Postgres projection. Idempotent: provisioning returns the same provider id when retried.
import { ApplicationFailure, log } from '@temporalio/activity';
import type { ProviderRegistry } from '../adapters/providers/registry.js';
import { ProviderConfigError } from '../adapters/providers/types.js';
import type { Db } from '../lib/db.js';
import type { PoolSpec, PoolStatus } from '../workflows/pool.messages.js';

export interface PoolActivityDeps {
  db: Db;
  providers: ProviderRegistry;
}

export function createPoolActivities(deps: PoolActivityDeps) {
  const adapterFor = (provider: string) => {
    const adapter = deps.providers.get(provider);
    if (!adapter) throw ApplicationFailure.nonRetryable(`no adapter registered for provider '${provider}'`, 'ProviderConfigError');
    return adapter;
  };

  return {
    async validatePool(spec: PoolSpec): Promise<void> {
      adapterFor(spec.provider);
      const maxCost = spec.config.max_cost_per_hour;
      if (maxCost !== undefined && maxCost !== null && (typeof maxCost !== 'number' || maxCost < 0)) {
        throw ApplicationFailure.nonRetryable('max_cost_per_hour must be a non-negative number', 'ProviderConfigError');
      }
    },

    async provisionPool(spec: PoolSpec): Promise<string> {
      if (spec.providerPoolId) return spec.providerPoolId; // an existing provider-side pool is adopted
      try {
        return await adapterFor(spec.provider).provisionNode(spec.poolId, spec.config);
      } catch (err) {
        if (err instanceof ProviderConfigError) throw ApplicationFailure.nonRetryable(err.message, 'ProviderConfigError');
        throw err;
      }
    },

    async deprovisionPool(input: { provider: string; providerPoolId: string }): Promise<void> {
      // Engines were released by their deployments (a pool in use cannot be deleted); what is
      // left is the provider-side pool itself. Adapters treat an unknown id as already gone.
      const adapter = deps.providers.get(input.provider);
      if (!adapter) return;
      try {
        await adapter.deprovisionNode(input.providerPoolId);
      } catch (err) {
        log.warn('provider-side pool could not be released; it may need manual clean-up', { providerPoolId: input.providerPoolId, error: (err as Error).message });
      }
    },

    async countPoolDeployments(input: { poolId: string }): Promise<number> {
      return deps.db.deployment.count({ where: { poolId: input.poolId } });
    },

    async recordPoolStatus(input: { poolId: string; status: PoolStatus; reason: string | null; providerPoolId: string | null }): Promise<void> {
      await deps.db.computePool.updateMany({
        where: { id: input.poolId },
        data: {
          status: input.status,
          providerPoolId: input.providerPoolId,
          ...(input.status === 'DELETED' ? { deletedAt: new Date() } : {}),
        },
      });
    },
  };
}

export type PoolActivities = ReturnType<typeof createPoolActivities>;
