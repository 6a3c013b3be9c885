// OpenAI's Files and Batches API on the inference gateway: /v1/files (multipart upload, list,
// retrieve, delete, content) and /v1/batches (create, retrieve, list, cancel). Registered inside
// inferenceApp after the API-key hook, so every route has the caller's key context; everything is
// scoped to the key's org (another org's file or batch is 404). Each batch is a Temporal
// `batchWorkflow`; this plugin starts and cancels it, and reads the `batches` row it keeps.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import fastifyMultipart from '@fastify/multipart';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BATCH_ENDPOINTS } from '../../lib/batch-jsonl.js';
import type { Db, Prisma } from '../../lib/db.js';
import { AppError } from '../../lib/errors.js';
import { searchAttributes, workflowIds } from '../../lib/temporal-names.js';
import {
  BATCH_WORKFLOW_TYPE,
  CANCELLABLE_STATUSES,
  cancelUpdate,
  type BatchStatus,
  type BatchWorkflowInput,
} from '../../workflows/batch.messages.js';
import type { KeyContext } from './context-cache.js';

export interface FilesBatchesOptions {
  db: Db;
  /**
   * Starts and cancels batch workflows. Called on the first batch request: the Temporal client's
   * modules (about 35 MiB) are loaded then, not by a gateway that never sees a batch, and its
   * connection is lazy, so the hot path never waits on Temporal.
   */
  temporal: () => Promise<Client>;
  taskQueue: string;
  /** Largest upload; above it `POST /v1/files` answers 413. */
  maxFileBytes: number;
  /** Requests in flight per batch, and lines per activity (see the batch workflow). */
  concurrency: number;
  chunkSize: number;
  /** How long a cancel waits for the workflow to record `cancelling`. */
  cancelTimeoutMs?: number;
}

const COMPLETION_WINDOW_MS = { '24h': 24 * 3600 * 1000 } as const;

/** Purposes a client may upload (the Batch API's); `batch_output` files are ours. */
const UPLOAD_PURPOSES = ['batch'] as const;
/** Stored purposes: the error file is `batch_error` here but `batch_output` on the wire, as OpenAI shows it. */
const LISTABLE_PURPOSES: Record<string, string[]> = { batch: ['batch'], batch_output: ['batch_output', 'batch_error'] };

const Metadata = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: 'at most 16 keys' })
  .nullish();

const CreateBatchBody = z.object({
  input_file_id: z.string().min(1).max(100),
  endpoint: z.enum(BATCH_ENDPOINTS),
  completion_window: z.enum(['24h']),
  metadata: Metadata,
  output_expires_after: z.object({ anchor: z.literal('created_at'), seconds: z.number().int().min(3600).max(2_592_000) }).optional(),
});

const FileParams = z.object({ file_id: z.string().min(1).max(100) });
const BatchParams = z.object({ batch_id: z.string().min(1).max(100) });

const ListFilesQuery = z.object({
  purpose: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().min(1).max(100).optional(),
});
const ListBatchesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().min(1).max(100).optional(),
});

type FileRow = Prisma.FileModel;
type BatchRow = Prisma.BatchModel;

const unix = (d: Date) => Math.floor(d.getTime() / 1000);

/** OpenAI's File object. */
export function fileObject(f: Pick<FileRow, 'id' | 'bytes' | 'createdAt' | 'filename' | 'purpose'>) {
  return {
    id: f.id,
    object: 'file' as const,
    bytes: f.bytes,
    created_at: unix(f.createdAt),
    filename: f.filename,
    purpose: f.purpose === 'batch_error' ? 'batch_output' : f.purpose,
    status: 'processed' as const,
  };
}

/** OpenAI's Batch object; timestamps and file ids appear once they exist (the published schema has no nulls). */
export function batchObject(b: BatchRow) {
  const times: Record<string, Date | null> = {
    in_progress_at: b.inProgressAt,
    expires_at: b.expiresAt,
    finalizing_at: b.finalizingAt,
    completed_at: b.completedAt,
    failed_at: b.failedAt,
    expired_at: b.expiredAt,
    cancelling_at: b.cancellingAt,
    cancelled_at: b.cancelledAt,
  };
  const metadata = b.metadata && typeof b.metadata === 'object' && Object.keys(b.metadata).length > 0 ? b.metadata : null;
  return {
    id: b.id,
    object: 'batch' as const,
    endpoint: b.endpoint,
    ...(b.errors ? { errors: b.errors } : {}),
    input_file_id: b.inputFileId,
    completion_window: b.completionWindow,
    status: b.status as BatchStatus,
    ...(b.outputFileId ? { output_file_id: b.outputFileId } : {}),
    ...(b.errorFileId ? { error_file_id: b.errorFileId } : {}),
    created_at: unix(b.createdAt),
    ...Object.fromEntries(Object.entries(times).flatMap(([k, v]) => (v ? [[k, unix(v)]] : []))),
    request_counts: { total: b.requestTotal, completed: b.requestCompleted, failed: b.requestFailed },
    metadata,
  };
}

