// The batch activities on the real Postgres, against a stand-in inference gateway: input lines
// stored once, each line sent as the batch's key (service token + key id, never the key), results
// recorded once however often a chunk is retried, counts never doubled, files rewritten in place.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchActivities, type BatchActivities } from '../../activities/batch.activities.js';
import type { BatchResultLine } from '../../lib/batch-jsonl.js';
import type { Db } from '../../lib/db.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let services: ReturnType<typeof connect>;
let db: Db;
let orgId: string;
let server: Server;
let acts: BatchActivities;
const SERVICE_TOKEN = 'service-token-for-this-test-only-0000';
const keyId = randomUUID();
/** Calls per custom_id the stand-in gateway received. */
const calls = new Map<string, number>();

beforeAll(async () => {
  services = connect(testConfig(), 'batch-activities');
  db = services.db;
  const slug = uniq('batch-acts');
  orgId = (await db.organization.create({ data: { name: slug, slug } })).id;
  // Answers like the inference gateway: 401 without the service token and key id, 404 for an
  // unknown model, one 503 for `flaky` before it succeeds.
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; messages: { content: string }[] };
      const id = body.messages[0]!.content;
      calls.set(id, (calls.get(id) ?? 0) + 1);
      const send = (status: number, payload: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${id}` }).end(JSON.stringify(payload));
      if (req.headers.authorization !== `Bearer ${SERVICE_TOKEN}` || req.headers['x-inferia-on-behalf-of'] !== keyId) return send(401, { error: { code: 'invalid_api_key' } });
      if (body.model !== 'mock') return send(404, { error: { message: 'no such model', code: 'model_not_found' } });
      if (id === 'flaky' && calls.get(id) === 1) return send(503, { error: { message: 'busy' } });
      send(200, { object: 'chat.completion', model: 'mock', choices: [{ index: 0, message: { role: 'assistant', content: `echo ${id}` }, finish_reason: 'stop' }] });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  acts = createBatchActivities({
    db,
    inferenceUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serviceToken: SERVICE_TOKEN,
    maxRequests: 100,
    requestTimeoutMs: 5000,
    retryBaseMs: 10,
    statusCheckMs: 0,
  });
});

afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  if (orgId) await db.organization.delete({ where: { id: orgId } }).catch(() => undefined);
  await services?.close();
});

const line = (customId: string, model = 'mock') =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: customId }] } });

async function batchWith(lines: string[], status = 'validating') {
  const fileId = `file-${uniq('in')}`;
  await db.file.create({ data: { id: fileId, orgId, purpose: 'batch', filename: 'in.jsonl', bytes: 1, content: Buffer.from(lines.join('\n')) } });
  const id = `batch_${uniq('acts')}`;
  await db.batch.create({ data: { id, orgId, apiKeyId: keyId, endpoint: '/v1/chat/completions', inputFileId: fileId, status, workflowId: `batch:${id}` } });
  return id;
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) => new MockActivityEnvironment({}, { logger: quiet }).run(fn, ...args);

const linesOf = async (fileId: string | null) => {
  const file = await db.file.findUniqueOrThrow({ where: { id: fileId! } });
  return Buffer.from(file.content).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as BatchResultLine);
};

describe('batch activities', () => {
  it('validates into items, records each line once however often a chunk is retried, and writes both files idempotently', async () => {
    const id = await batchWith([line('a'), line('bad-model', 'nope'), line('flaky'), line('d')]);
    expect(await run(acts.validateBatch, { batchId: id })).toEqual({ status: 'in_progress', total: 4 });
    expect(await run(acts.validateBatch, { batchId: id })).toEqual({ status: 'in_progress', total: 4 }); // a retry
    expect(await db.batchItem.count({ where: { batchId: id } })).toBe(4);

    expect(await run(acts.processBatchChunk, { batchId: id, start: 0, end: 2 })).toEqual({ completed: 1, failed: 1 });
    // A retried, wider attempt sends only what is still pending.
    expect(await run(acts.processBatchChunk, { batchId: id, start: 0, end: 4 })).toEqual({ completed: 2, failed: 0 });
    expect(await run(acts.processBatchChunk, { batchId: id, start: 0, end: 4 })).toEqual({ completed: 0, failed: 0 });
    expect(Object.fromEntries(calls)).toMatchObject({ a: 1, 'bad-model': 1, flaky: 2, d: 1 });
    const counted = await db.batch.findUniqueOrThrow({ where: { id } });
    expect([counted.status, counted.requestTotal, counted.requestCompleted, counted.requestFailed]).toEqual(['in_progress', 4, 3, 1]);

    await run(acts.recordBatchStatus, { batchId: id, status: 'finalizing' });
    const ids = { outputFileId: `file-${uniq('out')}`, errorFileId: `file-${uniq('err')}` };
    const first = await run(acts.finalizeBatch, { batchId: id, outcome: 'completed', ...ids });
    const again = await run(acts.finalizeBatch, { batchId: id, outcome: 'completed', ...ids });
    expect(again).toEqual(first);
    expect(first).toEqual(ids);

    const out = await linesOf(ids.outputFileId);
    expect(out.map((l) => l.custom_id)).toEqual(['a', 'flaky', 'd']);
    expect(out[0]).toMatchObject({ id: expect.stringMatching(/^batch_req_/), response: { status_code: 200, request_id: 'req_a', body: { object: 'chat.completion' } }, error: null });
    const errors = await linesOf(ids.errorFileId);
    expect(errors).toEqual([
      { id: expect.any(String), custom_id: 'bad-model', response: { status_code: 404, request_id: 'req_bad-model', body: { error: { message: 'no such model', code: 'model_not_found' } } }, error: null },
    ]);
    const files = await db.file.findMany({ where: { id: { in: [ids.outputFileId, ids.errorFileId] } }, select: { purpose: true, orgId: true } });
    expect(files.map((f) => f.purpose).sort()).toEqual(['batch_error', 'batch_output']);
    expect(files.every((f) => f.orgId === orgId)).toBe(true);

    const done = await db.batch.findUniqueOrThrow({ where: { id } });
    expect(done).toMatchObject({ status: 'completed', requestCompleted: 3, requestFailed: 1, outputFileId: ids.outputFileId, errorFileId: ids.errorFileId });
    expect(done.inProgressAt && done.finalizingAt && done.completedAt).toBeTruthy();
  });

  it("fails a batch whose file has bad lines, with OpenAI's errors object, and stores no item", async () => {
    const id = await batchWith([line('x'), line('x'), '{oops']);
    expect(await run(acts.validateBatch, { batchId: id })).toEqual({ status: 'failed' });
    const batch = await db.batch.findUniqueOrThrow({ where: { id } });
    expect(batch.status).toBe('failed');
    expect(batch.failedAt).toBeTruthy();
    expect(batch.errors).toEqual({
      object: 'list',
      data: [
        { code: 'duplicate_custom_id', message: expect.stringContaining('line 1'), param: 'custom_id', line: 2 },
        { code: 'invalid_json_line', message: expect.any(String), param: null, line: 3 },
      ],
    });
    expect(await db.batchItem.count({ where: { batchId: id } })).toBe(0);
  });

  it('stops sending once the batch is cancelling, and an expired batch writes its unsent lines as batch_expired errors', async () => {
    const id = await batchWith([line('e1'), line('e2'), line('e3')]);
    await run(acts.validateBatch, { batchId: id });
    await run(acts.processBatchChunk, { batchId: id, start: 0, end: 1 });
    await run(acts.recordBatchStatus, { batchId: id, status: 'cancelling' });
    expect(await run(acts.processBatchChunk, { batchId: id, start: 1, end: 3 })).toEqual({ completed: 0, failed: 0 });
    expect(calls.get('e2')).toBeUndefined();

    const ids = { outputFileId: `file-${uniq('out')}`, errorFileId: `file-${uniq('err')}` };
    expect(await run(acts.finalizeBatch, { batchId: id, outcome: 'expired', ...ids })).toEqual(ids);
    const errors = await linesOf(ids.errorFileId);
    expect(errors.map((l) => [l.custom_id, l.response, l.error?.code])).toEqual([
      ['e2', null, 'batch_expired'],
      ['e3', null, 'batch_expired'],
    ]);
    const batch = await db.batch.findUniqueOrThrow({ where: { id } });
    expect(batch).toMatchObject({ status: 'expired', requestCompleted: 1, requestFailed: 2 });
    expect(batch.expiredAt && batch.cancellingAt).toBeTruthy();
  });

  it('fails a batch whose input file was deleted', async () => {
    const id = await batchWith([line('gone')]);
    const batch = await db.batch.findUniqueOrThrow({ where: { id } });
    await db.file.delete({ where: { id: batch.inputFileId } });
    expect(await run(acts.validateBatch, { batchId: id })).toEqual({ status: 'failed' });
    expect((await db.batch.findUniqueOrThrow({ where: { id } })).errors).toMatchObject({ data: [{ code: 'file_not_found', param: 'input_file_id' }] });
  });
});
