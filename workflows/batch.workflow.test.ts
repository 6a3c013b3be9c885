// The batch workflow on the real Temporal dev server (started by `npm test`), with stub
// activities: the concurrency bound, chunking of every line exactly once, continue-as-new,
// cancel (cancelling before the update returns, in-flight chunks stopped and awaited), expiry,
// a refused input file and a chunk that fails for good.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchActivities } from '../activities/batch.activities.js';
import { searchAttributes, workflowIds } from '../lib/temporal-names.js';
import { uniq, waitFor } from '../tests/helpers/env.js';
import { WORKFLOWS_PATH } from '../worker/create-worker.js';
import { cancelUpdate, chunkSizeFor, progressQuery, type BatchOutcome, type BatchStatus, type BatchWorkflowInput } from './batch.messages.js';
import type { batchWorkflow } from './batch.workflow.js';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run the suite with `npm test`');
  env = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace: 'default' });
  const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
});

afterAll(async () => {
  await env?.teardown();
});

interface Recorder {
  slices: [number, number][];
  inFlight: number;
  maxInFlight: number;
  statuses: BatchStatus[];
  finalized: { outcome: BatchOutcome; error?: string; inFlightThen: number; outputFileId: string }[];
  stopped: number;
}

const recorder = (): Recorder => ({ slices: [], inFlight: 0, maxInFlight: 0, statuses: [], finalized: [], stopped: 0 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A chunk that takes `ms` per line, heartbeating, and stops when the workflow cancels it. */
async function runChunk(rec: Recorder, start: number, end: number, msPerLine: number) {
  const ctx = Context.current();
  rec.slices.push([start, end]);
  rec.inFlight += 1;
  rec.maxInFlight = Math.max(rec.maxInFlight, rec.inFlight);
  try {
    for (let line = start; line < end; line++) {
      ctx.heartbeat(line);
      await Promise.race([sleep(msPerLine), ctx.cancelled]);
    }
    return { completed: end - start, failed: 0 };
  } catch (err) {
    if (err instanceof CancelledFailure) rec.stopped += 1;
    throw err;
  } finally {
    rec.inFlight -= 1;
  }
}

function stubActivities(rec: Recorder, total: number, overrides: Partial<BatchActivities> = {}, msPerLine = 20): BatchActivities {
  return {
    async validateBatch() {
      return { status: 'in_progress', total };
    },
    async processBatchChunk({ start, end }) {
      return runChunk(rec, start, end, msPerLine);
    },
    async recordBatchStatus({ status }) {
      rec.statuses.push(status);
    },
    async finalizeBatch({ outcome, error, outputFileId }) {
      rec.finalized.push({ outcome, ...(error ? { error } : {}), inFlightThen: rec.inFlight, outputFileId });
      return { outputFileId, errorFileId: null };
    },
    ...overrides,
  };
}

function input(batchId: string, over: Partial<BatchWorkflowInput> = {}): BatchWorkflowInput {
  return { batchId, orgId: 'org-test', concurrency: 3, chunkSize: 4, expiresAtMs: Date.now() + 24 * 3600 * 1000, ...over };
}

async function withWorker<T>(activities: BatchActivities, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniq('wf-batch');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities,
    // Cancellation reaches an activity with a heartbeat; do not let the SDK hold those back.
    maxHeartbeatThrottleInterval: '100 milliseconds',
  });
  return worker.runUntil(fn(taskQueue));
}

const start = (taskQueue: string, args: BatchWorkflowInput) =>
  env.client.workflow.start<typeof batchWorkflow>('batchWorkflow', {
    taskQueue,
    workflowId: workflowIds.batch(args.batchId),
    args: [args],
    typedSearchAttributes: [{ key: searchAttributes.orgId, value: args.orgId }],
  });

/** Every line in [0, total) handed out exactly once, in slices of at most `size`. */
function expectExactCover(slices: [number, number][], total: number, size: number) {
  const lines = slices.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i)).sort((x, y) => x - y);
  expect(lines).toEqual(Array.from({ length: total }, (_, i) => i));
  for (const [a, b] of slices) expect(b - a).toBeLessThanOrEqual(size);
}