const fileNotFound = (id: string, field = 'file_id') => new AppError('not_found', `No such File object: ${id}`, { openai_code: 'file_not_found', field });
const batchNotFound = (id: string) => new AppError('not_found', `No such Batch object: ${id}`, { openai_code: 'batch_not_found', field: 'batch_id' });
const badRequest = (message: string, field: string, code = 'invalid_value') => new AppError('bad_request', message, { field, openai_code: code });

/**
 * `POST /v1/files` as OpenAI documents it (multipart/form-data with `file` and `purpose`), for
 * /openapi.json only: the handler reads the parts itself, so its body is not validated up front.
 */
const UploadBody = z.object({ file: z.file(), purpose: z.enum(UPLOAD_PURPOSES) });
const documentedOnly = { validatorCompiler: () => (data: unknown) => ({ value: data }) };

const newId = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;

export async function filesBatchesRoutes(fastify: FastifyInstance, opts: FilesBatchesOptions) {
  const { db, temporal } = opts;
  await fastify.register(fastifyMultipart, { limits: { fileSize: opts.maxFileBytes, files: 1, fields: 8, fieldSize: 4096, parts: 10 } });
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  const contextOf = (req: FastifyRequest): KeyContext => {
    if (!req.keyContext) throw new AppError('unauthorized', 'Incorrect API key provided.');
    return req.keyContext;
  };
  const findFile = async (orgId: string, id: string) => {
    const file = await db.file.findFirst({ where: { id, orgId }, omit: { content: true } });
    if (!file) throw fileNotFound(id);
    return file;
  };
  const findBatch = async (orgId: string, id: string) => {
    const batch = await db.batch.findFirst({ where: { id, orgId } });
    if (!batch) throw batchNotFound(id);
    return batch;
  };

  /** `created_at` then id, newest first (or oldest first): the rows after the cursor row. */
  const afterCursor = (cursor: { createdAt: Date; id: string } | null, order: 'asc' | 'desc') => {
    if (!cursor) return {};
    const cmp = order === 'desc' ? 'lt' : 'gt';
    return { OR: [{ createdAt: { [cmp]: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { [cmp]: cursor.id } }] };
  };

  app.post('/v1/files', { schema: { consumes: ['multipart/form-data'], body: UploadBody }, ...documentedOnly }, async (req) => {
    const ctx = contextOf(req);
    if (!req.isMultipart()) throw badRequest('file: upload the file as multipart/form-data with the fields `file` and `purpose`.', 'file');
    // Too large: answered at once (as Fastify answers a JSON body past its limit; Node drops the rest).
    const refuse = () => tooLarge(opts.maxFileBytes);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxFileBytes + 64 * 1024) throw refuse();
    let purpose: string | undefined;
    let upload: { filename: string; content: Buffer<ArrayBuffer> } | undefined;
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file') throw badRequest(`${part.fieldname}: unexpected file field; send the file as \`file\`.`, part.fieldname);
          const content = await readUpload(part.file);
          if (!content) throw refuse();
          upload = { filename: part.filename || 'upload.jsonl', content };
        } else if (part.fieldname === 'purpose') {
          purpose = String(part.value);
        }
      }
    } catch (err) {
      const { RequestFileTooLargeError, FilesLimitError, FieldsLimitError, PartsLimitError } = fastify.multipartErrors;
      if (err instanceof RequestFileTooLargeError) throw refuse();
      if (err instanceof FilesLimitError) throw badRequest('file: send exactly one file.', 'file');
      if (err instanceof FieldsLimitError || err instanceof PartsLimitError) throw badRequest('file: too many form fields; send `file` and `purpose`.', 'file');
      if (err instanceof AppError) throw err;
      const status = (err as { statusCode?: unknown }).statusCode;
      if (typeof status === 'number' && status >= 400 && status < 500) throw err;
      // Busboy's own errors (no boundary, a body cut short) are the client's: 400, not 500.
      throw badRequest(`file: the multipart body could not be read (${(err as Error).message}).`, 'file');
    }
    if (purpose === undefined) throw badRequest('purpose: required.', 'purpose', 'missing_required_parameter');
    if (!(UPLOAD_PURPOSES as readonly string[]).includes(purpose)) {
      throw badRequest(`purpose: '${purpose.slice(0, 64)}' is not supported here; use one of ${UPLOAD_PURPOSES.join(', ')}.`, 'purpose');
    }
    if (!upload) throw badRequest('file: required.', 'file', 'missing_required_parameter');
    if (upload.content.length === 0) throw badRequest('file: the file is empty.', 'file');
    const filename = [...upload.filename].filter((c) => c >= ' ' && c !== '\u007f').join('').slice(0, 255) || 'upload.jsonl';
    const file = await db.file.create({
      data: { id: newId('file-'), orgId: ctx.org_id, purpose, filename, bytes: upload.content.length, content: upload.content },
      omit: { content: true },
    });
    return fileObject(file);
  });

  app.get('/v1/files', { schema: { querystring: ListFilesQuery } }, async (req) => {
    const ctx = contextOf(req);
    const q = req.query;
    const cursor = q.after ? await db.file.findFirst({ where: { id: q.after, orgId: ctx.org_id }, select: { id: true, createdAt: true } }) : null;
    if (q.after && !cursor) throw badRequest(`after: no file ${q.after}.`, 'after');
    const purposes = q.purpose === undefined ? undefined : (LISTABLE_PURPOSES[q.purpose] ?? [q.purpose]);
    const rows = await db.file.findMany({
      where: { orgId: ctx.org_id, ...(purposes ? { purpose: { in: purposes } } : {}), ...afterCursor(cursor, q.order) },
      orderBy: [{ createdAt: q.order }, { id: q.order }],
      take: q.limit + 1,
      omit: { content: true },
    });
    const data = rows.slice(0, q.limit).map(fileObject);
    return { object: 'list' as const, data, ...(data.length > 0 ? { first_id: data[0]!.id, last_id: data[data.length - 1]!.id } : {}), has_more: rows.length > q.limit };
  });

  app.get('/v1/files/:file_id', { schema: { params: FileParams } }, async (req) => {
    const { file_id } = req.params;
    return fileObject(await findFile(contextOf(req).org_id, file_id));
  });

  app.delete('/v1/files/:file_id', { schema: { params: FileParams } }, async (req) => {
    const { file_id } = req.params;
    const file = await findFile(contextOf(req).org_id, file_id);
    await db.file.deleteMany({ where: { id: file.id, orgId: file.orgId } });
    return { id: file.id, object: 'file' as const, deleted: true };
  });

  app.get('/v1/files/:file_id/content', { schema: { params: FileParams } }, async (req, reply) => {
    const { file_id } = req.params;
    const file = await db.file.findFirst({ where: { id: file_id, orgId: contextOf(req).org_id } });
    if (!file) throw fileNotFound(file_id);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${file.filename.replace(/["\\]/g, '_')}"`)
      .send(Buffer.from(file.content));
  });

  app.post('/v1/batches', { schema: { body: CreateBatchBody } }, async (req) => {
    const ctx = contextOf(req);
    const body = req.body;
    const input = await db.file.findFirst({ where: { id: body.input_file_id, orgId: ctx.org_id }, select: { id: true, purpose: true } });
    if (!input) throw fileNotFound(body.input_file_id, 'input_file_id');
    if (input.purpose !== 'batch') throw badRequest(`input_file_id: the file's purpose is ${input.purpose}; a batch reads a file uploaded with purpose \`batch\`.`, 'input_file_id');
    const id = newId('batch_');
    const createdAt = new Date();
    const expiresAt = new Date(createdAt.getTime() + COMPLETION_WINDOW_MS[body.completion_window]);
    const workflowId = workflowIds.batch(id);
    const batch = await db.batch.create({
      data: {
        id,
        orgId: ctx.org_id,
        apiKeyId: ctx.api_key_id,
        endpoint: body.endpoint,
        inputFileId: input.id,
        completionWindow: body.completion_window,
        status: 'validating',
        metadata: body.metadata ?? {},
        workflowId,
        createdAt,
        expiresAt,
      },
    });
    const workflowInput: BatchWorkflowInput = {
      batchId: id,
      orgId: ctx.org_id,
      concurrency: opts.concurrency,
      chunkSize: opts.chunkSize,
      expiresAtMs: expiresAt.getTime(),
    };
    try {
      await (await temporal()).workflow.start(BATCH_WORKFLOW_TYPE, {
        taskQueue: opts.taskQueue,
        workflowId,
        args: [workflowInput],
        typedSearchAttributes: [
          { key: searchAttributes.orgId, value: ctx.org_id },
          { key: searchAttributes.status, value: 'validating' },
        ],
        memo: { endpoint: body.endpoint, input_file_id: input.id },
      });
    } catch (err) {
      req.log.error({ err, batchId: id }, 'could not start the batch workflow');
      await db.batch.delete({ where: { id } }).catch(() => undefined);
      throw new AppError('unavailable', 'The batch service is unavailable; try again shortly.', { openai_code: 'batch_service_unavailable' });
    }
    return batchObject(batch);
  });

  app.get('/v1/batches', { schema: { querystring: ListBatchesQuery } }, async (req) => {
    const ctx = contextOf(req);
    const q = req.query;
    const cursor = q.after ? await db.batch.findFirst({ where: { id: q.after, orgId: ctx.org_id }, select: { id: true, createdAt: true } }) : null;
    if (q.after && !cursor) throw badRequest(`after: no batch ${q.after}.`, 'after');
    const rows = await db.batch.findMany({
      where: { orgId: ctx.org_id, ...afterCursor(cursor, 'desc') },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit + 1,
    });
    const data = rows.slice(0, q.limit).map(batchObject);
    return { object: 'list' as const, data, ...(data.length > 0 ? { first_id: data[0]!.id, last_id: data[data.length - 1]!.id } : {}), has_more: rows.length > q.limit };
  });

  app.get('/v1/batches/:batch_id', { schema: { params: BatchParams } }, async (req) => {
    const { batch_id } = req.params;
    return batchObject(await findBatch(contextOf(req).org_id, batch_id));
  });

  app.post('/v1/batches/:batch_id/cancel', { schema: { params: BatchParams } }, async (req) => {
    const { batch_id } = req.params;
    const ctx = contextOf(req);
    const batch = await findBatch(ctx.org_id, batch_id);
    const status = batch.status as BatchStatus;
    if (status === 'cancelling' || status === 'cancelled') return batchObject(batch);
    const notCancellable = (s: string) =>
      new AppError('conflict', `Cannot cancel a batch that is ${s}.`, { openai_code: 'batch_not_cancellable', field: 'batch_id' });
    if (!CANCELLABLE_STATUSES.includes(status)) throw notCancellable(status);
    const handle = (await temporal()).workflow.getHandle(batch.workflowId);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), opts.cancelTimeoutMs ?? 15_000)));
    try {
      const outcome = await Promise.race([handle.executeUpdate(cancelUpdate), timeout]);
      if (outcome === 'timeout') {
        throw new AppError('unavailable', 'The batch could not be cancelled right now; try again shortly.', { openai_code: 'batch_service_unavailable' });
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      // The workflow refused (it is finalizing) or has already ended: answer with what it recorded.
      const now = await findBatch(ctx.org_id, batch_id);
      const { WorkflowUpdateFailedError } = await import('@temporalio/client');
      if (err instanceof WorkflowUpdateFailedError || !CANCELLABLE_STATUSES.includes(now.status as BatchStatus)) {
        if (now.status === 'cancelling' || now.status === 'cancelled') return batchObject(now);
        throw notCancellable(now.status);
      }
      req.log.error({ err, batchId: batch_id }, 'could not cancel the batch workflow');
      throw new AppError('unavailable', 'The batch could not be cancelled right now; try again shortly.', { openai_code: 'batch_service_unavailable' });
    } finally {
      clearTimeout(timer);
    }
    return batchObject(await findBatch(ctx.org_id, batch_id));
  });
}

/**
 * A file part's content, or undefined as soon as it passes the size limit: busboy then skips the
 * rest of the part, which `toBuffer` would wait for (a client could stream for ever).
 */
function readUpload(file: Readable & { truncated?: boolean }): Promise<Buffer<ArrayBuffer> | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    file.on('data', (chunk: Buffer) => chunks.push(chunk));
    file.once('limit', () => {
      chunks.length = 0;
      resolve(undefined);
    });
    file.once('end', () => resolve(file.truncated ? undefined : (Buffer.concat(chunks) as Buffer<ArrayBuffer>))); // Buffer.concat: never shared memory
    file.once('error', reject);
  });
}

function tooLarge(limit: number) {
  return new AppError('payload_too_large', `file: larger than the limit of ${limit} bytes.`, { field: 'file', openai_code: 'file_too_large' });
}
