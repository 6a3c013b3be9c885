// Inference gateway: the OpenAI-compatible /v1 surface. Each request runs one fixed pipeline:
// API key → context → route → upstream (stream or not). Errors use OpenAI's shape.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import { mayUseModel } from '../../lib/api-key-context.js';
import { parseApiKey } from '../../lib/crypto.js';
import type { InferenceLogWriter } from '../../lib/inference-log.js';
import { limitsFor, type Admission, type Limiter, type LimitState, type Reservation } from '../../lib/limits.js';
import { AppError } from '../../lib/errors.js';
import { bearerToken } from '../../lib/http/auth.js';
import { commonPlugin, describeError } from '../../lib/http/common.js';
import { labelled } from '../../lib/http/labelled.js';
import type { ClusterAdapter } from '../../adapters/clusters/types.js';
import type { ContextCache, KeyContext } from './context-cache.js';
import type { Replica, RoutingTable } from './routing-table.js';
import { UpstreamPool, type UpstreamResponse } from './upstream.js';

declare module 'fastify' {
  interface FastifyRequest {
    keyContext: KeyContext | null;
  }
}

export interface InferenceAppOptions {
  contexts: ContextCache;
  routes: RoutingTable;
  /** The clusters an org may see (ALCF `/v1/clusters`). */
  clusters?: (orgId: string) => Promise<ClusterAdapter[]>;
  upstreamTimeoutMs: number;
  /** Keep-alive connections to the replicas (one is made when absent). */
  upstream?: UpstreamPool;
  /** Rate limits and quotas (Redis). Absent: none are enforced. */
  limiter?: Limiter;
  /**
   * When Redis cannot be reached to count a request: `closed` (default) answers 503 rather than
   * serve unmetered traffic; `open` serves it uncounted (and logs a warning).
   */
  limiterFailureMode?: 'closed' | 'open';
  /** Where each request's log goes (a Redis Stream, written to Postgres by the filtration gateway). */
  logs?: InferenceLogWriter;
  ready?: () => Promise<Record<string, boolean>>;
}

const Message = z.looseObject({
  role: z.enum(['system', 'user', 'assistant', 'tool', 'developer', 'function']),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
});

const ChatBody = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(Message).min(1).max(10_000),
  stream: z.boolean().optional(),
  n: z.number().int().min(1).max(16).optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  max_completion_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});

const CompletionBody = z.looseObject({
  model: z.string().min(1).max(256),
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
});

const EmbeddingBody = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048), z.array(z.number()), z.array(z.array(z.number()))]),
});

type OpenAiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'api_error';

