// Side effects of the batch workflow: validate the input file into `batch_items`, send a slice of
// lines through the inference gateway (the same policy chain as a live request), and write the
// output and error files. Idempotent: a line's result is written once (the row leaves `pending`
// once, and only that write counts it), file ids come from the workflow, so a retried activity
// neither repeats an output line nor counts a request twice.
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { ON_BEHALF_OF_HEADER } from '../lib/api-key-context.js';
import { errorLine, isBatchEndpoint, parseBatchInput, responseLine, toJsonl, type BatchLineError, type BatchResultLine } from '../lib/batch-jsonl.js';
import type { Db } from '../lib/db.js';
import type { BatchOutcome, BatchStatus } from '../workflows/batch.messages.js';

export interface BatchActivityDeps {
  db: Db;
  /** The inference gateway, e.g. http://127.0.0.1:8001. */
  inferenceUrl: string;
  /** Authenticates the worker to the gateway, which then acts for the batch's API key. */
  serviceToken: string;
  maxRequests: number;
  /** Per request; above the gateway's own upstream timeout so its answer (a 504) arrives first. */
  requestTimeoutMs: number;
  /** Attempts per line on a 429, a 5xx or no answer, with exponential backoff from `retryBaseMs`. */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  heartbeatIntervalMs?: number;
  /** How often a chunk looks at the batch's status, to stop early once it is cancelling. */
  statusCheckMs?: number;
}

/** What a line's request came back with, or that the gateway could not be reached. */
export type RequestOutcome =
  | { kind: 'response'; status: number; requestId: string; body: string; attempts: number }
  | { kind: 'unreachable'; message: string; attempts: number };

export interface SendOptions {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  signal?: AbortSignal;
}

const RETRYABLE = (status: number) => status === 429 || status >= 500;

/**
 * POSTs one request, retrying a 429 or 5xx (after `retry-after` when given) and a failed
 * connection, with exponential backoff. The last answer is returned whatever its status.
 * Throws only when `signal` aborts.
 */
export async function sendWithRetry(opts: SendOptions): Promise<RequestOutcome> {
  let last: RequestOutcome | undefined;
  for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs);
      const res = await fetch(opts.url, { method: 'POST', headers: { 'content-type': 'application/json', ...opts.headers }, body: JSON.stringify(opts.body), signal });
      const body = await res.text();
      last = { kind: 'response', status: res.status, requestId: res.headers.get('x-request-id') ?? '', body, attempts: attempt };
      if (!RETRYABLE(res.status)) return last;
      const seconds = Number(res.headers.get('retry-after'));
      if (Number.isFinite(seconds) && seconds > 0) retryAfterMs = seconds * 1000;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      last = { kind: 'unreachable', message: (err as Error).message, attempts: attempt };
    }
    if (attempt < opts.maxAttempts) {
      const backoff = opts.retryBaseMs * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4);
      await sleep(Math.min(opts.retryMaxMs, Math.max(backoff, retryAfterMs ?? 0)), opts.signal);
    }
  }
  return last!;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const newLineId = () => `batch_req_${randomBytes(12).toString('hex')}`;

const TIMESTAMP_OF: Partial<Record<BatchStatus, string>> = {
  in_progress: 'inProgressAt',
  finalizing: 'finalizingAt',
  cancelling: 'cancellingAt',
  completed: 'completedAt',
  failed: 'failedAt',
  expired: 'expiredAt',
  cancelled: 'cancelledAt',
};

/** Item rows are inserted this many at a time. */
const INSERT_PAGE = 1000;
/** Finished items are read this many at a time when the files are written. */
const READ_PAGE = 2000;

