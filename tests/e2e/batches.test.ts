// The Files and Batches API end to end: the whole stack as separate processes, the mock engine
// deployed, and the official `openai` client uploading JSONL, creating, polling, listing and
// cancelling batches, and downloading their output and error files. Each line goes through the
// inference gateway's policy chain as the batch's key (a revoked key's lines fail with 401).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { InferiaApi, waitForStatus } from '../../bin/api-client.js';
import type { BatchResultLine } from '../../lib/batch-jsonl.js';
import type { Config } from '../../lib/config.js';
import { startStack, type Stack } from '../../lib/local-services/stack.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { searchAttributes, workflowIds } from '../../lib/temporal-names.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { openAiSchemaErrors } from '../helpers/openai-schema.js';
import { connect } from '../helpers/services.js';

const MAX_FILE_BYTES = 512 * 1024;

let stack: Stack;
let config: Config;
let services: ReturnType<typeof connect>;
let org: DemoCredentials;
let other: DemoCredentials;
let api: InferiaApi;
let openai: OpenAI;
let stranger: OpenAI;
let deploymentId: string;

const client = (apiKey: string) => new OpenAI({ baseURL: `${stack.urls.inference}/v1`, apiKey, maxRetries: 0 });

const chatLine = (customId: string, model = 'mock', content = `hello ${customId}`) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content }] } });

const upload = async (c: OpenAI, lines: string[], name = 'batch.jsonl') =>
  c.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), name), purpose: 'batch' });

const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'];
const settled = (c: OpenAI, id: string, timeoutMs = 90_000) =>
  waitFor(async () => {
    const b = await c.batches.retrieve(id);
    return TERMINAL.includes(b.status) ? b : undefined;
  }, timeoutMs, 250);

async function jsonl(c: OpenAI, fileId: string): Promise<BatchResultLine[]> {
  const text = await (await c.files.content(fileId)).text();
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as BatchResultLine);
}

beforeAll(async () => {
  const taskQueue = uniq('e2e-batch');
  const overrides = {
    TEMPORAL_TASK_QUEUE: taskQueue,
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), 'inferia-e2e-batch-engines-')),
    LOG_LEVEL: 'warn',
    BATCH_CONCURRENCY: '2',
    BATCH_MAX_FILE_BYTES: String(MAX_FILE_BYTES),
  };
  config = testConfig(overrides);
  services = connect(config, 'e2e-batch');
  const slug = uniq('e2e-batch');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  const otherSlug = uniq('e2e-batch-other');
  other = await seedOrg(services.db, config, { slug: otherSlug, name: otherSlug, adminEmail: `${otherSlug}@test.local` });
  const ports = {
    filtration: await freePort(),
    inference: await freePort(),
    orchestration: await freePort(),
    orchestrationGrpc: await freePort(),
    sidecar: await freePort(),
  };
  stack = await startStack({ env: { ...process.env, ...overrides }, ports, quiet: !process.env.E2E_VERBOSE });
  api = new InferiaApi(stack.urls);
  await api.login(org.admin_email, org.admin_password);
  openai = client(org.api_key);
  stranger = client(other.api_key);
  const out = await api.orchestration<{ deployment_id: string }>('POST', '/deployment/deploy', {
    model_name: 'mock',
    model_version: '1.0',
    replicas: 1,
    gpu_per_replica: 0,
    pool_id: org.pool_id,
    workload_type: 'inference',
    engine: 'mock',
    configuration: {},
    org_id: org.org_id,
    inference_model: 'mock',
  });
  deploymentId = out.deployment_id;
  await waitForStatus(api, deploymentId, ['RUNNING'], { timeoutMs: 90_000 });
  await waitFor(async () => (await openai.models.list()).data.some((m) => m.id === 'mock'), 15_000);
}, 240_000);

afterAll(async () => {
  if (deploymentId && api) {
    await api.orchestration('POST', '/deployment/terminate', { deployment_id: deploymentId }).catch(() => undefined);
    await waitForStatus(api, deploymentId, ['STOPPED'], { timeoutMs: 30_000 }).catch(() => undefined);
  }
  await stack?.stop();
  const engines = createLocalProvider({ engineDir: config.localEngineDir });
  for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
  const temporal = await createTemporalClient(config);
  for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
    await temporal.schedule.getHandle(reconcileScheduleId(provider, config.temporal.taskQueue)).delete().catch(() => undefined);
  }
  await temporal.connection.close();
  await services?.close();
});