export function openAiError(status: number, message: string, code: string | null, param: string | null = null) {
  const type: OpenAiErrorType =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 404
          ? 'invalid_request_error'
          : status === 429
            ? 'rate_limit_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

function sendOpenAiError(req: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = describeError(err);
  if (e.status >= 500 && !(err instanceof AppError)) req.log.error({ err }, 'request failed');
  const code =
    e.status === 401 ? 'invalid_api_key' : e.code === 'bad_request' || e.code === 'internal' ? null : (e.details?.openai_code as string | undefined) ?? e.code;
  const field = typeof e.details?.field === 'string' ? e.details.field.replace(/^body\./, '') : null;
  return reply.status(e.status).send(openAiError(e.status, e.message, code, field));
}

export async function inferenceApp(fastify: FastifyInstance, opts: InferenceAppOptions) {
  const { contexts, routes } = opts;
  const upstreamPool = opts.upstream ?? new UpstreamPool();
  if (!opts.upstream) fastify.addHook('onClose', async () => upstreamPool.close());
  await fastify.register(commonPlugin, {
    service: 'inference',
    title: 'Inferia inference gateway (OpenAI-compatible)',
    ready: opts.ready,
    errorHandler: (err, req, reply) => sendOpenAiError(req, reply, err),
    notFoundHandler: (req, reply) =>
      reply.status(404).send(openAiError(404, `Unknown request URL: ${req.method} ${req.url.split('?')[0]}`, 'unknown_url')),
  });
  // The key is checked before the body is validated: an unauthenticated caller learns nothing.
  fastify.decorateRequest('keyContext', null);
  fastify.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (!req.url.startsWith('/v1/')) return;
    const key = bearerToken(req) ?? (req.headers['x-api-key'] as string | undefined);
    if (!key || !parseApiKey(key)) throw new AppError('unauthorized', 'Incorrect API key provided.');
    req.keyContext = await contexts.resolve(key);
  });
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  // Per model and status: what operators alert on (the common plugin counts per route).
  const requestsByModel = new Counter({
    name: 'inferia_inference_requests_total',
    help: 'Inference requests by model and HTTP status',
    labelNames: ['model', 'status', 'stream'],
    registers: [fastify.metrics],
  });
  const latencyByModel = new Histogram({
    name: 'inferia_inference_duration_seconds',
    help: 'Inference request duration by model, to the last byte',
    labelNames: ['model', 'stream'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [fastify.metrics],
  });
  const ttfbByModel = new Histogram({
    name: 'inferia_inference_ttfb_seconds',
    help: 'Time to the upstream answer starting, by model',
    labelNames: ['model', 'stream'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [fastify.metrics],
  });
  const tokensByModel = new Counter({
    name: 'inferia_inference_tokens_total',
    help: 'Tokens by model and kind',
    labelNames: ['model', 'kind'],
    registers: [fastify.metrics],
  });

  const [requestsOf, latencyOf, ttfbOf, tokensOf] = [labelled(requestsByModel), labelled(latencyByModel), labelled(ttfbByModel), labelled(tokensByModel)];

  const authorize = async (req: FastifyRequest): Promise<KeyContext> => {
    if (!req.keyContext) throw new AppError('unauthorized', 'Incorrect API key provided.');
    return req.keyContext;
  };

  const routeFor = (ctx: KeyContext, model: string): Replica[] => {
    if (ctx.allowed_models.length > 0 && !ctx.allowed_models.includes(model)) {
      throw new AppError('forbidden', `This API key is not allowed to use the model \`${model}\`.`, { openai_code: 'model_not_allowed', field: 'model' });
    }
    const replicas = routes.replicas(ctx.org_id, model);
    if (replicas.length > 0 && !mayUseModel(ctx, replicas[0]!.restriction)) {
      throw new AppError('forbidden', `The model \`${model}\` is restricted to certain groups or e-mail domains.`, { openai_code: 'model_not_allowed', field: 'model' });
    }
    if (replicas.length === 0) {
      throw new AppError('not_found', `The model \`${model}\` does not exist or has no running deployment.`, {
        openai_code: 'model_not_found',
        field: 'model',
      });
    }
    return replicas;
  };

  /** Sends the request to a replica; on a connection failure before any byte, tries another. */
  /** Admits the request against every limit of its key and org, or answers 429 / 503. */
  const admit = async (req: FastifyRequest, reply: FastifyReply, ctx: KeyContext, estimatedTokens: number): Promise<Reservation | undefined> => {
    const limits = limitsFor(ctx);
    if (!opts.limiter || limits.length === 0) return undefined;
    let admission: Admission;
    try {
      admission = await opts.limiter.admit(limits, estimatedTokens);
    } catch (err) {
      if (opts.limiterFailureMode === 'open') {
        req.log.warn({ err }, 'rate limiter unavailable: serving unmetered (LIMITER_FAILURE_MODE=open)');
        return undefined;
      }
      throw new AppError('unavailable', 'Rate limiting is unavailable; try again shortly.', { openai_code: 'rate_limiter_unavailable' });
    }
    setRateLimitHeaders(reply, admission.states);
    if (!admission.admitted) {
      const b = admission.blockedBy;
      const quota = b.limit.period !== 'minute';
      reply.header('retry-after', String(b.resetSeconds));
      throw new AppError(
        'rate_limited',
        quota
          ? `You exceeded your ${b.limit.period}ly ${b.limit.unit} quota (${b.limit.limit}) for this ${b.limit.scope === 'key' ? 'API key' : 'organization'}.`
          : `Rate limit reached: ${b.limit.limit} ${b.limit.unit} per minute for this ${b.limit.scope === 'key' ? 'API key' : 'organization'}. Retry in ${b.resetSeconds} s.`,
        { openai_code: quota ? 'insufficient_quota' : 'rate_limit_exceeded', retry_after: b.resetSeconds },
      );
    }
    return admission.reservation;
  };

  const proxy = async (req: FastifyRequest, reply: FastifyReply, ctx: KeyContext, path: string, body: { model: string; stream?: boolean }) => {
    const started = performance.now();
    const record = { deploymentId: null as string | null, replica: null as string | null, usage: undefined as Usage | undefined, ttfbMs: null as number | null };
    // One log entry per request, written when the response is over (served, refused or broken).
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      const stream = String(body.stream === true);
      requestsOf(body.model, String(status), stream).inc();
      latencyOf(body.model, stream).observe((performance.now() - started) / 1000);
      if (record.ttfbMs !== null) ttfbOf(body.model, stream).observe(record.ttfbMs / 1000);
      if (record.usage) {
        tokensOf(body.model, 'prompt').inc(record.usage.prompt);
        tokensOf(body.model, 'completion').inc(record.usage.completion);
      }
      if (!opts.logs) return;
      opts.logs.write({
        request_id: String(req.id),
        org_id: ctx.org_id,
        api_key_id: ctx.api_key_id,
        model: body.model,
        deployment_id: record.deploymentId,
        replica: record.replica,
        stream: body.stream === true,
        prompt_tokens: record.usage?.prompt ?? 0,
        completion_tokens: record.usage?.completion ?? 0,
        latency_ms: Math.round(performance.now() - started),
        ttfb_ms: record.ttfbMs,
        status_code: reply.raw.writableFinished ? status : status >= 400 ? status : 499,
        error_code: status >= 400 ? String(status) : null,
        guardrails: [],
        created_at: new Date().toISOString(),
      });
    });
    routeFor(ctx, body.model);
    const reservation = await admit(req, reply, ctx, estimateTokens(body));
    let settled = false;
    const settle = (usage: Usage | undefined) => {
      if (usage) record.usage = usage;
      if (!reservation || settled) return;
      settled = true;
      void (usage === undefined ? opts.limiter!.refund(reservation) : opts.limiter!.settle(reservation, usage.prompt + usage.completion)).catch((err: unknown) =>
        req.log.warn({ err }, 'could not settle token usage'),
      );
    };
    const tried = new Set<string>();
    const abort = new AbortController();
    // The response, not the request: a request's 'close' fires as soon as its body has been read.
    reply.raw.once('close', () => {
      if (!reply.raw.writableEnded) abort.abort();
    });
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const replica = routes.pick(ctx.org_id, body.model, tried);
      if (!replica) break;
      tried.add(replica.nodeId);
      replica.inflight += 1;
      record.deploymentId = replica.deploymentId;
      record.replica = replica.nodeId;
      let upstream: UpstreamResponse;
      try {
        upstream = await upstreamPool.post(replica.url, path, JSON.stringify(body), {
          headers: { 'content-type': 'application/json', 'x-request-id': req.id },
          timeoutMs: opts.upstreamTimeoutMs,
          signal: abort.signal,
        });
      } catch (err) {
        replica.inflight -= 1;
        lastError = err;
        if (abort.signal.aborted) return reply;
        routes.reportFailure(replica.nodeId);
        continue;
      }
      if (upstream.status >= 500 && attempt < 2) {
        // Nothing has reached the client yet: another replica may answer.
        replica.inflight -= 1;
        routes.reportFailure(replica.nodeId);
        lastError = new Error(`replica answered ${upstream.status}`);
        await upstream.discard().catch(() => undefined);
        continue;
      }
      routes.reportSuccess(replica.nodeId);
      try {
        record.ttfbMs = Math.round(performance.now() - started);
        return await relay(reply, upstream, body.stream === true, (usage) => settle(usage));
      } finally {
        replica.inflight -= 1;
        settle(undefined); // nothing reported usage: the call failed, give the reservation back
      }
    }
    settle(undefined);
    req.log.warn({ err: lastError, model: body.model }, 'no replica answered');
    throw new AppError('upstream_error', `No replica of \`${body.model}\` could be reached.`, { openai_code: 'upstream_unavailable' });
  };

  app.get('/v1/models', async (req) => {
    const ctx = await authorize(req);
    const models = routes
      .models(ctx.org_id)
      .filter((m) => ctx.allowed_models.length === 0 || ctx.allowed_models.includes(m))
      .filter((m) => mayUseModel(ctx, routes.replicas(ctx.org_id, m)[0]!.restriction));
    const created = Math.floor(routes.loadedAt / 1000);
    return { object: 'list', data: models.map((id) => ({ id, object: 'model', created, owned_by: 'inferia' })) };
  });

  app.get('/v1/models/:model', { schema: { params: z.object({ model: z.string().min(1).max(256) }) } }, async (req) => {
    const ctx = await authorize(req);
    routeFor(ctx, req.params.model);
    return { id: req.params.model, object: 'model', created: Math.floor(routes.loadedAt / 1000), owned_by: 'inferia' };
  });

  const visibleClusters = async (ctx: KeyContext) =>
    (await (opts.clusters?.(ctx.org_id) ?? Promise.resolve([]))).filter((c) => mayUseModel(ctx, { allowed_groups: c.allowedGroups, allowed_domains: c.allowedDomains }));

  app.get('/v1/clusters', async (req) => {
    const ctx = await authorize(req);
    const clusters = await visibleClusters(ctx);
    return { object: 'list', data: clusters.map((c) => ({ id: c.name, object: 'cluster' })) };
  });

  app.get('/v1/clusters/:cluster/jobs', { schema: { params: z.object({ cluster: z.string().min(1).max(200) }) } }, async (req) => {
    const ctx = await authorize(req);
    const cluster = (await visibleClusters(ctx)).find((c) => c.name === req.params.cluster);
    if (!cluster) throw new AppError('not_found', `Cluster \`${req.params.cluster}\` does not exist.`, { openai_code: 'cluster_not_found', field: 'cluster' });
    const out = await cluster.getJobs();
    if (!out.jobs) throw new AppError('upstream_error', out.error_message ?? 'cluster status unavailable', { openai_code: 'cluster_unavailable' });
    return out.jobs;
  });

  app.post('/v1/chat/completions', { schema: { body: ChatBody } }, async (req, reply) => {
    const ctx = await authorize(req);
    return proxy(req, reply, ctx, '/v1/chat/completions', req.body);
  });

  app.post('/v1/completions', { schema: { body: CompletionBody } }, async (req, reply) => {
    const ctx = await authorize(req);
    return proxy(req, reply, ctx, '/v1/completions', req.body);
  });

  app.post('/v1/embeddings', { schema: { body: EmbeddingBody } }, async (req, reply) => {
    const ctx = await authorize(req);
    return proxy(req, reply, ctx, '/v1/embeddings', { ...req.body, stream: false });
  });
}