export function createBatchActivities(deps: BatchActivityDeps) {
  const { db } = deps;
  const maxAttempts = deps.maxAttempts ?? 4;
  const retryBaseMs = deps.retryBaseMs ?? 1000;
  const retryMaxMs = deps.retryMaxMs ?? 30_000;
  const heartbeatIntervalMs = deps.heartbeatIntervalMs ?? 5000;
  const statusCheckMs = deps.statusCheckMs ?? 1000;

  const loadBatch = async (batchId: string) => {
    const batch = await db.batch.findUnique({ where: { id: batchId } });
    if (!batch) throw ApplicationFailure.nonRetryable(`batch ${batchId} does not exist`, 'BatchNotFound');
    return batch;
  };

  /** Records a line's result once: only the write that takes it out of `pending` counts it. */
  const recordResult = async (batchId: string, line: number, ok: boolean, result: BatchResultLine) => {
    const status = ok ? 'completed' : 'failed';
    await db.$executeRaw`
      WITH done AS (
        UPDATE batch_items SET status = ${status}, result = ${JSON.stringify(result)}::jsonb, finished_at = now()
        WHERE batch_id = ${batchId} AND line = ${line} AND status = 'pending'
        RETURNING status
      )
      UPDATE batches SET
        request_completed = request_completed + (SELECT count(*) FROM done WHERE status = 'completed'),
        request_failed = request_failed + (SELECT count(*) FROM done WHERE status = 'failed')
      WHERE id = ${batchId} AND EXISTS (SELECT 1 FROM done)`;
  };

  /** Reads the results of one status in line order, page by page. */
  const resultsOf = async (batchId: string, status: 'completed' | 'failed', ctx: Context): Promise<BatchResultLine[]> => {
    const out: BatchResultLine[] = [];
    for (let after = -1; ; ) {
      const rows = await db.batchItem.findMany({
        where: { batchId, status, line: { gt: after } },
        orderBy: { line: 'asc' },
        take: READ_PAGE,
        select: { line: true, result: true },
      });
      for (const r of rows) out.push(r.result as unknown as BatchResultLine);
      if (rows.length < READ_PAGE) return out;
      after = rows[rows.length - 1]!.line;
      ctx.heartbeat({ status, after });
    }
  };

  return {
    /**
     * Parses the input file and stores each request as a pending item; then `in_progress` with the
     * total, or `failed` with the line errors in the batch's `errors` (as OpenAI reports them).
     */
    async validateBatch(input: { batchId: string }): Promise<{ status: 'in_progress'; total: number } | { status: 'failed' }> {
      const ctx = Context.current();
      const batch = await loadBatch(input.batchId);
      if (batch.status !== 'validating') {
        // A retry after the first attempt finished: report what it recorded.
        return batch.status === 'failed' ? { status: 'failed' } : { status: 'in_progress', total: batch.requestTotal };
      }
      const fail = async (errors: BatchLineError[]) => {
        await db.batch.update({ where: { id: batch.id }, data: { status: 'failed', failedAt: new Date(), errors: { object: 'list', data: errors } as object } });
        log.info('batch input refused', { batchId: batch.id, errors: errors.length });
        return { status: 'failed' as const };
      };
      const file = await db.file.findFirst({ where: { id: batch.inputFileId, orgId: batch.orgId } });
      if (!file) return fail([{ code: 'file_not_found', message: `The input file ${batch.inputFileId} no longer exists.`, param: 'input_file_id', line: null }]);
      if (!isBatchEndpoint(batch.endpoint)) {
        return fail([{ code: 'invalid_value', message: `Unsupported endpoint ${batch.endpoint}.`, param: 'endpoint', line: null }]);
      }
      const parsed = parseBatchInput(file.content, batch.endpoint, { maxRequests: deps.maxRequests });
      if (parsed.errors.length > 0) return fail(parsed.errors);
      for (let i = 0; i < parsed.requests.length; i += INSERT_PAGE) {
        await db.batchItem.createMany({
          data: parsed.requests.slice(i, i + INSERT_PAGE).map((r) => ({ batchId: batch.id, line: r.index, customId: r.customId, body: r.body as object })),
          skipDuplicates: true,
        });
        ctx.heartbeat({ inserted: i });
      }
      const total = parsed.requests.length;
      await db.batch.updateMany({
        where: { id: batch.id, status: 'validating' },
        data: { status: 'in_progress', inProgressAt: new Date(), requestTotal: total },
      });
      return { status: 'in_progress', total };
    },

    /**
     * Sends the pending lines in [start, end) one after another as the batch's API key, and records
     * each result as it arrives. Lines a previous attempt finished are skipped. Stops when the
     * workflow cancels it (the heartbeat delivers that).
     */
    async processBatchChunk(input: { batchId: string; start: number; end: number }): Promise<{ completed: number; failed: number }> {
      const ctx = Context.current();
      const batch = await loadBatch(input.batchId);
      const items = await db.batchItem.findMany({
        where: { batchId: batch.id, status: 'pending', line: { gte: input.start, lt: input.end } },
        orderBy: { line: 'asc' },
        select: { line: true, customId: true, body: true },
      });
      const done = { completed: 0, failed: 0 };
      // A slow request must not look like a dead worker.
      const beat = setInterval(() => ctx.heartbeat({ ...input, ...done }), heartbeatIntervalMs);
      // The workflow records `cancelling` before it cancels this activity; noticing that here stops
      // within a second, where the cancellation itself waits for a (throttled) heartbeat.
      let checkedAt = Date.now();
      const stillInProgress = async () => {
        if (Date.now() - checkedAt < statusCheckMs) return true;
        checkedAt = Date.now();
        const now = await db.batch.findUnique({ where: { id: batch.id }, select: { status: true } });
        return now?.status === 'in_progress';
      };
      try {
        for (const item of items) {
          if (ctx.cancellationSignal.aborted || !(await stillInProgress())) break;
          const headers: Record<string, string> = { authorization: `Bearer ${deps.serviceToken}` };
          if (batch.apiKeyId) headers[ON_BEHALF_OF_HEADER] = batch.apiKeyId;
          let outcome: RequestOutcome;
          try {
            outcome = await sendWithRetry({
              url: `${deps.inferenceUrl}${batch.endpoint}`,
              headers,
              body: item.body,
              timeoutMs: deps.requestTimeoutMs,
              maxAttempts,
              retryBaseMs,
              retryMaxMs,
              signal: ctx.cancellationSignal,
            });
          } catch (err) {
            if (ctx.cancellationSignal.aborted) break;
            throw err;
          }
          if (outcome.kind === 'unreachable') {
            // The gateway itself is down: not this line's fault. The activity retries later and
            // picks up from here; what finished is kept.
            throw ApplicationFailure.retryable(`inference gateway unreachable: ${outcome.message}`, 'InferenceUnreachable');
          }
          const ok = outcome.status >= 200 && outcome.status < 300;
          await recordResult(batch.id, item.line, ok, responseLine(newLineId(), item.customId, outcome.status, outcome.requestId, outcome.body));
          done[ok ? 'completed' : 'failed'] += 1;
          ctx.heartbeat({ ...input, ...done, line: item.line });
        }
      } finally {
        clearInterval(beat);
      }
      if (ctx.cancellationSignal.aborted) await ctx.cancelled; // rejects: tells the workflow it stopped
      return done;
    },

    /** Sets a status and its `*_at` time (the first time only, so a retry keeps the original). */
    async recordBatchStatus(input: { batchId: string; status: BatchStatus }): Promise<void> {
      const batch = await loadBatch(input.batchId);
      const stamp = TIMESTAMP_OF[input.status];
      const already = stamp ? (batch as unknown as Record<string, Date | null>)[stamp] : null;
      await db.batch.update({ where: { id: batch.id }, data: { status: input.status, ...(stamp && !already ? { [stamp]: new Date() } : {}) } });
    },

    /**
     * Writes the output file (2xx lines) and the error file (the others; with `expired`, also the
     * lines never sent), each only when it has lines, then the final status. File ids come from
     * the workflow, so a retry rewrites the same files.
     */
    async finalizeBatch(input: {
      batchId: string;
      outcome: BatchOutcome;
      outputFileId: string;
      errorFileId: string;
      error?: string;
    }): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
      const ctx = Context.current();
      const batch = await loadBatch(input.batchId);
      if (input.outcome === 'expired') {
        const pending = await db.batchItem.findMany({ where: { batchId: batch.id, status: 'pending' }, select: { line: true, customId: true } });
        for (const item of pending) {
          await recordResult(batch.id, item.line, false, errorLine(newLineId(), item.customId, 'batch_expired', 'This request could not be executed before the completion window expired.'));
        }
      }
      const outputs = await resultsOf(batch.id, 'completed', ctx);
      const errors = await resultsOf(batch.id, 'failed', ctx);
      const files: { id: string; purpose: string; filename: string; lines: BatchResultLine[] }[] = [
        { id: input.outputFileId, purpose: 'batch_output', filename: `${batch.id}_output.jsonl`, lines: outputs },
        { id: input.errorFileId, purpose: 'batch_error', filename: `${batch.id}_error.jsonl`, lines: errors },
      ].filter((f) => f.lines.length > 0);
      const stamp = TIMESTAMP_OF[input.outcome]!;
      await db.$transaction([
        ...files.map((f) => {
          const content = Buffer.from(toJsonl(f.lines));
          return db.file.upsert({
            where: { id: f.id },
            create: { id: f.id, orgId: batch.orgId, purpose: f.purpose, filename: f.filename, bytes: content.length, content },
            update: { bytes: content.length, content },
          });
        }),
        db.batch.update({
          where: { id: batch.id },
          data: {
            status: input.outcome,
            [stamp]: new Date(),
            outputFileId: outputs.length > 0 ? input.outputFileId : null,
            errorFileId: errors.length > 0 ? input.errorFileId : null,
            ...(input.error ? { errors: { object: 'list', data: [{ code: 'batch_failed', message: input.error, param: null, line: null }] } } : {}),
          },
        }),
      ]);
      log.info('batch finished', { batchId: batch.id, outcome: input.outcome, outputs: outputs.length, errors: errors.length });
      return { outputFileId: outputs.length > 0 ? input.outputFileId : null, errorFileId: errors.length > 0 ? input.errorFileId : null };
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
