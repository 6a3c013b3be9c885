// deploymentWorkflow (id `deployment:<id>`) owns the whole life of one deployment:
// PENDING → DEPLOYING → RUNNING; terminate → STOPPING → STOPPED; start from STOPPED or FAILED;
// delete from STOPPED or FAILED. Deterministic: every side effect is an activity.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment.activities.js';
import { searchAttributes } from '../lib/temporal-names.js';
import {
  TRANSITIONS,
  deleteUpdate,
  nodeEventSignal,
  startUpdate,
  statusQuery,
  terminateUpdate,
  type DeploymentSpec,
  type DeploymentStatus,
  type DeploymentView,
  type NodeEvent,
  type ReplicaView,
} from './deployment.messages.js';

const quick = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const provisioning = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['ProviderConfigError'],
  },
});

export interface CarriedState {
  view: DeploymentView;
  nodes: Record<string, NodeEvent>;
}

export async function deploymentWorkflow(spec: DeploymentSpec, carried?: CarriedState): Promise<DeploymentView> {
  const view: DeploymentView = carried?.view ?? {
    deploymentId: spec.deploymentId,
    status: 'PENDING',
    reason: null,
    desired: 'RUNNING',
    replicas: emptyReplicas(spec.replicas),
  };
  // Latest state heard from each node, by provider instance id. A heartbeat may arrive before
  // the activity that started the node has returned, so this is kept apart from the replicas.
  const nodes: Record<string, NodeEvent> = carried?.nodes ?? {};

  const accept = (action: keyof typeof TRANSITIONS) => {
    const allowed: readonly DeploymentStatus[] = TRANSITIONS[action];
    if (!allowed.includes(view.status)) {
      throw ApplicationFailure.create({
        type: 'InvalidTransition',
        message: `cannot ${action} a deployment that is ${view.status} (allowed from ${allowed.join(', ')})`,
        nonRetryable: true,
      });
    }
  };

  setHandler(statusQuery, () => snapshot(view, nodes));
  setHandler(
    startUpdate,
    () => {
      view.desired = 'RUNNING';
      return snapshot(view, nodes);
    },
    { validator: () => accept('start') },
  );
  setHandler(
    terminateUpdate,
    () => {
      view.desired = 'STOPPED';
      return snapshot(view, nodes);
    },
    { validator: () => accept('terminate') },
  );
  setHandler(
    deleteUpdate,
    () => {
      view.desired = 'DELETED';
      return snapshot(view, nodes);
    },
    { validator: () => accept('delete') },
  );
  setHandler(nodeEventSignal, (event) => {
    nodes[event.providerInstanceId] = event;
  });

  async function setStatus(status: DeploymentStatus, reason: string | null = null) {
    view.status = status;
    view.reason = reason;
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    await quick.recordStatus({ deploymentId: spec.deploymentId, status, reason });
    log.info('deployment status', { deploymentId: spec.deploymentId, status, reason });
  }

  async function stopReplicas() {
    for (const replica of view.replicas) {
      if (replica.providerInstanceId) {
        await provisioning.stopReplica({ deploymentId: spec.deploymentId, provider: spec.provider, providerInstanceId: replica.providerInstanceId });
        delete nodes[replica.providerInstanceId];
      }
    }
    view.replicas = emptyReplicas(spec.replicas);
  }

  async function deploy() {
    await setStatus('DEPLOYING');
    try {
      for (const replica of view.replicas) {
        const started = await provisioning.startReplica({ spec, replicaIndex: replica.index });
        replica.providerInstanceId = started.providerInstanceId;
        replica.nodeId = started.nodeId;
      }
      const allReady = () => view.replicas.every((r) => r.providerInstanceId !== null && nodes[r.providerInstanceId]?.state === 'READY');
      const ready = await condition(() => allReady() || view.desired !== 'RUNNING', `${spec.readyTimeoutSeconds} seconds`);
      if (view.desired !== 'RUNNING') return; // terminated while deploying: the main loop stops it
      if (!ready) {
        throw ApplicationFailure.create({
          type: 'ReadinessTimeout',
          message: `replicas did not report READY within ${spec.readyTimeoutSeconds} s`,
          nonRetryable: true,
        });
      }
      await setStatus('RUNNING');
    } catch (err) {
      const reason = failureMessage(err);
      log.warn('deployment failed', { deploymentId: spec.deploymentId, reason });
      await stopReplicas();
      view.desired = 'STOPPED';
      await setStatus('FAILED', reason);
    }
  }

  const needsAction = () =>
    (view.desired === 'RUNNING' && (view.status === 'PENDING' || view.status === 'STOPPED' || view.status === 'FAILED')) ||
    (view.desired === 'STOPPED' && (view.status === 'DEPLOYING' || view.status === 'RUNNING' || view.status === 'PENDING')) ||
    (view.desired === 'DELETED' && (view.status === 'STOPPED' || view.status === 'FAILED'));

  for (;;) {
    if (view.desired === 'RUNNING' && (view.status === 'PENDING' || view.status === 'STOPPED' || view.status === 'FAILED')) {
      await deploy();
      continue;
    }
    if (view.desired === 'STOPPED' && (view.status === 'PENDING' || view.status === 'DEPLOYING' || view.status === 'RUNNING')) {
      await setStatus('STOPPING');
      await stopReplicas();
      await setStatus('STOPPED');
      continue;
    }
    if (view.desired === 'DELETED' && (view.status === 'STOPPED' || view.status === 'FAILED')) {
      await quick.removeDeployment({ deploymentId: spec.deploymentId });
      view.status = 'DELETED';
      upsertSearchAttributes([{ key: searchAttributes.status, value: 'DELETED' }]);
      await condition(allHandlersFinished);
      return snapshot(view, nodes);
    }
    await condition(() => needsAction() || workflowInfo().continueAsNewSuggested);
    if (!needsAction() && workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof deploymentWorkflow>(spec, { view, nodes });
    }
  }
}

function emptyReplicas(count: number): ReplicaView[] {
  return Array.from({ length: count }, (_, index) => ({ index, providerInstanceId: null, nodeId: null, state: 'PENDING', exposeUrl: null }));
}

function snapshot(view: DeploymentView, nodes: Record<string, NodeEvent>): DeploymentView {
  return {
    ...view,
    replicas: view.replicas.map((r) => {
      const node = r.providerInstanceId ? nodes[r.providerInstanceId] : undefined;
      return { ...r, state: node?.state ?? (r.providerInstanceId ? 'PROVISIONING' : 'PENDING'), exposeUrl: node?.exposeUrl ?? r.exposeUrl };
    }),
  };
}

function failureMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}