/** Copies an upstream answer to the client. A stream that breaks mid-way ends with an error event, never silently. */
interface Usage {
  prompt: number;
  completion: number;
}

async function relay(reply: FastifyReply, upstream: UpstreamResponse, stream: boolean, onUsage: (usage: Usage) => void): Promise<FastifyReply> {
  const contentType = upstream.headers['content-type'] ?? 'application/json';
  if (!stream || !contentType.includes('text/event-stream')) {
    const text = await upstream.text();
    if (upstream.status >= 500) {
      return reply.status(502).send(openAiError(502, `upstream replica failed with status ${upstream.status}`, 'upstream_error'));
    }
    if (upstream.ok) onUsage(usageFromJson(text));
    return reply.status(upstream.status).header('content-type', contentType).send(text);
  }
  const meter = new StreamMeter();
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(upstream.status, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': String(reply.request.id),
  });
  try {
    for await (const chunk of upstream.body) {
      meter.feed(chunk as Buffer);
      if (!raw.write(chunk)) await drained(raw);
    }
    onUsage(meter.usage());
  } catch (err) {
    if (!raw.destroyed) {
      const event = openAiError(502, `upstream stream broke: ${(err as Error).message}`, 'upstream_stream_error');
      raw.write(`data: ${JSON.stringify(event)}\n\n`);
    }
  }
  raw.end();
  return reply;
}

