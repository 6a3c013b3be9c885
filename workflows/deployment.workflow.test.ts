// The deployment workflow on the real Temporal dev server (started by `npm test`), with stub
// activities: every state transition, the update validators, and failure paths.
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentActivities } from '../activities/deployment.activities.js';
import { searchAttributes, workflowIds } from '../lib/temporal-names.js';
import { uniq, waitFor } from '../tests/helpers/env.js';
import { WORKFLOWS_PATH } from '../worker/create-worker.js';
import {
  deleteUpdate,
  nodeEventSignal,
  startUpdate,
  statusQuery,
  terminateUpdate,
  scaleUpdate,
  type DeploymentSpec,
  type DeploymentStatus,
} from './deployment.messages.js';
import type { deploymentWorkflow } from './deployment.workflow.js';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run the suite with `npm test`');
  env = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace: 'default' });
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
});

afterAll(async () => {
  await env?.teardown();
});

interface Recorder {
  statuses: DeploymentStatus[];
  reasons: (string | null)[];
  started: number[];
  stopped: string[];
  removed: number;
  events?: string[];
}

function stubActivities(rec: Recorder, overrides: Partial<DeploymentActivities> = {}): DeploymentActivities {
  return {
    async recordStatus({ status, reason }) {
      rec.statuses.push(status);
      rec.reasons.push(reason);
    },
    async recordEvent({ kind, message }) {
      (rec.events ??= []).push(`${kind}: ${message}`);
    },
    async probeReplicas({ providerInstanceIds }) {
      // No provider-side readiness in these tests unless a test says otherwise: heartbeats decide.
      return Object.fromEntries(providerInstanceIds.map((id) => [id, { state: 'PROVISIONING' as const }]));
    },
    async startReplica({ spec, replicaIndex }) {
      rec.started.push(replicaIndex);
      return { nodeId: `node-${replicaIndex}`, providerInstanceId: `${spec.deploymentId}-r${replicaIndex}` };
    },
    async stopReplica({ providerInstanceId }) {
      rec.stopped.push(providerInstanceId);
    },
    async removeDeployment() {
      rec.removed += 1;
    },
    ...overrides,
  };
}

function spec(deploymentId: string, replicas: number, readyTimeoutSeconds = 60): DeploymentSpec {
  return {
    deploymentId,
    orgId: 'org-test',
    poolId: 'pool-test',
    provider: 'local',
    engine: 'mock',
    inferenceModel: 'mock',
    modelName: 'mock',
    modelVersion: '1.0',
    artifactUri: 'inferia/mock-engine',
    replicas,
    gpuPerReplica: 0,
    configuration: {},
    readyTimeoutSeconds,
  };
}

async function withWorker(activities: DeploymentActivities, fn: (taskQueue: string) => Promise<void>) {
  const taskQueue = uniq('wf-deployment');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
  await worker.runUntil(fn(taskQueue));
}