describe('the Batch API through the official openai client', () => {
  let batchId: string;
  let inputFileId: string;

  it('uploads a JSONL file, runs it as a batch to completed, and serves the output and error files', async () => {
    const ids = ['c1', 'c2', 'c3', 'c4'];
    const file = await upload(openai, [...ids.slice(0, 2).map((id) => chatLine(id)), chatLine('bad', 'no-such-model'), ...ids.slice(2).map((id) => chatLine(id))]);
    inputFileId = file.id;
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'batch.jsonl', status: 'processed' });
    expect(file.bytes).toBeGreaterThan(100);
    expect(openAiSchemaErrors('OpenAIFile', file)).toEqual([]);

    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'e2e' } });
    batchId = created.id;
    expect(created).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions', input_file_id: file.id, metadata: { job: 'e2e' } });
    expect(created.expires_at! - created.created_at).toBe(24 * 3600);
    expect(openAiSchemaErrors('Batch', created)).toEqual([]);

    const done = await settled(openai, created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 5, completed: 4, failed: 1 });
    expect(done.in_progress_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.finalizing_at).toBeGreaterThanOrEqual(done.in_progress_at!);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.finalizing_at!);
    expect(openAiSchemaErrors('Batch', done)).toEqual([]);

    const output = await jsonl(openai, done.output_file_id!);
    expect(output.map((l) => l.custom_id).sort()).toEqual(ids);
    for (const line of output) {
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response).toMatchObject({ status_code: 200, request_id: expect.stringMatching(/^req_/) });
      expect(openAiSchemaErrors('CreateChatCompletionResponse', line.response!.body)).toEqual([]);
      expect((line.response!.body as OpenAI.ChatCompletion).choices[0]!.message.content).toBe(`This is the mock engine serving mock. You said: hello ${line.custom_id}`);
    }
    const errors = await jsonl(openai, done.error_file_id!);
    expect(errors).toEqual([
      {
        id: expect.stringMatching(/^batch_req_/),
        custom_id: 'bad',
        response: { status_code: 404, request_id: expect.any(String), body: { error: expect.objectContaining({ code: 'model_not_found', param: 'model' }) } },
        error: null,
      },
    ]);
    for (const id of [done.output_file_id!, done.error_file_id!]) {
      const f = await openai.files.retrieve(id);
      expect(f).toMatchObject({ purpose: 'batch_output', filename: expect.stringContaining(created.id) });
      expect(openAiSchemaErrors('OpenAIFile', f)).toEqual([]);
    }
  });

  it('sends each line through the policy chain as the batch key: every line is logged against it', async () => {
    const keyId = (await services.db.batch.findUniqueOrThrow({ where: { id: batchId } })).apiKeyId;
    const rows = await waitFor(async () => {
      const r = await services.db.inferenceLog.findMany({ where: { orgId: org.org_id, apiKeyId: keyId } });
      return r.filter((x) => x.model === 'mock' && x.statusCode === 200).length >= 4 && r.some((x) => x.statusCode === 404) ? r : undefined;
    }, 15_000);
    expect(rows.every((r) => r.apiKeyId === keyId)).toBe(true);
  });

  it('shows the batch as a workflow in Temporal, filterable by org', async () => {
    const temporal = await createTemporalClient(config);
    try {
      const d = await temporal.workflow.getHandle(workflowIds.batch(batchId)).describe();
      expect(d.type).toBe('batchWorkflow');
      expect(d.status.name).toBe('COMPLETED');
      expect(d.typedSearchAttributes.get(searchAttributes.orgId)).toBe(org.org_id);
      expect(d.typedSearchAttributes.get(searchAttributes.status)).toBe('completed');
    } finally {
      await temporal.connection.close();
    }
  });

  it('lists files and batches with OpenAI pagination', async () => {
    const second = await openai.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const page = await openai.batches.list({ limit: 1 });
    expect(page.data.map((b) => b.id)).toEqual([second.id]);
    expect(page.has_more).toBe(true);
    const raw = (await (await fetch(`${stack.urls.inference}/v1/batches?limit=1`, { headers: { authorization: `Bearer ${org.api_key}` } })).json()) as Record<string, unknown>;
    expect(raw).toMatchObject({ object: 'list', first_id: second.id, last_id: second.id, has_more: true });
    expect(openAiSchemaErrors('ListBatchesResponse', raw)).toEqual([]);
    const all: string[] = [];
    for await (const b of openai.batches.list({ limit: 1 })) all.push(b.id);
    expect(all.slice(0, 2)).toEqual([second.id, batchId]);
    expect(new Set(all).size).toBe(all.length);

    const files = await openai.files.list({ purpose: 'batch' });
    expect(files.data.map((f) => f.id)).toContain(inputFileId);
    expect(files.data.every((f) => f.purpose === 'batch')).toBe(true);
    const outputs = await openai.files.list({ purpose: 'batch_output' });
    expect(outputs.data).toHaveLength(2);
    const rawFiles = (await (await fetch(`${stack.urls.inference}/v1/files?limit=2&order=asc`, { headers: { authorization: `Bearer ${org.api_key}` } })).json()) as {
      data: { id: string }[];
    };
    expect(rawFiles.data[0]!.id).toBe(inputFileId);
    expect(openAiSchemaErrors('ListFilesResponse', rawFiles)).toEqual([]);
    expect((await settled(openai, second.id)).status).toBe('completed');
  });

  it('cancels a batch mid-way: cancelling, then cancelled with the finished lines in the output file', async () => {
    const lines = Array.from({ length: 1500 }, (_, i) => chatLine(`slow-${i}`));
    const file = await upload(openai, lines, 'slow.jsonl');
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await openai.batches.retrieve(batch.id)).request_counts!.completed >= 5, 60_000, 100);
    const cancelling = await openai.batches.cancel(batch.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).toBeGreaterThanOrEqual(cancelling.created_at);
    expect(openAiSchemaErrors('Batch', cancelling)).toEqual([]);
    expect((await openai.batches.cancel(batch.id)).status).toMatch(/^cancell/); // again: no error

    const done = await settled(openai, batch.id, 60_000);
    expect(done.status).toBe('cancelled');
    expect(done.cancelled_at).toBeGreaterThanOrEqual(done.cancelling_at!);
    const { completed, failed, total } = done.request_counts!;
    expect(total).toBe(1500);
    expect(completed).toBeGreaterThanOrEqual(5);
    expect(completed + failed).toBeLessThan(1500);
    const output = await jsonl(openai, done.output_file_id!);
    expect(output).toHaveLength(completed);
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(completed);
    // Nothing is sent after the batch has been cancelled.
    const after = (await openai.batches.retrieve(batch.id)).request_counts;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await openai.batches.retrieve(batch.id)).request_counts).toEqual(after);

    // A finished batch cannot be cancelled.
    await expect(openai.batches.cancel(batchId)).rejects.toMatchObject({ status: 409, code: 'batch_not_cancellable' });
  });

  it("fails a revoked key's remaining lines with 401 in the error file, without failing the batch", async () => {
    const key = await api.filtration<{ id: string; key: string }>('POST', '/management/api-keys', { name: 'batch revocation', scopes: ['inference'] });
    const c = client(key.key);
    const file = await upload(c, Array.from({ length: 400 }, (_, i) => chatLine(`rev-${i}`)));
    const batch = await c.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await c.batches.retrieve(batch.id)).request_counts!.completed >= 3, 60_000, 100);
    await api.filtration('DELETE', `/management/api-keys/${key.id}`);

    const done = await settled(openai, batch.id, 90_000);
    expect(done.status).toBe('completed');
    const { completed, failed, total } = done.request_counts!;
    expect(completed + failed).toBe(total);
    expect(failed).toBeGreaterThan(0);
    const errors = await jsonl(openai, done.error_file_id!);
    expect(errors).toHaveLength(failed);
    expect(errors[0]!.response).toMatchObject({ status_code: 401, body: { error: { code: 'invalid_api_key' } } });
  });

  it("fails a batch whose file has bad lines, naming each line in the batch's errors", async () => {
    const file = await upload(openai, [chatLine('dup'), chatLine('dup'), JSON.stringify({ custom_id: 'e', method: 'POST', url: '/v1/embeddings', body: { model: 'mock', input: 'x' } }), '{not json']);
    const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await settled(openai, batch.id, 30_000);
    expect(done.status).toBe('failed');
    expect(done.failed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.errors?.data?.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'duplicate_custom_id', 'custom_id'],
      [3, 'mismatched_endpoint', 'url'],
      [4, 'invalid_json_line', null],
    ]);
    expect(done.output_file_id).toBeUndefined();
    expect(openAiSchemaErrors('Batch', done)).toEqual([]);
  });

  it("answers bad input with a 4xx in OpenAI's shape that names the field", async () => {
    const auth = { authorization: `Bearer ${org.api_key}` };
    const expectError = async (res: Response | Promise<Response>, status: number, param: string | null) => {
      const r = await res;
      const body = (await r.json()) as { error: { param: string | null } };
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(body.error.param).toBe(param);
      expect(openAiSchemaErrors('ErrorResponse', body)).toEqual([]);
    };
    await expect(openai.files.create({ file: await toFile(Buffer.from('{}\n'), 'x.jsonl'), purpose: 'fine-tune' })).rejects.toMatchObject({ status: 400, param: 'purpose' });
    await expect(openai.files.create({ file: await toFile(Buffer.alloc(0), 'x.jsonl'), purpose: 'batch' })).rejects.toMatchObject({ status: 400, param: 'file' });
    await expect(openai.files.create({ file: await toFile(Buffer.alloc(MAX_FILE_BYTES + 1, 'a'), 'big.jsonl'), purpose: 'batch' })).rejects.toMatchObject({ status: 413, param: 'file' });
    await expectError(fetch(`${stack.urls.inference}/v1/files`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), 400, 'file');
    await expectError(
      fetch(`${stack.urls.inference}/v1/files`, { method: 'POST', headers: { ...auth, 'content-type': 'multipart/form-data' }, body: 'no boundary' }),
      400,
      'file',
    );
    await expectError(
      fetch(`${stack.urls.inference}/v1/files`, { method: 'POST', headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ncut short' }),
      400,
      'file',
    );
    const form = new FormData();
    form.set('file', new Blob(['{}\n']), 'x.jsonl');
    await expectError(fetch(`${stack.urls.inference}/v1/files`, { method: 'POST', headers: auth, body: form }), 400, 'purpose');

    const create = (body: Record<string, unknown>) =>
      fetch(`${stack.urls.inference}/v1/batches`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const valid = { input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' };
    await expectError(create({ ...valid, endpoint: '/v1/responses' }), 400, 'endpoint');
    await expectError(create({ ...valid, completion_window: '48h' }), 400, 'completion_window');
    await expectError(create({ ...valid, input_file_id: 'file-nope' }), 404, 'input_file_id');
    await expectError(create({ ...valid, metadata: { k: 'x'.repeat(600) } }), 400, 'metadata.k');
    const output = (await openai.batches.retrieve(batchId)).output_file_id!;
    await expectError(create({ ...valid, input_file_id: output }), 400, 'input_file_id');
    await expectError(fetch(`${stack.urls.inference}/v1/batches?limit=0`, { headers: auth }), 400, 'limit');
    await expectError(fetch(`${stack.urls.inference}/v1/batches?after=batch_nope`, { headers: auth }), 400, 'after');
    await expectError(fetch(`${stack.urls.inference}/v1/files?order=sideways`, { headers: auth }), 400, 'order');
    await expectError(fetch(`${stack.urls.inference}/v1/batches/batch_nope`, { headers: auth }), 404, 'batch_id');
    await expectError(fetch(`${stack.urls.inference}/v1/files/file-nope/content`, { headers: auth }), 404, 'file_id');
    await expectError(fetch(`${stack.urls.inference}/v1/batches`, { headers: { authorization: 'Bearer nope' } }), 401, null);
  });

  it('accepts the on-behalf-of header only with the service token', async () => {
    const keyId = (await services.db.batch.findUniqueOrThrow({ where: { id: batchId } })).apiKeyId!;
    const models = (headers: Record<string, string>) => fetch(`${stack.urls.inference}/v1/models`, { headers });
    expect((await models({ authorization: `Bearer ${org.api_key}`, 'x-inferia-on-behalf-of': keyId })).status).toBe(401);
    expect((await models({ authorization: `Bearer ${other.api_key}`, 'x-inferia-on-behalf-of': keyId })).status).toBe(401);
    expect((await models({ authorization: `Bearer ${config.secrets.internalServiceToken}`, 'x-inferia-on-behalf-of': 'not-a-key' })).status).toBe(401);
    const ok = await models({ authorization: `Bearer ${config.secrets.internalServiceToken}`, 'x-inferia-on-behalf-of': keyId });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toContain('mock');
  });

  it("keeps each org's files and batches to itself", async () => {
    const batch = await openai.batches.retrieve(batchId);
    await expect(stranger.files.retrieve(inputFileId)).rejects.toMatchObject({ status: 404 });
    await expect(stranger.files.content(batch.output_file_id!)).rejects.toMatchObject({ status: 404 });
    await expect(stranger.files.delete(inputFileId)).rejects.toMatchObject({ status: 404 });
    await expect(stranger.batches.retrieve(batchId)).rejects.toMatchObject({ status: 404 });
    await expect(stranger.batches.cancel(batchId)).rejects.toMatchObject({ status: 404 });
    await expect(stranger.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({
      status: 404,
      param: 'input_file_id',
    });
    expect((await stranger.files.list()).data).toEqual([]);
    expect((await stranger.batches.list()).data).toEqual([]);

    const own = await upload(stranger, [chatLine('mine')]);
    expect((await openai.files.list()).data.map((f) => f.id)).not.toContain(own.id);
    const deleted = await stranger.files.delete(own.id);
    expect(deleted).toEqual({ id: own.id, object: 'file', deleted: true });
    expect(openAiSchemaErrors('DeleteFileResponse', deleted)).toEqual([]);
    await expect(stranger.files.retrieve(own.id)).rejects.toMatchObject({ status: 404 });
  });
});
