// batchWorkflow (id `batch:<id>`) runs one OpenAI batch: validating → in_progress → finalizing →
// completed; a bad input file → failed; cancel → cancelling → cancelled; past the completion
// window → expired. Lines are handed to chunk activities (a slice of line indexes each), at most
// `concurrency` at once; results go to Postgres, never through this history. Deterministic:
// every side effect is an activity; a long batch continues as new between chunks.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities/batch.activities.js';
import { searchAttributes } from '../lib/temporal-names.js';
import {
  CANCELLABLE_STATUSES,
  cancelUpdate,
  chunkSizeFor,
  progressQuery,
  type BatchCarried,
  type BatchOutcome,
  type BatchProgress,
  type BatchStatus,
  type BatchWorkflowInput,
} from './batch.messages.js';

const quick = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: ['BatchNotFound'] },
});

/** Reading a large input file or writing large output files takes a while; both heartbeat. */
const files = proxyActivities<BatchActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['BatchNotFound'] },
});

const chunks = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 hours',
  // A dead worker is noticed this fast; the retry skips the lines already finished.
  heartbeatTimeout: '30 seconds',
  // Cancelling waits until the activity has stopped, so nothing finishes after the files are written.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  // No attempt limit: an unreachable gateway is retried until the completion window closes.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['BatchNotFound'] },
});

export async function batchWorkflow(input: BatchWorkflowInput, carried?: BatchCarried): Promise<BatchProgress> {
  const state: BatchCarried = carried ?? { status: 'validating', total: 0, chunkSize: 1, nextLine: 0, chunksDone: 0, runs: 1 };
  let inFlight = 0;
  let cancelRequested = false;
  let expired = false;
  let failure: string | null = null;

  const progress = (): BatchProgress => ({
    batchId: input.batchId,
    status: state.status,
    total: state.total,
    dispatched: state.nextLine,
    chunksInFlight: inFlight,
    chunksDone: state.chunksDone,
    cancelRequested,
    runs: state.runs,
  });
  const active = () => state.status === 'validating' || state.status === 'in_progress';

  setHandler(progressQuery, progress);
  setHandler(
    cancelUpdate,
    async () => {
      cancelRequested = true;
      await condition(() => !active());
      return progress();
    },
    {
      validator: () => {
        if (!CANCELLABLE_STATUSES.includes(state.status)) {
          throw ApplicationFailure.create({ type: 'NotCancellable', message: `a batch that is ${state.status} cannot be cancelled`, nonRetryable: true });
        }
      },
    },
  );

  /** Records the status first, so whoever sees it in the workflow finds it in Postgres too. */
  async function setStatus(status: BatchStatus) {
    await quick.recordBatchStatus({ batchId: input.batchId, status });
    state.status = status;
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    log.info('batch status', { batchId: input.batchId, status });
  }

  async function finish(outcome: BatchOutcome, error?: string): Promise<BatchProgress> {
    const id = () => `file-${uuid4().replace(/-/g, '').slice(0, 24)}`;
    await files.finalizeBatch({ batchId: input.batchId, outcome, outputFileId: id(), errorFileId: id(), ...(error ? { error } : {}) });
    state.status = outcome;
    upsertSearchAttributes([{ key: searchAttributes.status, value: outcome }]);
    log.info('batch status', { batchId: input.batchId, status: outcome });
    await condition(allHandlersFinished);
    return progress();
  }

  if (state.status === 'validating') {
    const validated = await files.validateBatch({ batchId: input.batchId });
    if (validated.status === 'failed') {
      state.status = 'failed';
      upsertSearchAttributes([{ key: searchAttributes.status, value: 'failed' }]);
      await condition(allHandlersFinished);
      return progress();
    }
    state.total = validated.total;
    state.chunkSize = chunkSizeFor(validated.total, input.concurrency, input.chunkSize);
    state.status = 'in_progress';
    upsertSearchAttributes([{ key: searchAttributes.status, value: 'in_progress' }]);
  }

  // One timer for the completion window, not one per wait.
  const left = input.expiresAtMs - Date.now();
  if (left <= 0) expired = true;
  else void sleep(left).then(() => (expired = true));

  const scope = new CancellationScope();
  const historyTooLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= (input.continueAsNewAfterEvents ?? 10_000);
  const more = () => state.nextLine < state.total;
  const mayLaunch = () => more() && inFlight < input.concurrency && !historyTooLong();
  const stopping = () => cancelRequested || expired || failure !== null;

  function launch() {
    const start = state.nextLine;
    const end = Math.min(start + state.chunkSize, state.total);
    state.nextLine = end;
    inFlight += 1;
    void scope
      .run(() => chunks.processBatchChunk({ batchId: input.batchId, start, end }))
      .then(
        () => void (state.chunksDone += 1),
        (err: unknown) => {
          if (!isCancellation(err)) failure = failureMessage(err);
        },
      )
      .finally(() => (inFlight -= 1));
  }

  for (;;) {
    if (stopping()) break;
    if (!more() && inFlight === 0) break;
    if (mayLaunch()) {
      launch();
      continue;
    }
    if (more() && inFlight === 0 && historyTooLong()) {
      // Between chunks, nothing in flight: a fresh history carries on from the next line.
      await condition(allHandlersFinished);
      return continueAsNew<typeof batchWorkflow>(input, { ...state, runs: state.runs + 1 });
    }
    await condition(() => stopping() || inFlight === 0 || mayLaunch());
  }

  if (!stopping()) {
    await setStatus('finalizing');
    return finish('completed');
  }
  if (cancelRequested) await setStatus('cancelling');
  scope.cancel();
  await condition(() => inFlight === 0);
  if (cancelRequested) return finish('cancelled');
  if (expired) return finish('expired');
  log.warn('batch failed', { batchId: input.batchId, reason: failure });
  return finish('failed', failure ?? 'batch failed');
}

function failureMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}
