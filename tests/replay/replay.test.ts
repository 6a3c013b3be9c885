// Determinism guard: histories recorded from real runs of every workflow type are replayed
// against the current workflow code. A change that would break running workflows (a reordered
// activity, a removed timer) fails here, in CI, before it reaches a worker.
//
// The histories in ./histories (binary protobuf) were recorded by this file with INFERIA_RECORD_HISTORIES=1
// (`INFERIA_RECORD_HISTORIES=1 npm test -- tests/replay`): it runs each workflow through a
// scenario on the test Temporal server with stub activities and writes the histories.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import type { BatchActivities } from '../../activities/batch.activities.js';
import type { DeploymentActivities } from '../../activities/deployment.activities.js';
import type { PoolActivities } from '../../activities/pool.activities.js';
import type { ReconcileActivities } from '../../activities/reconcile.activities.js';
import { workflowIds } from '../../lib/temporal-names.js';
import { WORKFLOWS_PATH } from '../../worker/create-worker.js';
import { deleteUpdate, nodeEventSignal, scaleUpdate, statusQuery, terminateUpdate, startUpdate, type DeploymentSpec } from '../../workflows/deployment.messages.js';
import { awaitProvisionedUpdate, deletePoolUpdate } from '../../workflows/pool.messages.js';
import { cancelUpdate, progressQuery, type BatchWorkflowInput } from '../../workflows/batch.messages.js';
import { uniq, waitFor } from '../helpers/env.js';

const HISTORIES = fileURLToPath(new URL('./histories', import.meta.url));
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

