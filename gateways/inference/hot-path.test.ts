// The inference hot path in one process: the gateway app in front of real HTTP replicas it can be
// made to misbehave (5xx, refused connections, a stream that breaks, silence), with stand-ins for
// the key context, the limiter and the log writer so each request's bookkeeping can be checked:
// one log entry, tokens settled or refunded, retries before the first byte only, OpenAI's shapes.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InferenceLogEntry, InferenceLogWriter } from '../../lib/inference-log.js';
import type { Admission, Limit, Limiter, Reservation } from '../../lib/limits.js';
import { estimateTokens, inferenceApp, newRequestId } from './app.js';
import { Cancellation } from './cancellation.js';
import type { ContextCache, KeyContext } from './context-cache.js';
import { RoutingTable } from './routing-table.js';

const KEY = 'sk-inf-0123456789ab.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef';
const CTX: KeyContext = {
  org_id: 'org-1',
  api_key_id: 'key-1',
  key_prefix: 'sk-inf-0123456789ab',
  scopes: ['inference'],
  allowed_models: [],
  rpm_limit: 100,
  tpm_limit: 100_000,
  expires_at: null,
  groups: [],
  email_domain: null,
  guardrails: [],
  limits: [],
  fallback_models: [],
};
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
});
const sse = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;
const CHUNKS = [
  sse({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'hel' } }] }),
  sse({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'lo' } }] }),
  sse({ id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2 } }),
  'data: [DONE]\n\n',
];

type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Replica {
  url: string;
  server: Server;
  seen: { headers: IncomingMessage['headers']; body: string; closed: Promise<void> }[];
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function replica(behaviour: Behaviour): Promise<Replica> {
  const seen: Replica['seen'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body, closed: once(res, 'close').then(() => undefined) });
      behaviour(req, res, body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((r) => server.close(r)).then(() => undefined));
  cleanups.push(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}

const json: Behaviour = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(COMPLETION);
};
const stream: Behaviour = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const c of CHUNKS) res.write(c);
  res.end();
};
const failing =
  (status: number): Behaviour =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"error":"down"}');
  };

class FakeLimiter {
  readonly calls: string[] = [];
  blocked = false;
  /** Holds a lease of every counter: admits at once (no promise), as the real one does from its leases. */
  leased = false;
  admit(limits: Limit[], tokens: number): Admission | Promise<Admission> {
    if (this.leased) {
      this.calls.push(`lease ${tokens}`);
      const states = limits.map((limit) => ({ limit, used: 2, remaining: limit.limit - 2, resetSeconds: 42 }));
      return { admitted: true, states, reservation: { tokenKeys: [{ key: 't', ttl: 60, reserved: tokens }], requestKeys: [{ key: 'r', ttl: 60 }] } };
    }
    return this.ask(limits, tokens);
  }
  private async ask(limits: Limit[], tokens: number): Promise<Admission> {
    this.calls.push(`admit ${tokens}`);
    const states = limits.map((limit) => ({ limit, used: 1, remaining: limit.limit - 1, resetSeconds: 42 }));
    if (this.blocked) return { admitted: false, states, blockedBy: states[0]! };
    return { admitted: true, states, reservation: { tokenKeys: [{ key: 't', ttl: 60, reserved: tokens }], requestKeys: [{ key: 'r', ttl: 60 }] } };
  }
  async settle(_r: Reservation, actual: number) {
    this.calls.push(`settle ${actual}`);
  }
  async refund() {
    this.calls.push('refund');
  }
}

interface Gateway {
  url: string;
  app: FastifyInstance;
  routes: RoutingTable;
  limiter: FakeLimiter;
  logs: InferenceLogEntry[];
  /** How many entries had been written each time the log writer was closed. */
  closed: number[];
}

