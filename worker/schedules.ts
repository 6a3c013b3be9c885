// One Temporal Schedule per provider runs reconcileProviderWorkflow (id `reconcile:<provider>`,
// overlap SKIP so a slow run is never stacked). Created or updated when a worker starts.
import { ScheduleAlreadyRunning, type Client } from '@temporalio/client';
import { ORCHESTRATION_TASK_QUEUE, workflowIds } from '../lib/temporal-names.js';
import type { reconcileProviderWorkflow } from '../workflows/reconcile.workflow.js';

/** `reconcile:<provider>`; a worker on another task queue (tests, a second install) gets its own. */
export function reconcileScheduleId(provider: string, taskQueue: string): string {
  const base = workflowIds.reconcile(provider);
  return taskQueue === ORCHESTRATION_TASK_QUEUE ? base : `${base}@${taskQueue}`;
}

export async function ensureReconcileSchedules(
  client: Client,
  options: { providers: string[]; taskQueue: string; intervalSeconds: number },
): Promise<string[]> {
  const ids: string[] = [];
  for (const provider of options.providers) {
    const scheduleId = reconcileScheduleId(provider, options.taskQueue);
    const spec = { intervals: [{ every: `${options.intervalSeconds}s` as const }] };
    const action = {
      type: 'startWorkflow' as const,
      workflowType: 'reconcileProviderWorkflow',
      workflowId: scheduleId,
      taskQueue: options.taskQueue,
      args: [{ provider }] as Parameters<typeof reconcileProviderWorkflow>,
      workflowExecutionTimeout: '10 minutes' as const,
    };
    try {
      await client.schedule.create({ scheduleId, spec, action, policies: { overlap: 'SKIP', catchupWindow: '1 minute' } });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, overlap: 'SKIP' } }));
    }
    ids.push(scheduleId);
  }
  return ids;
}