describe('workflow determinism', () => {
  it('replays every recorded history against the current workflow code', async () => {
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.binpb')).sort();
    expect(files.map((f) => f.split('--')[0])).toEqual(expect.arrayContaining(['deploymentWorkflow', 'poolWorkflow', 'reconcileProviderWorkflow', 'batchWorkflow']));
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
    const histories = files.map((f) => ({ workflowId: f, history: temporal.api.history.v1.History.decode(readFileSync(join(HISTORIES, f))) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });

  it.runIf(process.env.INFERIA_RECORD_HISTORIES === '1')('records fresh histories of every workflow type', async () => {
    const env = await TestWorkflowEnvironment.createFromExistingServer({ address: process.env.TEMPORAL_ADDRESS!, namespace: 'default' });
    const taskQueue = uniq('record');
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
    const deploymentActs: DeploymentActivities = {
      async recordStatus() {},
      async recordEvent() {},
      async probeReplicas({ providerInstanceIds }) {
        return Object.fromEntries(providerInstanceIds.map((id) => [id, { state: 'PROVISIONING' as const }]));
      },
      async startReplica({ spec, replicaIndex }) {
        return { nodeId: `node-${replicaIndex}`, providerInstanceId: `${spec.deploymentId}-r${replicaIndex}` };
      },
      async stopReplica() {},
      async removeDeployment() {},
    };
    const poolActs: PoolActivities = {
      async validatePool() {},
      async provisionPool(spec) {
        return `recorded:${spec.poolId}`;
      },
      async deprovisionPool() {},
      async countPoolDeployments() {
        return 0;
      },
      async recordPoolStatus() {},
    };
    const reconcileActs: ReconcileActivities = {
      async reconcileProvider() {
        return { changes: [{ deploymentId: 'gone', providerInstanceId: 'gone-r0', state: 'TERMINATED' as const, exposeUrl: null }], discovered: 1, vanished: 1, unhealthy: 0 };
      },
    };
    const batchActs: BatchActivities = {
      async validateBatch() {
        return { status: 'in_progress', total: 12 };
      },
      async processBatchChunk({ start, end }) {
        // Slow enough for a cancel to land while chunks run; stops when cancelled.
        for (let line = start; line < end; line++) {
          Context.current().heartbeat(line);
          await Promise.race([new Promise((r) => setTimeout(r, 150)), Context.current().cancelled]);
        }
        return { completed: end - start, failed: 0 };
      },
      async recordBatchStatus() {},
      async finalizeBatch({ outputFileId }) {
        return { outputFileId, errorFileId: null };
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: { ...deploymentActs, ...poolActs, ...reconcileActs, ...batchActs },
      maxHeartbeatThrottleInterval: '100 milliseconds',
    });
    mkdirSync(HISTORIES, { recursive: true });
    const save = async (type: string, scenario: string, workflowId: string) => {
      const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
      // Binary protobuf, exactly as the server sent it (what `temporal workflow show` reads too).
      writeFileSync(join(HISTORIES, `${type}--${scenario}.binpb`), temporal.api.history.v1.History.encode(history).finish());
    };

    await worker.runUntil(async () => {
      const id = uniq('rec');
      const spec: DeploymentSpec = {
        deploymentId: id, orgId: 'org', poolId: 'pool', provider: 'local', engine: 'mock', inferenceModel: 'mock',
        modelName: 'mock', modelVersion: '1.0', artifactUri: 'x', replicas: 1, gpuPerReplica: 0, configuration: {}, readyTimeoutSeconds: 60,
      };
      const d = await env.client.workflow.start('deploymentWorkflow', { taskQueue, workflowId: workflowIds.deployment(id), args: [spec] });
      const ready = async (indexes: number[]) => {
        for (const i of indexes) await d.signal(nodeEventSignal, { providerInstanceId: `${id}-r${i}`, state: 'READY', exposeUrl: null });
      };
      await waitFor(async () => (await d.query(statusQuery)).replicas.every((r) => r.providerInstanceId));
      await ready([0]);
      await waitFor(async () => (await d.query(statusQuery)).status === 'RUNNING');
      await d.executeUpdate(scaleUpdate, { args: [{ replicas: 2 }] });
      await waitFor(async () => (await d.query(statusQuery)).replicas.length === 2 && (await d.query(statusQuery)).replicas[1]!.providerInstanceId !== null);
      await ready([1]);
      await waitFor(async () => (await d.query(statusQuery)).replicas.every((r) => r.state === 'READY'));
      await d.signal(nodeEventSignal, { providerInstanceId: `${id}-r1`, state: 'TERMINATED', exposeUrl: null });
      await waitFor(async () => (await d.query(statusQuery)).replicas[1]!.state === 'PROVISIONING');
      await ready([1]);
      await waitFor(async () => (await d.query(statusQuery)).replacements === 1);
      await d.executeUpdate(terminateUpdate);
      await waitFor(async () => (await d.query(statusQuery)).status === 'STOPPED');
      await d.executeUpdate(startUpdate);
      await waitFor(async () => (await d.query(statusQuery)).replicas.every((r) => r.providerInstanceId));
      await ready([0, 1]);
      await waitFor(async () => (await d.query(statusQuery)).status === 'RUNNING');
      await d.executeUpdate(terminateUpdate);
      await waitFor(async () => (await d.query(statusQuery)).status === 'STOPPED');
      await d.executeUpdate(deleteUpdate);
      await d.result();
      await save('deploymentWorkflow', 'lifecycle-scale-replace-delete', workflowIds.deployment(id));

      const poolId = uniq('pool');
      await env.client.workflow.start('poolWorkflow', {
        taskQueue,
        workflowId: workflowIds.pool(poolId),
        args: [{ poolId, orgId: 'org', provider: 'local', providerPoolId: null, config: {} }],
      });
      const p = env.client.workflow.getHandle(workflowIds.pool(poolId));
      await p.executeUpdate(awaitProvisionedUpdate);
      await p.executeUpdate(deletePoolUpdate);
      await p.result();
      await save('poolWorkflow', 'create-delete', workflowIds.pool(poolId));

      const reconcileId = uniq('reconcile:local');
      await env.client.workflow.execute('reconcileProviderWorkflow', { taskQueue, workflowId: reconcileId, args: [{ provider: 'local' }] });
      await save('reconcileProviderWorkflow', 'vanished-node', reconcileId);

      const batchInput = (batchId: string): BatchWorkflowInput => ({ batchId, orgId: 'org', concurrency: 2, chunkSize: 2, expiresAtMs: Date.now() + 86_400_000 });
      const completeId = uniq('rec-batch');
      await env.client.workflow.execute('batchWorkflow', { taskQueue, workflowId: workflowIds.batch(completeId), args: [batchInput(completeId)] });
      await save('batchWorkflow', 'chunks-complete', workflowIds.batch(completeId));
      const cancelId = uniq('rec-batch');
      const b = await env.client.workflow.start('batchWorkflow', { taskQueue, workflowId: workflowIds.batch(cancelId), args: [batchInput(cancelId)] });
      await waitFor(async () => (await b.query(progressQuery)).chunksDone >= 1);
      await b.executeUpdate(cancelUpdate);
      await b.result();
      await save('batchWorkflow', 'cancel', workflowIds.batch(cancelId));
    });
    await env.teardown();
  });
});