describe('batchWorkflow', () => {
  it('sizes chunks so a small batch still spreads over the concurrency', () => {
    expect(chunkSizeFor(5, 8, 100)).toBe(1);
    expect(chunkSizeFor(23, 3, 4)).toBe(4);
    expect(chunkSizeFor(1000, 8, 100)).toBe(100);
    expect(chunkSizeFor(0, 8, 100)).toBe(1);
  });

  it('hands every line to a chunk exactly once, never more than `concurrency` chunks at a time, then completes', async () => {
    const rec = recorder();
    const id = uniq('batch');
    const out = await withWorker(stubActivities(rec, 23, {}, 40), async (taskQueue) => (await start(taskQueue, input(id, { concurrency: 3, chunkSize: 4 }))).result());
    expect(rec.maxInFlight).toBe(3);
    expect(rec.slices).toHaveLength(6);
    expectExactCover(rec.slices, 23, 4);
    expect(rec.statuses).toEqual(['finalizing']);
    expect(rec.finalized).toEqual([{ outcome: 'completed', inFlightThen: 0, outputFileId: expect.stringMatching(/^file-[0-9a-f]{24}$/) }]);
    expect(out).toMatchObject({ status: 'completed', total: 23, dispatched: 23, chunksDone: 6, chunksInFlight: 0, cancelRequested: false, runs: 1 });
    const description = await env.client.workflow.getHandle(workflowIds.batch(id)).describe();
    expect(description.typedSearchAttributes.get(searchAttributes.status)).toBe('completed');
  });

  it('continues as new between chunks when its history grows, carrying on from the next line', async () => {
    const rec = recorder();
    const id = uniq('batch');
    const out = await withWorker(stubActivities(rec, 20, {}, 1), async (taskQueue) =>
      (await start(taskQueue, input(id, { concurrency: 2, chunkSize: 2, continueAsNewAfterEvents: 40 }))).result(),
    );
    expect(out.runs).toBeGreaterThan(1);
    expectExactCover(rec.slices, 20, 2);
    expect(rec.finalized.map((f) => f.outcome)).toEqual(['completed']);
    expect(out).toMatchObject({ status: 'completed', dispatched: 20, chunksDone: 10 });
  });

  it('cancels: `cancelling` is recorded before the update returns, running chunks stop and are awaited, then `cancelled`', async () => {
    const rec = recorder();
    const id = uniq('batch');
    await withWorker(stubActivities(rec, 200, {}, 50), async (taskQueue) => {
      const handle = await start(taskQueue, input(id, { concurrency: 2, chunkSize: 10 }));
      await waitFor(async () => (await handle.query(progressQuery)).chunksDone >= 1, 20_000, 50);
      const answered = await handle.executeUpdate(cancelUpdate);
      expect(answered).toMatchObject({ status: 'cancelling', cancelRequested: true });
      expect(rec.statuses).toEqual(['cancelling']); // already in Postgres when the update answered
      // A second cancel while cancelling is accepted and changes nothing.
      expect((await handle.executeUpdate(cancelUpdate)).status).toMatch(/^cancell/);
      const out = await handle.result();
      expect(out).toMatchObject({ status: 'cancelled', cancelRequested: true });
      expect(out.dispatched).toBeLessThan(200);
    });
    expect(rec.stopped).toBeGreaterThanOrEqual(1);
    // The files were written only after every chunk had stopped.
    expect(rec.finalized).toEqual([{ outcome: 'cancelled', inFlightThen: 0, outputFileId: expect.any(String) }]);
    expect(rec.statuses).toEqual(['cancelling']);
  });

  it('refuses a cancel once the batch is finalizing', async () => {
    const rec = recorder();
    const id = uniq('batch');
    let release!: () => void;
    const finalizing = new Promise<void>((r) => (release = r));
    await withWorker(
      stubActivities(rec, 2, {
        async recordBatchStatus({ status }) {
          rec.statuses.push(status);
        },
        async finalizeBatch({ outcome, outputFileId }) {
          await finalizing;
          rec.finalized.push({ outcome, inFlightThen: rec.inFlight, outputFileId });
          return { outputFileId, errorFileId: null };
        },
      }),
      async (taskQueue) => {
        const handle = await start(taskQueue, input(id));
        await waitFor(async () => (await handle.query(progressQuery)).status === 'finalizing', 20_000, 50);
        const refused = await handle.executeUpdate(cancelUpdate).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
        expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('NotCancellable');
        release();
        expect((await handle.result()).status).toBe('completed');
      },
    );
  });

  it('expires at the end of the completion window: running chunks are stopped and the rest written as expired', async () => {
    const rec = recorder();
    const id = uniq('batch');
    const out = await withWorker(stubActivities(rec, 100, {}, 200), async (taskQueue) =>
      (await start(taskQueue, input(id, { concurrency: 2, chunkSize: 10, expiresAtMs: Date.now() + 1500 }))).result(),
    );
    expect(out.status).toBe('expired');
    expect(rec.finalized).toEqual([{ outcome: 'expired', inFlightThen: 0, outputFileId: expect.any(String) }]);
    expect(rec.statuses).toEqual([]);
  });

  it('fails without running a chunk when the input file is refused', async () => {
    const rec = recorder();
    const id = uniq('batch');
    const out = await withWorker(
      stubActivities(rec, 0, {
        async validateBatch() {
          return { status: 'failed' };
        },
      }),
      async (taskQueue) => (await start(taskQueue, input(id))).result(),
    );
    expect(out.status).toBe('failed');
    expect(rec.slices).toEqual([]);
    expect(rec.finalized).toEqual([]);
  });

  it('fails the batch, with the reason, when a chunk fails for good', async () => {
    const rec = recorder();
    const id = uniq('batch');
    const out = await withWorker(
      stubActivities(rec, 8, {
        async processBatchChunk({ start: s, end }) {
          if (s === 0) throw ApplicationFailure.nonRetryable('the batch row is gone', 'BatchNotFound');
          return runChunk(rec, s, end, 20);
        },
      }),
      async (taskQueue) => (await start(taskQueue, input(id, { concurrency: 1, chunkSize: 4 }))).result(),
    );
    expect(out.status).toBe('failed');
    expect(rec.finalized).toEqual([{ outcome: 'failed', error: 'the batch row is gone', inFlightThen: 0, outputFileId: expect.any(String) }]);
  });
});
