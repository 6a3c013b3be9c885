// OpenTelemetry across the platform as `npm run up` runs it (every process with
// OTEL_TRACES_EXPORTER=otlp), exporting to an OTLP/HTTP receiver double in the test (no collector
// runs here). A deployment started through the orchestration gateway is one trace from the HTTP
// request through Temporal's StartWorkflow to the worker's activities; an inference request is a
// server span whose upstream call is a child client span, and the upstream receives that span's
// W3C traceparent. And every process serves Prometheus metrics.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createDb, type Db } from '../../lib/db.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { platformEnv, startPlatform, type Platform } from '../helpers/platform.js';
import { privateDir } from '../helpers/private-services.js';

const SERVER = 2;
const CLIENT = 3;

/** An OpenAI-compatible provider double that records the headers it was sent. */
const seen: IncomingHttpHeaders[] = [];
const double = createServer((req, res) => {
  seen.push(req.headers);
  req.resume().on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-double',
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: 'traced',
        choices: [{ index: 0, message: { role: 'assistant', content: 'traced answer', refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      }),
    );
  });
});

let folder: ReturnType<typeof privateDir>;
let receiver: OtlpReceiver;
let config: Config;
let db: Db;
let org: DemoCredentials;
let platform: Platform;
let workerMetrics: string;

const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);

beforeAll(async () => {
  folder = privateDir('tracing');
  receiver = await startOtlpReceiver();
  await new Promise<void>((resolve) => double.listen(0, '127.0.0.1', resolve));
  workerMetrics = `127.0.0.1:${await freePort()}`;
  const overrides = platformEnv(
    {
      TEMPORAL_TASK_QUEUE: uniq('tracing'),
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OUTBOUND_ALLOWLIST: '127.0.0.1',
      ROUTES_REFRESH_MS: '500',
      WORKER_METRICS_ADDRESS: workerMetrics,
    },
    folder.dir,
  );
  config = testConfig(overrides);
  db = createDb(config.databaseUrl, { max: 2 });
  const slug = uniq('tracing');
  org = await seedOrg(db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  platform = await startPlatform(config, { ...process.env, ...overrides }, org);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  await db?.$disconnect();
  double.close();
  await receiver?.close();
  folder?.remove();
}, 120_000);

describe('traces across the platform', () => {
  it('a deployment: the gateway request, Temporal StartWorkflow and the worker\'s activities share one trace', async () => {
    const deploy = await waitFor(
      async () => receiver.spans.find((s) => s.service === 'inferia-orchestration' && s.kind === SERVER && s.name === 'POST /deployment/deploy'),
      30_000,
    );
    expect(deploy.attributes).toMatchObject({ 'http.route': '/deployment/deploy', 'http.response.status_code': 202 });
    const start = inTrace(deploy.traceId).find((s) => s.name === 'StartWorkflow:deploymentWorkflow');
    expect(start).toMatchObject({ service: 'inferia-orchestration', parentSpanId: deploy.spanId });
    // The worker exports its activity spans (and the workflow's, through Temporal's sink) on its own schedule.
    const activities = await waitFor(async () => {
      const run = inTrace(deploy.traceId).filter((s) => s.service === 'inferia-worker' && s.name.startsWith('RunActivity:'));
      return run.length >= 2 ? run : undefined;
    }, 30_000);
    expect(activities.map((s) => s.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^RunActivity:\w+/)]));
    const scheduled = inTrace(deploy.traceId).filter((s: ReceivedSpan) => s.name.startsWith('StartActivity:'));
    expect(scheduled.length).toBeGreaterThan(0);
    // Each activity run is the child of the workflow's schedule of it.
    expect(activities.some((a) => scheduled.some((s) => s.spanId === a.parentSpanId))).toBe(true);
  });

  it('an inference request: a server span, its upstream call a child client span whose traceparent the upstream received', async () => {
    const model = uniq('traced');
    await platform.api.filtration('POST', '/management/providers', {
      name: uniq('prov'),
      provider: 'openai',
      base_url: `http://127.0.0.1:${(double.address() as AddressInfo).port}/v1`,
      settings: { models: [model] },
      credentials: { api_key: 'p' },
    });
    const res = await waitFor(async () => {
      const r = await fetch(`${platform.stack.urls.inference}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${org.api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'trace me' }] }),
      });
      return r.status === 200 ? r : undefined;
    }, 30_000);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('traced answer');
    const traceparent = String(seen.at(-1)?.traceparent);
    const [version, traceId, parentId, flags] = traceparent.split('-');
    expect({ version, flags }).toEqual({ version: '00', flags: '01' });
    const client = await waitFor(async () => inTrace(traceId!).find((s) => s.kind === CLIENT && s.service === 'inferia-inference'), 30_000);
    expect(client).toMatchObject({ spanId: parentId, name: 'POST /chat/completions', attributes: { 'gen_ai.request.model': model, 'http.response.status_code': 200 } });
    const server = inTrace(traceId!).find((s) => s.kind === SERVER);
    expect(server).toMatchObject({
      service: 'inferia-inference',
      name: 'POST /v1/chat/completions',
      spanId: client.parentSpanId,
      parentSpanId: '',
      attributes: { 'http.response.status_code': 200 },
    });
  });

  it('every process serves Prometheus metrics', async () => {
    const { urls } = platform.stack;
    for (const [service, url] of [['filtration', urls.filtration], ['inference', urls.inference], ['orchestration', urls.orchestration], ['sidecar', urls.sidecar]] as const) {
      const res = await fetch(`${url}/metrics`);
      expect(res.status, service).toBe(200);
      const text = await res.text();
      expect(text, service).toMatch(new RegExp(`^inferia_http_requests_total\\{.*service="${service}".*\\} \\d+`, 'm'));
      expect(text, service).toContain('process_cpu_seconds_total');
    }
    const worker = await waitFor(async () => {
      const body = await fetch(`http://${workerMetrics}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
      return body.includes('temporal_') ? body : undefined;
    }, 30_000);
    expect(worker).toMatch(/^temporal_\w+/m);
  });
});