/** Resolves when the client can take more, or has gone (then the upstream call is being aborted). */
function drained(raw: FastifyReply['raw']): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
}

export const newRequestId = () => `req_${randomUUID().replace(/-/g, '')}`;

/** Prompt size (about 4 characters a token) plus the most the model may write. */
export function estimateTokens(body: Record<string, unknown>): number {
  const prompt = Math.ceil(JSON.stringify(body.messages ?? body.prompt ?? body.input ?? '').length / 4);
  const maxOut = Number(body.max_completion_tokens ?? body.max_tokens ?? 256);
  const n = Number(body.n ?? 1);
  return prompt + (Number.isFinite(maxOut) ? maxOut : 256) * (Number.isFinite(n) ? n : 1);
}

function usageFromJson(text: string): Usage {
  try {
    const usage = (JSON.parse(text) as { usage?: { prompt_tokens?: number; completion_tokens?: number } }).usage;
    if (typeof usage?.prompt_tokens === 'number') return { prompt: usage.prompt_tokens, completion: usage.completion_tokens ?? 0 };
  } catch {
    /* fall through to an estimate */
  }
  return { prompt: 0, completion: Math.ceil(text.length / 4) };
}

/** Counts a stream's tokens: the usage chunk when the upstream sends one, else its content size. */
class StreamMeter {
  private buffered = '';
  private contentChars = 0;
  private reported: Usage | undefined;
  feed(chunk: Buffer) {
    this.buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (!line.startsWith('data:') || line === 'data: [DONE]') continue;
      try {
        const event = JSON.parse(line.slice(5)) as {
          usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
          choices?: { delta?: { content?: string } }[];
        };
        if (typeof event.usage?.prompt_tokens === 'number') this.reported = { prompt: event.usage.prompt_tokens, completion: event.usage.completion_tokens ?? 0 };
        for (const c of event.choices ?? []) this.contentChars += c.delta?.content?.length ?? 0;
      } catch {
        /* not JSON: not ours to count */
      }
    }
  }
  usage(): Usage {
    return this.reported ?? { prompt: 0, completion: Math.ceil(this.contentChars / 4) };
  }
}

/** OpenAI's x-ratelimit-* headers from the tightest per-minute limits. */
function setRateLimitHeaders(reply: FastifyReply, states: LimitState[]) {
  for (const unit of ['requests', 'tokens'] as const) {
    let tightest: LimitState | undefined;
    for (const s of states) if (s.limit.unit === unit && s.limit.period === 'minute' && (!tightest || s.remaining < tightest.remaining)) tightest = s;
    if (!tightest) continue;
    reply.header(`x-ratelimit-limit-${unit}`, String(tightest.limit.limit));
    reply.header(`x-ratelimit-remaining-${unit}`, String(tightest.remaining));
    reply.header(`x-ratelimit-reset-${unit}`, `${tightest.resetSeconds}s`);
  }
}