async function gateway(replicas: string[], opts: { timeoutMs?: number; ctx?: KeyContext } = {}): Promise<Gateway> {
  const ctx = opts.ctx ?? CTX;
  const routes = new RoutingTable(
    async () => ({ replicas: replicas.map((url, i) => ({ nodeId: `node-${i}`, url, deploymentId: 'dep-1', model: 'm', orgId: CTX.org_id, modelConfig: {} })), providers: [] }),
    60_000,
  );
  await routes.refresh();
  const limiter = new FakeLimiter();
  const logs: InferenceLogEntry[] = [];
  const closed: number[] = [];
  const app = Fastify({ logger: false, genReqId: newRequestId, forceCloseConnections: true });
  await app.register(inferenceApp, {
    contexts: { resolve: async (key: string) => (key === KEY ? ctx : Promise.reject(new Error('bad key'))), cached: () => undefined } as unknown as ContextCache,
    routes,
    upstreamTimeoutMs: opts.timeoutMs ?? 10_000,
    limiter: limiter as unknown as Limiter,
    logs: { write: (e: InferenceLogEntry) => logs.push(e), close: async () => void closed.push(logs.length) } as unknown as InferenceLogWriter,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, app, routes, limiter, logs, closed };
}

const chat = (g: Gateway, body: Record<string, unknown> = {}, init: RequestInit = {}) =>
  fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10, ...body }),
    ...init,
  });

/** A key whose policy redacts PII in answers (streams included). */
const PII_GUARDED: KeyContext = { ...CTX, guardrails: [{ id: 'gp-1', name: 'pii', config: { rules: [{ type: 'pii', stage: 'output', action: 'redact' }] } }] };

/** One chat-completion chunk as an upstream streams it. */
const sseEvent = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

/** Log entries are written when the response closes, just after the client has it. */
async function logsOf(g: Gateway, n: number): Promise<InferenceLogEntry[]> {
  for (let i = 0; i < 100 && g.logs.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 30)); // and no more than n
  return g.logs;
}

