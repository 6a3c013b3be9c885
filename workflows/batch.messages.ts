// The batch workflow's contract: its input, progress and messages. The inference gateway imports
// this file (never the workflow itself) to start, cancel and query batches.
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const BATCH_WORKFLOW_TYPE = 'batchWorkflow';

/** OpenAI's batch statuses. */
export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** How a batch ends: the status finalizeBatch writes. */
export type BatchOutcome = 'completed' | 'failed' | 'expired' | 'cancelled';

/** Statuses a cancel is accepted in (`cancelling` again is a no-op). */
export const CANCELLABLE_STATUSES: readonly BatchStatus[] = ['validating', 'in_progress', 'cancelling'];
export const TERMINAL_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

export interface BatchWorkflowInput {
  batchId: string;
  orgId: string;
  /** Requests in flight at once (each chunk activity sends its lines one after another). */
  concurrency: number;
  /** The most lines one activity handles. */
  chunkSize: number;
  /** Unix milliseconds: created_at + completion_window. Unfinished lines then expire. */
  expiresAtMs: number;
  /** Continue as new once history is this long (or when the server suggests it). Default 10,000. */
  continueAsNewAfterEvents?: number;
}

/** What one run hands the next when it continues as new. */
export interface BatchCarried {
  status: BatchStatus;
  total: number;
  chunkSize: number;
  /** Lines below this have been handed to an activity (and, at continue-as-new, finished). */
  nextLine: number;
  chunksDone: number;
  runs: number;
}

export interface BatchProgress {
  batchId: string;
  status: BatchStatus;
  total: number;
  /** Lines handed to chunk activities so far. */
  dispatched: number;
  chunksInFlight: number;
  chunksDone: number;
  cancelRequested: boolean;
  /** Runs of this workflow so far (continue-as-new starts another). */
  runs: number;
}

/** Cancels the batch; completes once `cancelling` is recorded (or the batch has already ended). */
export const cancelUpdate = defineUpdate<BatchProgress>('cancel');
export const progressQuery = defineQuery<BatchProgress>('progress');

/**
 * Lines per chunk: at most `maxChunk`, and small enough that a small batch still spreads over
 * `concurrency` activities.
 */
export function chunkSizeFor(total: number, concurrency: number, maxChunk: number): number {
  return Math.max(1, Math.min(maxChunk, Math.ceil(total / Math.max(1, concurrency))));
}
