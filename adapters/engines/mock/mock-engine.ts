// THE MOCK ENGINE — a test engine, not a model. A small deterministic OpenAI-compatible server
// that stands in for vLLM where no GPU or weights exist (this machine, CI, demos). Providers
// start it exactly as they would start a real engine; it reports to the orchestration gateway
// through POST /inventory/heartbeat like a real node agent would.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MockEngineOptions {
  model: string;
  host?: string;
  port?: number;
  /** The URL others reach this engine at (a Service or load balancer); default: where it listens. */
  publicUrl?: string;
  /** Delay before listening, like a real engine loading weights. */
  startupDelayMs?: number;
  /** Per-token delay for streams, to look like a real engine in demos (0 in tests). */
  tokenDelayMs?: number;
  heartbeat?: {
    url: string;
    token: string;
    provider: string;
    providerInstanceId: string;
    intervalMs: number;
  };
  log?: (line: string) => void;
}

interface ChatMessage {
  role?: string;
  content?: unknown;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p === 'object' && 'text' in p ? String((p as { text: unknown }).text) : '')).join(' ');
  }
  return '';
}

/** The deterministic answer: names the model and echoes the last user message. */
export function mockReply(model: string, messages: ChatMessage[]): string {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const said = textOf(lastUser?.content).slice(0, 2000);
  return `This is the mock engine serving ${model}. You said: ${said}`;
}

function tokenCount(text: string): number {
  return Math.max(1, words(text).length);
}

function embeddingFor(input: string, dims = 16): number[] {
  const digest = createHash('sha256').update(input).digest();
  const v = Array.from({ length: dims }, (_, i) => (digest[i % digest.length]! - 128) / 128);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Number((x / norm).toFixed(6)));
}

function readBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch {
        reject(new Error('invalid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function openAiError(res: ServerResponse, status: number, message: string, param: string | null = null) {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', param, code: null } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startMockEngine(options: MockEngineOptions) {
  const { model } = options;
  const print = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Lines also go to the orchestration gateway (POST /inventory/logs), batched, like a node agent's
  // log shipper: that is what GET /deployment/logs and its WebSocket stream serve.
  const shipped: { ts: string; line: string }[] = [];
  const log = (line: string) => {
    print(line);
    if (options.heartbeat && shipped.length < 5000) shipped.push({ ts: new Date().toISOString(), line });
  };
  const created = Math.floor(Date.now() / 1000);
  let requests = 0;

  const chat = async (req: IncomingMessage, res: ServerResponse) => {
    const body = (await readBody(req)) as Record<string, unknown>;
    if (!Array.isArray(body.messages) || body.messages.length === 0) return openAiError(res, 400, "'messages' must be a non-empty array", 'messages');
    const n = typeof body.n === 'number' && body.n >= 1 && body.n <= 8 ? Math.floor(body.n) : 1;
    const reply = mockReply(model, body.messages as ChatMessage[]);
    const promptTokens = (body.messages as ChatMessage[]).reduce((sum, m) => sum + tokenCount(textOf(m.content)), 0);
    const completionTokens = tokenCount(reply);
    const id = `chatcmpl-mock-${createHash('sha1').update(`${Date.now()}-${requests}`).digest('hex').slice(0, 20)}`;
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens * n, total_tokens: promptTokens + completionTokens * n };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, choices, ...extra })}\n\n`);
      const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      for (let i = 0; i < n; i++) chunk([{ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], includeUsage ? { usage: null } : {});
      const parts = reply.split(/(?<=\s)/);
      for (const part of parts) {
        if (options.tokenDelayMs) await sleep(options.tokenDelayMs);
        for (let i = 0; i < n; i++) chunk([{ index: i, delta: { content: part }, logprobs: null, finish_reason: null }], includeUsage ? { usage: null } : {});
      }
      for (let i = 0; i < n; i++) chunk([{ index: i, delta: {}, logprobs: null, finish_reason: 'stop' }], includeUsage ? { usage: null } : {});
      if (includeUsage) chunk([], { usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: Array.from({ length: n }, (_, index) => ({
        index,
        message: { role: 'assistant', content: reply, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      })),
      usage,
    });
  };

  const completions = async (req: IncomingMessage, res: ServerResponse) => {
    const body = (await readBody(req)) as Record<string, unknown>;
    const prompt = Array.isArray(body.prompt) ? body.prompt.map(String).join('\n') : String(body.prompt ?? '');
    const text = ` This is the mock engine serving ${model}. Prompt was: ${prompt.slice(0, 2000)}`;
    sendJson(res, 200, {
      id: `cmpl-mock-${requests}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: tokenCount(prompt), completion_tokens: tokenCount(text), total_tokens: tokenCount(prompt) + tokenCount(text) },
    });
  };

  const embeddings = async (req: IncomingMessage, res: ServerResponse) => {
    const body = (await readBody(req)) as Record<string, unknown>;
    const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')];
    const tokens = inputs.reduce((s, t) => s + tokenCount(t), 0);
    sendJson(res, 200, {
      object: 'list',
      model,
      data: inputs.map((text, index) => {
        const vector = embeddingFor(text);
        // The official clients ask for base64 (little-endian float32), as OpenAI serves it.
        const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
        return { object: 'embedding', index, embedding };
      }),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  };

  const server = createServer((req, res) => {
    const started = Date.now();
    requests += 1;
    const path = (req.url ?? '/').split('?')[0];
    res.on('finish', () => log(`[mock-engine] ${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`));
    const route = async () => {
      if (req.method === 'GET' && (path === '/health' || path === '/healthz')) return sendJson(res, 200, { status: 'ok', model });
      if (req.method === 'GET' && path === '/v1/models') {
        return sendJson(res, 200, { object: 'list', data: [{ id: model, object: 'model', created, owned_by: 'inferia-mock' }] });
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res);
      if (req.method === 'POST' && path === '/v1/completions') return completions(req, res);
      if (req.method === 'POST' && path === '/v1/embeddings') return embeddings(req, res);
      return openAiError(res, 404, `no route ${req.method} ${path}`);
    };
    route().catch((err: Error) => {
      if (!res.headersSent) openAiError(res, 400, err.message);
      else res.end();
    });
  });
  server.keepAliveTimeout = 65_000;

  // A real engine takes a while to load its weights; demos and tests can ask for the same.
  if (options.startupDelayMs) await sleep(options.startupDelayMs);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;
  log(`[mock-engine] serving ${model} on ${url}`);

  let timer: NodeJS.Timeout | undefined;
  let lastReported = '';
  let closed = false;
  /** Reports READY; true when the gateway acknowledged it. */
  const beat = async (state: string): Promise<boolean> => {
    const hb = options.heartbeat;
    if (!hb) return true;
    let outcome: string;
    let ok = false;
    try {
      const res = await fetch(hb.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${hb.token}` },
        body: JSON.stringify({
          provider: hb.provider,
          provider_instance_id: hb.providerInstanceId,
          gpu_allocated: 0,
          vcpu_allocated: 1,
          ram_gb_allocated: 0.1,
          health_score: 100,
          state,
          expose_url: options.publicUrl ?? url,
        }),
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      ok = res.ok;
      outcome = `heartbeat ${state} → ${res.status}`;
    } catch (err) {
      outcome = `heartbeat failed: ${(err as Error).message}`;
    }
    if (outcome !== lastReported) log(`[mock-engine] ${outcome}`);
    lastReported = outcome;
    return ok;
  };
  const hb = options.heartbeat;
  let shipping: NodeJS.Timeout | undefined;
  const ship = async () => {
    if (!hb || shipped.length === 0) return;
    const batch = shipped.splice(0, 500);
    try {
      const res = await fetch(hb.url.replace(/\/heartbeat$/, '/logs'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${hb.token}` },
        body: JSON.stringify({ provider: hb.provider, provider_instance_id: hb.providerInstanceId, lines: batch }),
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      if (!res.ok && res.status >= 500) shipped.unshift(...batch); // keep them for the next try
    } catch {
      shipped.unshift(...batch.slice(-1000));
    }
  };
  if (hb) shipping = setInterval(() => void ship(), 1000);
  if (hb) {
    // Until the gateway knows this node (its row is written just after the process starts),
    // retry quickly; then settle to the configured interval.
    let acknowledged = false;
    const loop = async () => {
      if (closed) return;
      const ok = await beat('READY');
      acknowledged ||= ok;
      if (!closed) timer = setTimeout(() => void loop(), acknowledged && ok ? hb.intervalMs : Math.min(500, hb.intervalMs));
    };
    void loop();
  }

  return {
    url,
    port: address.port,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (shipping) clearInterval(shipping);
      await ship();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

/** Entry point when a provider starts the engine as its own process. */
async function main() {
  const env = process.env;
  const model = env.INFERIA_ENGINE_MODEL ?? 'mock';
  const hbUrl = env.INFERIA_HEARTBEAT_URL;
  const engine = await startMockEngine({
    model,
    host: env.INFERIA_ENGINE_HOST ?? '127.0.0.1',
    port: Number(env.INFERIA_ENGINE_PORT ?? 0),
    tokenDelayMs: Number(env.INFERIA_MOCK_TOKEN_DELAY_MS ?? 0),
    publicUrl: env.INFERIA_ENGINE_PUBLIC_URL || undefined,
    startupDelayMs: Number(env.INFERIA_MOCK_STARTUP_DELAY_MS ?? 0),
    heartbeat: hbUrl
      ? {
          url: hbUrl,
          token: env.INFERIA_NODE_TOKEN ?? '',
          provider: env.INFERIA_PROVIDER ?? 'local',
          providerInstanceId: env.INFERIA_PROVIDER_INSTANCE_ID ?? 'mock',
          intervalMs: Number(env.INFERIA_HEARTBEAT_INTERVAL_MS ?? 5000),
        }
      : undefined,
  });
  const stop = () => {
    console.log('[mock-engine] stopping');
    void engine.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
