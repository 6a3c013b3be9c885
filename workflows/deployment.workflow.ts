// deploymentWorkflow (id `deployment:<id>`) owns the whole life of one deployment:
// PENDING → DEPLOYING → RUNNING; terminate → STOPPING → STOPPED; start from STOPPED or FAILED;
// delete from STOPPED or FAILED; scale at any time it is not stopping. While RUNNING it watches
// its replicas and replaces one whose node goes UNHEALTHY or TERMINATED. Deterministic: every
// side effect is an activity; long histories continue as new.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment.activities.js';
import { searchAttributes } from '../lib/temporal-names.js';
import {
  MAX_REPLICAS,
  TRANSITIONS,
  deleteUpdate,
  nodeEventSignal,
  scaleUpdate,
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
  startToCloseTimeout: '5 minutes',
  // A worker that dies mid-activity is noticed this fast; the retry finds what it had started.
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['ProviderConfigError'],
  },
});

/** How often replicas that have not reported READY are probed through their provider. */
const PROBE_INTERVAL_MS = 5000;
/** Consecutive failed replacements after which the deployment is FAILED rather than flapping. */
const MAX_REPLACEMENT_FAILURES = 3;

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
    targetReplicas: spec.replicas,
    replicas: emptyReplicas(spec.replicas),
    replacements: 0,
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
  setHandler(startUpdate, () => ((view.desired = 'RUNNING'), snapshot(view, nodes)), { validator: () => accept('start') });
  setHandler(terminateUpdate, () => ((view.desired = 'STOPPED'), snapshot(view, nodes)), { validator: () => accept('terminate') });
  setHandler(deleteUpdate, () => ((view.desired = 'DELETED'), snapshot(view, nodes)), { validator: () => accept('delete') });
  setHandler(
    scaleUpdate,
    ({ replicas }) => {
      view.targetReplicas = replicas;
      if (view.status === 'STOPPED' || view.status === 'FAILED') view.replicas = emptyReplicas(replicas);
      return snapshot(view, nodes);
    },
    {
      validator: (request) => {
        accept('scale');
        const n = request?.replicas;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) {
          throw ApplicationFailure.create({
            type: 'InvalidArgument',
            message: `replicas must be an integer from 1 to ${MAX_REPLICAS}`,
            nonRetryable: true,
          });
        }
      },
    },
  );
  setHandler(nodeEventSignal, (event) => {
    nodes[event.providerInstanceId] = event;
  });

  const nodeState = (r: ReplicaView) => (r.providerInstanceId ? nodes[r.providerInstanceId]?.state : undefined);
  const isReady = (r: ReplicaView) => nodeState(r) === 'READY';
  const isBroken = (r: ReplicaView) => r.providerInstanceId !== null && (nodeState(r) === 'UNHEALTHY' || nodeState(r) === 'TERMINATED');

  async function setStatus(status: DeploymentStatus, reason: string | null = null) {
    view.status = status;
    view.reason = reason;
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    await quick.recordStatus({ deploymentId: spec.deploymentId, status, reason, replicas: view.targetReplicas });
    log.info('deployment status', { deploymentId: spec.deploymentId, status, reason });
  }

  async function stopReplica(replica: ReplicaView) {
    if (replica.providerInstanceId) {
      await provisioning.stopReplica({ deploymentId: spec.deploymentId, provider: spec.provider, providerInstanceId: replica.providerInstanceId });
      delete nodes[replica.providerInstanceId];
    }
    replica.providerInstanceId = null;
    replica.nodeId = null;
  }

  async function startReplica(replica: ReplicaView) {
    const started = await provisioning.startReplica({ spec, replicaIndex: replica.index });
    replica.providerInstanceId = started.providerInstanceId;
    replica.nodeId = started.nodeId;
  }

  /**
   * Waits until every given replica is READY: heartbeats arrive as signals; replicas without a
   * node agent are probed through their provider. Returns false on timeout.
   */
  async function awaitReady(replicas: ReplicaView[]): Promise<boolean> {
    const deadline = Date.now() + spec.readyTimeoutSeconds * 1000;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const done = await condition(() => replicas.every(isReady) || view.desired !== 'RUNNING', Math.min(left, PROBE_INTERVAL_MS));
      if (done) return true;
      const pending = replicas.filter((r) => r.providerInstanceId && !isReady(r)).map((r) => r.providerInstanceId!);
      if (pending.length === 0) continue;
      const probed = await quick.probeReplicas({ deploymentId: spec.deploymentId, provider: spec.provider, providerInstanceIds: pending });
      for (const [id, probe] of Object.entries(probed)) {
        // A heartbeat is the fresher source; a probe fills in for nodes that have none.
        if (probe.state === 'READY' || !nodes[id]) nodes[id] = { providerInstanceId: id, state: probe.state, exposeUrl: probe.exposeUrl ?? null };
      }
    }
  }

  async function stopAll() {
    for (const replica of view.replicas) await stopReplica(replica);
    view.replicas = emptyReplicas(view.targetReplicas);
  }

  async function deploy() {
    await setStatus('DEPLOYING');
    view.replacements = 0;
    try {
      if (view.replicas.length !== view.targetReplicas) view.replicas = emptyReplicas(view.targetReplicas);
      for (const replica of view.replicas) await startReplica(replica);
      const ready = await awaitReady(view.replicas);
      if (view.desired !== 'RUNNING') return; // terminated while deploying: the main loop stops it
      if (!ready) throw readinessTimeout(spec.readyTimeoutSeconds);
      await setStatus('RUNNING');
    } catch (err) {
      await fail(err);
    }
  }

  async function fail(err: unknown) {
    const reason = failureMessage(err);
    log.warn('deployment failed', { deploymentId: spec.deploymentId, reason });
    await stopAll();
    view.desired = 'STOPPED';
    await setStatus('FAILED', reason);
  }

  /** Scale a running deployment up or down to the target. */
  async function rescale() {
    const from = view.replicas.length;
    const to = view.targetReplicas;
    await quick.recordEvent({ deploymentId: spec.deploymentId, kind: 'scale', message: `scaling from ${from} to ${to} replicas` });
    if (to < from) {
      for (const replica of view.replicas.slice(to).reverse()) await stopReplica(replica);
      view.replicas = view.replicas.slice(0, to);
    } else {
      const added = emptyReplicas(to).slice(from);
      view.replicas.push(...added);
      try {
        for (const replica of added) await startReplica(replica);
        if (!(await awaitReady(added))) throw readinessTimeout(spec.readyTimeoutSeconds);
      } catch (err) {
        return fail(err);
      }
    }
    await quick.recordStatus({ deploymentId: spec.deploymentId, status: view.status, reason: null, replicas: to });
  }

  /** Replace replicas whose node went UNHEALTHY or TERMINATED, with backoff; FAILED after repeated failures. */
  async function replaceBroken() {
    let failures = 0;
    for (const replica of view.replicas.filter(isBroken)) {
      const was = replica.providerInstanceId;
      await quick.recordEvent({
        deploymentId: spec.deploymentId,
        kind: 'replace',
        message: `replacing replica ${replica.index} (${was}: ${nodeState(replica)})`,
      });
      for (;;) {
        try {
          await stopReplica(replica);
          await startReplica(replica);
          if (!(await awaitReady([replica]))) throw readinessTimeout(spec.readyTimeoutSeconds);
          view.replacements += 1;
          break;
        } catch (err) {
          failures += 1;
          if (view.desired !== 'RUNNING') return;
          if (failures >= MAX_REPLACEMENT_FAILURES) return fail(new Error(`replica ${replica.index} could not be replaced: ${failureMessage(err)}`));
          await sleep(`${5 * 2 ** failures} seconds`);
        }
      }
    }
  }

  const needsAction = () =>
    (view.desired === 'RUNNING' && (view.status === 'PENDING' || view.status === 'STOPPED' || view.status === 'FAILED')) ||
    (view.desired === 'STOPPED' && (view.status === 'DEPLOYING' || view.status === 'RUNNING' || view.status === 'PENDING')) ||
    (view.desired === 'DELETED' && (view.status === 'STOPPED' || view.status === 'FAILED')) ||
    (view.status === 'RUNNING' && view.desired === 'RUNNING' && (view.replicas.length !== view.targetReplicas || view.replicas.some(isBroken)));

  for (;;) {
    if (view.desired === 'RUNNING' && (view.status === 'PENDING' || view.status === 'STOPPED' || view.status === 'FAILED')) {
      await deploy();
      continue;
    }
    if (view.desired === 'STOPPED' && (view.status === 'PENDING' || view.status === 'DEPLOYING' || view.status === 'RUNNING')) {
      await setStatus('STOPPING');
      await stopAll();
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
    if (view.status === 'RUNNING' && view.desired === 'RUNNING') {
      if (view.replicas.length !== view.targetReplicas) {
        await rescale();
        continue;
      }
      if (view.replicas.some(isBroken)) {
        await replaceBroken();
        continue;
      }
    }
    const historyTooLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= (spec.continueAsNewAfterEvents ?? 10_000);
    await condition(() => needsAction() || historyTooLong());
    if (!needsAction() && historyTooLong()) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof deploymentWorkflow>({ ...spec, replicas: view.targetReplicas }, { view, nodes: liveNodes(view, nodes) });
    }
  }
}

function readinessTimeout(seconds: number) {
  return ApplicationFailure.create({ type: 'ReadinessTimeout', message: `replicas did not report READY within ${seconds} s`, nonRetryable: true });
}

function emptyReplicas(count: number): ReplicaView[] {
  return Array.from({ length: count }, (_, index) => ({ index, providerInstanceId: null, nodeId: null, state: 'PENDING', exposeUrl: null }));
}

/** Only the nodes of current replicas travel into the next run. */
function liveNodes(view: DeploymentView, nodes: Record<string, NodeEvent>): Record<string, NodeEvent> {
  const out: Record<string, NodeEvent> = {};
  for (const r of view.replicas) if (r.providerInstanceId && nodes[r.providerInstanceId]) out[r.providerInstanceId] = nodes[r.providerInstanceId]!;
  return out;
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
