// poolWorkflow (id `pool:<id>`) owns a compute pool's provider side: validate the provider and
// its settings, provision, stay ACTIVE, and on delete (refused while deployments use the pool)
// deprovision and finish. Deterministic: provider calls are activities.
import { ApplicationFailure, allHandlersFinished, condition, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { PoolActivities } from '../activities/pool.activities.js';
import { awaitProvisionedUpdate, deletePoolUpdate, poolStatusQuery, type PoolSpec, type PoolStatus, type PoolView } from './pool.messages.js';

const acts = proxyActivities<PoolActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: ['ProviderConfigError'] },
});

export async function poolWorkflow(spec: PoolSpec): Promise<PoolView> {
  const view: PoolView = { poolId: spec.poolId, status: 'PROVISIONING', reason: null, providerPoolId: spec.providerPoolId };
  let deleteRequested = false;

  setHandler(poolStatusQuery, () => ({ ...view }));
  setHandler(awaitProvisionedUpdate, async () => {
    await condition(() => view.status !== 'PROVISIONING');
    return { ...view };
  });
  setHandler(
    deletePoolUpdate,
    async () => {
      const inUse = await acts.countPoolDeployments({ poolId: spec.poolId });
      if (inUse > 0) {
        throw ApplicationFailure.create({ type: 'PoolInUse', message: `pool is used by ${inUse} deployment(s); delete them first`, nonRetryable: true });
      }
      deleteRequested = true;
      await condition(() => view.status === 'DELETED' || view.status === 'FAILED');
      return { ...view };
    },
    {
      validator: () => {
        if (view.status === 'DELETING' || view.status === 'DELETED') {
          throw ApplicationFailure.create({ type: 'InvalidTransition', message: `pool is already ${view.status}`, nonRetryable: true });
        }
      },
    },
  );

  // The projection is written first, so whoever waits on the view reads the same in Postgres.
  const setStatus = async (status: PoolStatus, reason: string | null = null) => {
    await acts.recordPoolStatus({ poolId: spec.poolId, status, reason, providerPoolId: view.providerPoolId });
    view.status = status;
    view.reason = reason;
    log.info('pool status', { poolId: spec.poolId, status, reason });
  };

  try {
    await acts.validatePool(spec);
    view.providerPoolId = await acts.provisionPool(spec);
    await setStatus('ACTIVE');
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    await setStatus('FAILED', cause?.message ?? (err as Error).message);
  }

  await condition(() => deleteRequested);
  view.status = 'DELETING';
  await acts.recordPoolStatus({ poolId: spec.poolId, status: 'DELETING', reason: null, providerPoolId: view.providerPoolId });
  if (view.providerPoolId) await acts.deprovisionPool({ provider: spec.provider, providerPoolId: view.providerPoolId });
  await setStatus('DELETED');
  await condition(allHandlersFinished);
  return { ...view };
}