describe('deploymentWorkflow', () => {
  it('deploys, waits for every replica to report READY, stops, starts again and deletes', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    await withWorker(stubActivities(rec), async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 2)],
        typedSearchAttributes: [
          { key: searchAttributes.deploymentId, value: id },
          { key: searchAttributes.orgId, value: 'org-test' },
        ],
      });
      const deploying = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.status === 'DEPLOYING' && s.replicas.every((r) => r.providerInstanceId) ? s : undefined;
      });
      expect(deploying.replicas.map((r) => r.state)).toEqual(['PROVISIONING', 'PROVISIONING']);

      // One replica ready is not enough.
      await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r0`, state: 'READY', exposeUrl: 'http://127.0.0.1:1' });
      await new Promise((r) => setTimeout(r, 300));
      expect((await handle.query(statusQuery)).status).toBe('DEPLOYING');
      await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r1`, state: 'READY', exposeUrl: 'http://127.0.0.1:2' });
      const running = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.status === 'RUNNING' ? s : undefined;
      });
      expect(running.replicas.map((r) => r.exposeUrl)).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2']);

      // Updates are validated against the current state.
      await expect(handle.executeUpdate(startUpdate)).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      await expect(handle.executeUpdate(deleteUpdate)).rejects.toMatchObject({ cause: { message: expect.stringMatching(/cannot delete a deployment that is RUNNING/) } });

      await handle.executeUpdate(terminateUpdate);
      await waitFor(async () => (await handle.query(statusQuery)).status === 'STOPPED');
      expect(rec.stopped).toEqual([`${id}-r0`, `${id}-r1`]);
      await expect(handle.executeUpdate(terminateUpdate)).rejects.toMatchObject({ cause: { message: expect.stringMatching(/cannot terminate a deployment that is STOPPED/) } });

      // Start again: stale READY states from the first run must not count.
      await handle.executeUpdate(startUpdate);
      await waitFor(async () => (await handle.query(statusQuery)).status === 'DEPLOYING' && rec.started.length === 4);
      await new Promise((r) => setTimeout(r, 300));
      expect((await handle.query(statusQuery)).status).toBe('DEPLOYING');
      for (const i of [0, 1]) await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r${i}`, state: 'READY', exposeUrl: null });
      await waitFor(async () => (await handle.query(statusQuery)).status === 'RUNNING');

      await handle.executeUpdate(terminateUpdate);
      await waitFor(async () => (await handle.query(statusQuery)).status === 'STOPPED');
      await handle.executeUpdate(deleteUpdate);
      const result = await handle.result();
      expect(result.status).toBe('DELETED');
      expect(rec.removed).toBe(1);

      const description = await handle.describe();
      expect(description.typedSearchAttributes.get(searchAttributes.deploymentId)).toBe(id);
      expect(description.typedSearchAttributes.get(searchAttributes.status)).toBe('DELETED');
    });
    expect(rec.statuses).toEqual(['DEPLOYING', 'RUNNING', 'STOPPING', 'STOPPED', 'DEPLOYING', 'RUNNING', 'STOPPING', 'STOPPED']);
  });

  it('fails with the reason when replicas never report READY, and releases what it started', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    await withWorker(stubActivities(rec), async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 1, 1)],
      });
      const failed = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.status === 'FAILED' ? s : undefined;
      });
      expect(failed.reason).toMatch(/did not report READY within 1 s/);
      expect(rec.stopped).toEqual([`${id}-r0`]);
      // A failed deployment can be deleted.
      await handle.executeUpdate(deleteUpdate);
      expect((await handle.result()).status).toBe('DELETED');
    });
  });

  it('does not retry a provider configuration error and records it as the reason', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    let attempts = 0;
    const activities = stubActivities(rec, {
      async startReplica() {
        attempts += 1;
        throw ApplicationFailure.nonRetryable("engine 'vllm' cannot run on the local provider", 'ProviderConfigError');
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 1)],
      });
      const failed = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.status === 'FAILED' ? s : undefined;
      });
      expect(failed.reason).toContain("engine 'vllm' cannot run on the local provider");
      expect(attempts).toBe(1);
      await handle.terminate('test over');
    });
  });

  it('stops a deployment that is terminated while it is still deploying', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    await withWorker(stubActivities(rec), async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 1)],
      });
      await waitFor(async () => (await handle.query(statusQuery)).status === 'DEPLOYING' && rec.started.length === 1);
      await handle.executeUpdate(terminateUpdate);
      await waitFor(async () => (await handle.query(statusQuery)).status === 'STOPPED');
      expect(rec.stopped).toEqual([`${id}-r0`]);
      expect(rec.statuses).not.toContain('RUNNING');
      await handle.terminate('test over');
    });
  });

  it('scales a running deployment up and down, and validates the request', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    await withWorker(stubActivities(rec), async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 1)],
      });
      await waitFor(async () => rec.started.length === 1);
      await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r0`, state: 'READY', exposeUrl: null });
      await waitFor(async () => (await handle.query(statusQuery)).status === 'RUNNING');

      await expect(handle.executeUpdate(scaleUpdate, { args: [{ replicas: 0 }] })).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/replicas must be an integer from 1 to 64/) },
      });
      await handle.executeUpdate(scaleUpdate, { args: [{ replicas: 3 }] });
      await waitFor(async () => rec.started.length === 3);
      expect(rec.started).toEqual([0, 1, 2]);
      for (const i of [1, 2]) await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r${i}`, state: 'READY', exposeUrl: null });
      const up = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.replicas.length === 3 && s.replicas.every((r) => r.state === 'READY') ? s : undefined;
      });
      expect(up.status).toBe('RUNNING');

      await handle.executeUpdate(scaleUpdate, { args: [{ replicas: 1 }] });
      await waitFor(async () => (await handle.query(statusQuery)).replicas.length === 1);
      expect(rec.stopped).toEqual([`${id}-r2`, `${id}-r1`]);
      expect(rec.events).toEqual(['scale: scaling from 1 to 3 replicas', 'scale: scaling from 3 to 1 replicas']);
      await handle.terminate('test over');
    });
  });

  it('replaces a replica whose node goes UNHEALTHY and stays RUNNING', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    await withWorker(stubActivities(rec), async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 2)],
      });
      await waitFor(async () => rec.started.length === 2);
      for (const i of [0, 1]) await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r${i}`, state: 'READY', exposeUrl: null });
      await waitFor(async () => (await handle.query(statusQuery)).status === 'RUNNING');

      await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r1`, state: 'UNHEALTHY', exposeUrl: null });
      await waitFor(async () => rec.started.length === 3);
      expect(rec.stopped).toEqual([`${id}-r1`]);
      expect(rec.started).toEqual([0, 1, 1]);
      await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r1`, state: 'READY', exposeUrl: null });
      const healed = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.replacements === 1 ? s : undefined;
      });
      expect(healed.status).toBe('RUNNING');
      expect(healed.replicas.map((r) => r.state)).toEqual(['READY', 'READY']);
      expect(rec.events?.[0]).toMatch(/replacing replica 1/);
      expect(rec.statuses).toEqual(['DEPLOYING', 'RUNNING']);
      await handle.terminate('test over');
    });
  });

  it('becomes RUNNING from provider probes when no heartbeat ever comes', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    const activities = stubActivities(rec, {
      async probeReplicas({ providerInstanceIds }) {
        return Object.fromEntries(providerInstanceIds.map((pid) => [pid, { state: 'READY' as const, exposeUrl: `http://${pid}:8000` }]));
      },
    });
    await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [spec(id, 1)],
      });
      const running = await waitFor(async () => {
        const s = await handle.query(statusQuery);
        return s.status === 'RUNNING' ? s : undefined;
      }, 20_000);
      expect(running.replicas[0]?.exposeUrl).toBe(`http://${id}-r0:8000`);
      await handle.terminate('test over');
    });
  });

  it('continues as new when its history grows long, keeping replicas and state', async () => {
    const rec: Recorder = { statuses: [], reasons: [], started: [], stopped: [], removed: 0 };
    const id = uniq('dep');
    await withWorker(stubActivities(rec), async (taskQueue) => {
      const first = await env.client.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue,
        workflowId: workflowIds.deployment(id),
        args: [{ ...spec(id, 1), continueAsNewAfterEvents: 40 }],
      });
      await waitFor(async () => rec.started.length === 1);
      await first.signal(nodeEventSignal, { providerInstanceId: `${id}-r0`, state: 'READY', exposeUrl: 'http://127.0.0.1:9' });
      await waitFor(async () => (await first.query(statusQuery)).status === 'RUNNING');
      const handle = env.client.workflow.getHandle(workflowIds.deployment(id)); // follows the latest run
      // Steady-state node events grow history until the workflow starts a fresh run.
      for (let i = 0; i < 30; i++) {
        await handle.signal(nodeEventSignal, { providerInstanceId: `${id}-r0`, state: 'READY', exposeUrl: 'http://127.0.0.1:9' });
      }
      const next = await waitFor(async () => {
        const d = await handle.describe();
        return d.runId !== first.firstExecutionRunId ? d : undefined;
      }, 20_000);
      expect(next.status.name).toBe('RUNNING');
      const carried = await handle.query(statusQuery);
      expect(carried.status).toBe('RUNNING');
      expect(carried.replicas[0]).toMatchObject({ providerInstanceId: `${id}-r0`, state: 'READY', exposeUrl: 'http://127.0.0.1:9' });
      await handle.executeUpdate(terminateUpdate);
      await waitFor(async () => (await handle.query(statusQuery)).status === 'STOPPED');
      expect(rec.stopped).toEqual([`${id}-r0`]);
      expect(rec.started).toEqual([0]); // nothing was started twice across runs
      await handle.terminate('test over');
    });
  });
});
