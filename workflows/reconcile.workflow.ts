// reconcileProviderWorkflow runs on a Temporal Schedule per provider (`reconcile:<provider>`,
// overlap SKIP): it compares the provider's view with the inventory, marks vanished and silent
// nodes, records discovered ones, and tells each affected deployment through its nodeEvent signal.
import { getExternalWorkflowHandle, log, proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile.activities.js';
import { workflowIds } from '../lib/temporal-names.js';
import { nodeEventSignal } from './deployment.messages.js';

const acts = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

export interface ReconcileSummary {
  provider: string;
  discovered: number;
  vanished: number;
  unhealthy: number;
  signalled: number;
}

export async function reconcileProviderWorkflow(input: { provider: string }): Promise<ReconcileSummary> {
  const result = await acts.reconcileProvider(input);
  let signalled = 0;
  for (const change of result.changes) {
    try {
      await getExternalWorkflowHandle(workflowIds.deployment(change.deploymentId)).signal(nodeEventSignal, {
        providerInstanceId: change.providerInstanceId,
        state: change.state,
        exposeUrl: change.exposeUrl,
      });
      signalled += 1;
    } catch (err) {
      log.warn('could not signal deployment', { deploymentId: change.deploymentId, error: (err as Error).message });
    }
  }
  return { provider: input.provider, discovered: result.discovered, vanished: result.vanished, unhealthy: result.unhealthy, signalled };
}