describe('inference hot path', () => {
  it('relays a JSON answer unchanged, settles its tokens and logs it once', async () => {
    const up = await replica(json);
    const g = await gateway([up.url]);
    const res = await chat(g);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.text()).toBe(COMPLETION);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^req_/);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('99999');
    expect(up.seen[0]!.headers['x-request-id']).toBe(id);
    expect(up.seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(up.seen[0]!.body)).toMatchObject({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ request_id: id, status_code: 200, prompt_tokens: 7, completion_tokens: 3, replica: 'node-0', deployment_id: 'dep-1', stream: false });
    expect(g.limiter.calls).toEqual([expect.stringMatching(/^admit \d+$/), 'settle 10']);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/inferia_inference_requests_total\{[^}]*model="m"[^}]*status="200"[^}]*stream="false"[^}]*\} 1/);
    expect(metrics).toMatch(/inferia_inference_tokens_total\{[^}]*model="m"[^}]*kind="completion"[^}]*\} 3/);
  });

  it('relays a stream chunk by chunk, counts its usage chunk and logs it once', async () => {
    const up = await replica(stream);
    const g = await gateway([up.url]);
    const res = await chat(g, { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(await res.text()).toBe(CHUNKS.join(''));
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status_code: 200, prompt_tokens: 5, completion_tokens: 2, stream: true });
    expect(logs[0]!.ttfb_ms).not.toBeNull();
    expect(g.limiter.calls.slice(1)).toEqual(['settle 7']);
  });

  it('retries another replica after a 5xx before the first byte, and counts the failure', async () => {
    const bad = await replica(failing(503));
    const good = await replica(json);
    const g = await gateway([bad.url, good.url]);
    // Both are idle; the pick is random among ties: make the bad one the first choice.
    g.routes.replicas(CTX.org_id, 'm').find((r) => r.base === `${good.url}/v1`)!.inflight = 1;
    const res = await chat(g);
    g.routes.replicas(CTX.org_id, 'm').find((r) => r.base === `${good.url}/v1`)!.inflight -= 1;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(COMPLETION);
    expect(bad.seen).toHaveLength(1);
    expect(good.seen).toHaveLength(1);
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status_code: 200, replica: 'node-1' });
    for (let i = 0; i < 2; i++) g.routes.reportFailure('node-0');
    expect(g.routes.isOpen('node-0')).toBe(true); // the 503 counted as the first of three
    for (const r of g.routes.replicas(CTX.org_id, 'm')) expect(r.inflight).toBe(0);
  });

  it('moves on from a replica that refuses connections', async () => {
    const dead = await replica(json);
    const deadUrl = dead.url;
    await new Promise((r) => dead.server.close(r));
    const good = await replica(json);
    const g = await gateway([deadUrl, good.url]);
    for (let i = 0; i < 3; i++) expect((await chat(g)).status).toBe(200);
    expect(good.seen).toHaveLength(3);
  });

  it('answers 502 in OpenAI’s shape and refunds when every replica fails', async () => {
    const a = await replica(failing(500));
    const g = await gateway([a.url]);
    const res = await chat(g);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { type: 'api_error', code: 'upstream_unavailable' } });
    expect(g.limiter.calls.slice(1)).toEqual(['refund']);
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status_code: 502, error_code: 'upstream_unavailable' });

    // Three replicas all failing: the third answer is the one the client sees, as a 502.
    const b = await replica(failing(500));
    const c = await replica(failing(500));
    const g3 = await gateway([a.url, b.url, c.url]);
    const res3 = await chat(g3);
    expect(res3.status).toBe(502);
    expect(await res3.json()).toMatchObject({ error: { type: 'api_error', code: 'upstream_error', message: 'upstream replica failed with status 500' } });
    expect(g3.limiter.calls.slice(1)).toEqual(['refund']);
  });

  it('passes a 4xx through unchanged, without retrying', async () => {
    const up = await replica((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}');
    });
    const other = await replica(json);
    const g = await gateway([up.url]);
    const res = await chat(g);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}');
    expect(other.seen).toHaveLength(0);
    expect(g.limiter.calls.slice(1)).toEqual(['refund']);
  });

  it('ends a stream that breaks mid-way with an OpenAI-shaped error event, refunds and logs once', async () => {
    const up = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(CHUNKS[0]);
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const g = await gateway([up.url]);
    const res = await chat(g, { stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith(CHUNKS[0]!)).toBe(true);
    const last = text.trim().split('\n\n').at(-1)!;
    expect(last.startsWith('data: ')).toBe(true);
    expect(JSON.parse(last.slice(6))).toMatchObject({ error: { type: 'api_error', code: 'upstream_stream_error' } });
    expect(g.limiter.calls.slice(1)).toEqual(['refund']);
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status_code: 200, stream: true });
  });

  it('ends a guarded stream whose upstream never ends a line, instead of holding it all', async () => {
    const endless = 'data: {"choices":[{"index":0,"delta":{"content":"' + 'a'.repeat(64 * 1024);
    const up = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(CHUNKS[0]);
      res.write(endless);
      const more = setInterval(() => (res.destroyed ? clearInterval(more) : res.write('a'.repeat(64 * 1024))), 1);
    });
    const g = await gateway([up.url], { ctx: PII_GUARDED });
    const res = await chat(g, { stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    const last = text.trim().split('\n\n').at(-1)!;
    expect(JSON.parse(last.slice(6))).toMatchObject({ error: { code: 'upstream_stream_error', message: expect.stringContaining('longer than') } });
    expect(text.length).toBeLessThan(64 * 1024); // the endless line itself never reached the client
    expect(g.limiter.calls.slice(1)).toEqual(['refund']);
  });

  it('relays a guarded stream whose characters are split between reads intact', async () => {
    const body = Buffer.from(sseEvent('Ça coûte 5 €, ') + sseEvent('naïve café — ') + sseEvent('日本語のテキスト。', 'stop') + 'data: [DONE]\n\n');
    const up = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Cut inside multi-byte characters, each piece in a read of its own.
      const cuts = [3, body.indexOf('€') + 1, body.indexOf('日') + 2, body.length - 5, body.length];
      let at = 0;
      const next = () => {
        if (at >= body.length) return res.end();
        const end = cuts.find((c) => c > at)!;
        res.write(body.subarray(at, end));
        at = end;
        setTimeout(next, 5);
      };
      next();
    });
    const g = await gateway([up.url], { ctx: PII_GUARDED });
    const res = await chat(g, { stream: true });
    const text = await res.text();
    expect(text).not.toContain('\ufffd');
    const content = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
      .join('');
    expect(content).toBe('Ça coûte 5 €, naïve café — 日本語のテキスト。');
  });

  it('admits from a lease at once and guards input and output in process without an AbortSignal', async () => {
    const up = await replica(json);
    const guarded: KeyContext = {
      ...CTX,
      guardrails: [{ id: 'gp-2', name: 'pii both', config: { rules: [{ type: 'pii', stage: 'both', action: 'redact' }, { type: 'prompt_injection', stage: 'both', action: 'block' }] } }],
    };
    const g = await gateway([up.url], { ctx: guarded });
    g.limiter.leased = true;
    const signals = vi.spyOn(Cancellation.prototype, 'signal', 'get');
    try {
      const res = await chat(g, { messages: [{ role: 'user', content: 'mail jane.roe@example.com please' }] });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('98');
      expect(up.seen[0]!.body).not.toContain('jane.roe@example.com'); // redacted before the upstream
      expect(g.limiter.calls).toEqual([expect.stringMatching(/^lease \d+$/), 'settle 10']);
      expect(signals).not.toHaveBeenCalled(); // no rule calls a model: no AbortController made
    } finally {
      signals.mockRestore();
    }
  });

  it('relays a clean guarded stream that arrives in one read byte for byte', async () => {
    const body = Buffer.from(sseEvent('Nothing ') + sseEvent('to hide ') + sseEvent('here, café.', 'stop') + 'data: [DONE]\n\n');
    const up = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(body); // one write: one read at the gateway
    });
    const g = await gateway([up.url], { ctx: PII_GUARDED });
    const res = await chat(g, { stream: true });
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
  });

  it('gives up on a silent replica after the upstream timeout', async () => {
    const silent = await replica(() => undefined);
    const g = await gateway([silent.url], { timeoutMs: 200 });
    const started = Date.now();
    const res = await chat(g);
    expect(res.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_unavailable' } });
    expect(g.limiter.calls.slice(1)).toEqual(['refund']);
  });

  it('stops the upstream call when the client goes away mid-stream, and logs a 499-style entry once', async () => {
    const up = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(CHUNKS[0]);
      // …and never ends unless the gateway hangs up.
    });
    const g = await gateway([up.url]);
    const abort = new AbortController();
    const res = await chat(g, { stream: true }, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await Promise.race([up.seen[0]!.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('upstream call not stopped')), 3000))]);
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ stream: true, status_code: 499 });
    expect(g.limiter.calls.slice(1)).toEqual(['refund']);
  });

  it('refuses over a limit with 429, retry-after and the rate-limit headers, without calling a replica', async () => {
    const up = await replica(json);
    const g = await gateway([up.url]);
    g.limiter.blocked = true;
    const res = await chat(g);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('42');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    expect(up.seen).toHaveLength(0);
    const logs = await logsOf(g, 1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ status_code: 429 });
  });

  it('answers a bad body and an unknown model in OpenAI’s shape', async () => {
    const up = await replica(json);
    const g = await gateway([up.url]);
    const bad = await chat(g, { messages: [] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'messages' } });
    const unknown = await chat(g, { model: 'nope' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
    const nokey = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(nokey.status).toBe(401);
    expect(await nokey.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('closes the log writer (which sends what it holds) when the app closes, after the last entry', async () => {
    const up = await replica(json);
    const g = await gateway([up.url]);
    expect((await chat(g)).status).toBe(200);
    await logsOf(g, 1);
    await g.app.close();
    expect(g.closed).toEqual([1]);
  });
});

describe('estimateTokens', () => {
  it('counts the prompt as its JSON would (4 characters a token) plus what the model may write', () => {
    const bodies: Record<string, unknown>[] = [
      { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Summarise Hamlet.' }], max_tokens: 64 },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }, { role: 'assistant', content: null, tool_calls: [] }], n: 2 },
      { prompt: 'Once upon a time', max_completion_tokens: 10 },
      { input: ['a', 'bb', 'ccc'] },
      { prompt: [1, 2, 3] },
      { messages: [] },
    ];
    for (const body of bodies) {
      const prompt = Math.ceil(JSON.stringify(body.messages ?? body.prompt ?? body.input).length / 4);
      const out = Number(body.max_completion_tokens ?? body.max_tokens ?? 256) * Number(body.n ?? 1);
      expect(estimateTokens(body), JSON.stringify(body)).toBe(prompt + out);
    }
  });
});
