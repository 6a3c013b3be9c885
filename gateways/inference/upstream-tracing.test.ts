// Gateway → upstream tracing on a real HTTP round trip: a Fastify app with the common plugin (its
// request span), a route that calls an upstream through `sendToTarget`, an upstream double that
// records its headers, and an OTLP/HTTP receiver double that decodes what the exporter sends.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { commonPlugin } from '../../lib/http/common.js';
import { startTracing, traceHeaders, tracingEnabled, withSpan, SpanKind } from '../../lib/tracing.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../tests/helpers/otlp-receiver.js';
import type { Replica } from './routing-table.js';
import { sendToTarget } from './targets.js';

const seen: IncomingHttpHeaders[] = [];
const upstream = createServer((req, res) => {
  seen.push(req.headers);
  req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
});
let receiver: OtlpReceiver;
let target: Replica;

async function gateway(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(commonPlugin, { service: 'test', title: 'test' });
  app.post('/v1/chat/completions', async () => {
    const answer = await sendToTarget(target, '/chat/completions', { model: 'm' }, { signal: AbortSignal.timeout(10_000), timeoutMs: 10_000, requestId: 'r1', stream: false });
    return JSON.parse(await answer.text()) as unknown;
  });
  await app.ready();
  return app;
}

const config = (exporter: string) => loadConfig({ INFERIA_ENV: 'test', OTEL_TRACES_EXPORTER: exporter, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  target = { kind: 'replica', base, deploymentId: 'dep-1', nodeId: 'node-1', model: 'm', orgId: 'org', inflight: 0, restriction: { allowed_groups: [], allowed_domains: [] } };
});
afterAll(async () => {
  upstream.close();
  await receiver.close();
});

describe('tracing off (the default)', () => {
  it('loads nothing, adds no header and exports nothing', async () => {
    expect(await startTracing(config('none'), 'test')).toBeUndefined();
    expect(tracingEnabled()).toBe(false);
    expect(traceHeaders()).toEqual({});
    expect(traceHeaders()).toBe(traceHeaders()); // one frozen object: nothing allocated per call
    expect(await withSpan('x', SpanKind.INTERNAL, {}, async () => 7)).toBe(7);
    const app = await gateway();
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { traceparent: `00-${TRACE}-${CALLER_SPAN}-01` }, payload: {} });
    expect(res.statusCode).toBe(200);
    await app.close();
    expect(seen.at(-1)?.traceparent).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.requests).toBe(0);
  });
});

describe('tracing on (OTLP/HTTP)', () => {
  it('a request span continues the caller\'s trace; the upstream call is its child client span and carries its traceparent', async () => {
    const tracing = await startTracing(config('otlp'), 'inference');
    expect(tracing).toBeDefined();
    const app = await gateway();
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { traceparent: `00-${TRACE}-${CALLER_SPAN}-01` }, payload: {} });
    expect(res.statusCode).toBe(200);
    const sent = String(seen.at(-1)?.traceparent);
    // A request with no traceparent starts a trace of its own.
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: {} });
    const fresh = String(seen.at(-1)?.traceparent);
    await app.inject({ method: 'GET', url: '/healthz' });
    await app.close();
    await tracing!.shutdown(); // flushes the batch

    const server = receiver.spans.find((s) => s.kind === 2 && s.traceId === TRACE);
    expect(server).toMatchObject({
      service: 'inferia-inference',
      name: 'POST /v1/chat/completions',
      parentSpanId: CALLER_SPAN,
      attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200 },
    });
    const client = receiver.spans.find((s) => s.kind === 3 && s.traceId === TRACE);
    expect(client).toMatchObject({
      name: 'POST /chat/completions',
      parentSpanId: server!.spanId,
      attributes: { 'url.full': `${target.base}/chat/completions`, 'http.response.status_code': 200, 'inferia.deployment_id': 'dep-1' },
    });
    expect(sent).toBe(`00-${TRACE}-${client!.spanId}-01`);

    const [, freshTrace, freshParent] = fresh.split('-');
    expect(freshTrace).not.toBe(TRACE);
    const freshServer = receiver.spans.find((s) => s.kind === 2 && s.traceId === freshTrace);
    expect(freshServer?.parentSpanId).toBe('');
    expect(receiver.spans.find((s) => s.spanId === freshParent)?.parentSpanId).toBe(freshServer?.spanId);
    // Health checks and scrapes are not traced.
    expect(receiver.spans.filter((s) => s.name.includes('healthz'))).toEqual([]);
    expect(tracingEnabled()).toBe(false);
  });
});
