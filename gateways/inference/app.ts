// Inference gateway: the OpenAI-compatible /v1 surface. Each request runs one fixed pipeline, in
// the seed's order: API key → context → rate limits and quotas → input guardrails → prompt
// processing (templates, RAG) → route (replicas, providers, static endpoints; fallback models) →
// upstream (stream or not) → output guardrails → usage and log. Errors use OpenAI's shape.
import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ON_BEHALF_OF_HEADER, mayUseModel } from '../../lib/api-key-context.js';
import { parseApiKey } from '../../lib/crypto.js';
import type { InferenceLogWriter } from '../../lib/inference-log.js';
import { limitsFor, type Admission, type Limiter, type LimitState, type Reservation } from '../../lib/limits.js';
import { AppError } from '../../lib/errors.js';
import { bearerToken } from '../../lib/http/auth.js';
import { commonPlugin, describeError } from '../../lib/http/common.js';
import { HotCounter, HotHistogram } from '../../lib/http/hot-metrics.js';
import type { ClusterAdapter } from '../../adapters/clusters/types.js';
import { filesBatchesRoutes, type FilesBatchesOptions } from './batches.js';
import { Cancellation } from './cancellation.js';
import type { ContextCache, KeyContext } from './context-cache.js';
import { createPolicyCache, summariseVerdicts, type CompiledPolicy, type GuardrailVerdict, type JudgeFn } from './guardrails/index.js';
import { guardJsonAnswer, SseOutputGuard, type AnswerKind } from './output-guard.js';
import { InferiaOptions, type PromptProcessor, type RagSource } from './prompt.js';
import type { Replica, RoutingTable } from './routing-table.js';
import { sendToTarget, type UpstreamAnswer } from './targets.js';
import { atEndOfTurn, endOfTurn, holdUntilEndOfTurn } from './turn-writes.js';
import { UpstreamPool } from './upstream.js';

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
  /** Prompt templates and RAG (`inferia` in a request body). Absent: such requests get 400. */
  prompts?: PromptProcessor;
  ready?: () => Promise<Record<string, boolean>>;
  /** The Files and Batches API (`/v1/files`, `/v1/batches`). Absent: those routes answer 404. */
  filesBatches?: FilesBatchesOptions;
}

const Message = z.looseObject({
  role: z.enum(['system', 'user', 'assistant', 'tool', 'developer', 'function']),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
});

const ChatBody = z.looseObject({
  model: z.string().min(1).max(256),
  inferia: InferiaOptions.optional(),
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
  inferia: InferiaOptions.optional(),
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
    e.status === 401
      ? 'invalid_api_key'
      : ((e.details?.openai_code as string | undefined) ?? (e.code === 'bad_request' || e.code === 'internal' ? null : e.code));
  // OpenAI's `param` names the field alone: `limit`, not `querystring.limit`.
  const field = typeof e.details?.field === 'string' ? e.details.field.replace(/^(body|querystring|params)\./, '') : null;
  return reply.status(e.status).send(openAiError(e.status, e.message, code, field));
}

export async function inferenceApp(fastify: FastifyInstance, opts: InferenceAppOptions) {
  const { contexts, routes } = opts;
  const upstreamPool = opts.upstream ?? new UpstreamPool();
  if (!opts.upstream) fastify.addHook('onClose', async () => upstreamPool.close());
  // Graceful shutdown: log entries still in memory (deferred, or buffered while Redis was away) go out.
  if (opts.logs) {
    const logs = opts.logs;
    fastify.addHook('onClose', () => logs.close());
  }
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
  // A callback hook: a key whose context is cached (the steady state) costs no promise.
  fastify.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (!req.url.startsWith('/v1/')) return done();
    const resolved = (context: KeyContext) => {
      req.keyContext = context;
      done();
    };
    const key = bearerToken(req) ?? (req.headers['x-api-key'] as string | undefined);
    const onBehalfOf = req.headers[ON_BEHALF_OF_HEADER];
    if (typeof onBehalfOf === 'string') {
      contexts.resolveOnBehalfOf(key, onBehalfOf).then(resolved, done); // the batch worker, with the service token
      return;
    }
    if (!key || !parseApiKey(key)) return done(new AppError('unauthorized', 'Incorrect API key provided.'));
    let cached: KeyContext | undefined;
    try {
      cached = contexts.cached(key);
    } catch (err) {
      return done(err as Error); // a key known bad (unknown, revoked, expired)
    }
    if (cached) return resolved(cached);
    contexts.resolve(key).then(resolved, done);
  });
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  if (opts.filesBatches) await fastify.register(filesBatchesRoutes, opts.filesBatches);

  // Per model and status: what operators alert on (the common plugin counts per route).
  const requestsByModel = new HotCounter({
    name: 'inferia_inference_requests_total',
    help: 'Inference requests by model and HTTP status',
    labelNames: ['model', 'status', 'stream'],
    registers: [fastify.metrics],
  });
  const latencyByModel = new HotHistogram({
    name: 'inferia_inference_duration_seconds',
    help: 'Inference request duration by model, to the last byte',
    labelNames: ['model', 'stream'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [fastify.metrics],
  });
  const ttfbByModel = new HotHistogram({
    name: 'inferia_inference_ttfb_seconds',
    help: 'Time to the upstream answer starting, by model',
    labelNames: ['model', 'stream'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [fastify.metrics],
  });
  const tokensByModel = new HotCounter({
    name: 'inferia_inference_tokens_total',
    help: 'Tokens by model and kind',
    labelNames: ['model', 'kind'],
    registers: [fastify.metrics],
  });
  const guardrailActions = new HotCounter({
    name: 'inferia_guardrail_actions_total',
    help: 'Guardrail verdicts other than pass, by guardrail and verdict (block, redact)',
    labelNames: ['guardrail', 'verdict'],
    registers: [fastify.metrics],
  });


  const authorize = (req: FastifyRequest): KeyContext => {
    if (!req.keyContext) throw new AppError('unauthorized', 'Incorrect API key provided.');
    return req.keyContext;
  };

  /** Who may use a target: the key's owner's groups and e-mail domain against the target's restriction. */
  const admitsFor = (ctx: KeyContext) => (r: Replica) => mayUseModel(ctx, r.restriction);

  /**
   * The models to try, in order: the requested one, then the key's fallbacks. The requested model
   * must be usable (403 / 404 otherwise, naming it); a fallback the key may not use is skipped.
   */
  const modelsFor = (ctx: KeyContext, model: string): string[] => {
    const allowed = (m: string) => ctx.allowed_models.length === 0 || ctx.allowed_models.includes(m);
    if (!allowed(model)) {
      throw new AppError('forbidden', `This API key is not allowed to use the model \`${model}\`.`, { openai_code: 'model_not_allowed', field: 'model' });
    }
    const admits = admitsFor(ctx);
    const fallbacks = (ctx.fallback_models ?? []).filter((m) => m !== model && allowed(m) && routes.replicas(ctx.org_id, m).some(admits));
    const targets = routes.replicas(ctx.org_id, model);
    if (targets.length > 0 && !targets.some(admits) && fallbacks.length === 0) {
      throw new AppError('forbidden', `The model \`${model}\` is restricted to certain groups or e-mail domains.`, { openai_code: 'model_not_allowed', field: 'model' });
    }
    if (targets.length === 0 && fallbacks.length === 0) {
      throw new AppError('not_found', `The model \`${model}\` does not exist or has no running deployment.`, {
        openai_code: 'model_not_found',
        field: 'model',
      });
    }
    return [model, ...fallbacks];
  };

  /**
   * Admits the request against every limit of its key and org, or answers 429 / 503: at once when
   * this gateway holds leases of its counters, else once Redis has answered.
   */
  const admit = (req: FastifyRequest, reply: FastifyReply, ctx: KeyContext, estimatedTokens: number): Reservation | undefined | Promise<Reservation | undefined> => {
    const limits = limitsFor(ctx);
    if (!opts.limiter || limits.length === 0) return undefined;
    const admission = opts.limiter.admit(limits, estimatedTokens);
    if (!(admission instanceof Promise)) return admitted(reply, admission); // from this gateway's leases
    return admission.then(
      (admission) => admitted(reply, admission),
      (err: unknown) => {
        if (opts.limiterFailureMode === 'open') {
          req.log.warn({ err }, 'rate limiter unavailable: serving unmetered (LIMITER_FAILURE_MODE=open)');
          return undefined;
        }
        throw new AppError('unavailable', 'Rate limiting is unavailable; try again shortly.', { openai_code: 'rate_limiter_unavailable' });
      },
    );
  };

  const admitted = (reply: FastifyReply, admission: Admission): Reservation => {
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

  // Guardrail policies compile once per key-context refresh (the cache hands out the same array).
  const policies = createPolicyCache();

  /** The LLM judge's way to its guard model: routed within the caller's org like any request, not metered. */
  const judgeFor =
    (ctx: KeyContext, requestId: string): JudgeFn =>
    async (prompt, { model, signal }) => {
      if (!model) throw new Error('the llm_judge rule names no model (options.model)');
      const target = routes.pick(ctx.org_id, model, new Set(), admitsFor(ctx));
      if (!target) throw new Error(`guard model ${model} has nothing running`);
      const answer = await sendToTarget(target, '/chat/completions', { model, messages: [{ role: 'user', content: prompt }], max_tokens: 32, temperature: 0 }, {
        signal,
        timeoutMs: opts.upstreamTimeoutMs,
        requestId: `${requestId}:judge`,
        stream: false,
        pool: upstreamPool,
      });
      const text = await answer.text();
      if (answer.status >= 400) throw new Error(`guard model answered ${answer.status}`);
      const content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
      if (typeof content !== 'string') throw new Error('guard model answer has no content');
      return content;
    };

  /** What the input guardrails read: the chat messages, or a chat-shaped view of a completions prompt or embeddings input. */
  const inputView = (kind: Kind, body: Record<string, unknown>): { role: string; content?: unknown }[] | undefined => {
    if (kind === 'chat') return body.messages as { role: string; content?: unknown }[];
    const value = kind === 'completions' ? body.prompt : body.input;
    if (typeof value === 'string') return [{ role: 'user', content: value }];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return (value as string[]).map((content) => ({ role: 'user', content }));
    return undefined; // token ids: nothing to read
  };

  /**
   * The input check, started while the admission is on its way to Redis: ioredis writes
   * auto-pipelined commands on setImmediate, so the check waits for that turn, then reads the text
   * while Redis works. Only for rules that run in process (no judge), so nothing leaves the gateway.
   */
  const checkInputEarly = (kind: Kind, body: Record<string, unknown>, policy: CompiledPolicy) => {
    const view = inputView(kind, body);
    if (!view) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => policy.checkInput(view, {}));
  };

  const proxy = async (req: FastifyRequest, reply: FastifyReply, ctx: KeyContext, kind: Kind, request: Record<string, unknown> & { model: string; stream?: boolean }) => {
    const started = performance.now();
    const path = PATHS[kind];
    const stream = request.stream === true && kind !== 'embeddings';
    const record = {
      deploymentId: null as string | null,
      replica: null as string | null,
      model: request.model,
      usage: undefined as Usage | undefined,
      ttfbMs: null as number | null,
      verdicts: [] as GuardrailVerdict[],
      sources: [] as RagSource[],
      errorCode: null as string | null,
    };
    const cancel = new Cancellation();
    // One log entry per request, written when the response is over (served, refused or broken); a
    // response closed before its end (the client went away) aborts the upstream call. The response,
    // not the request: a request's 'close' fires as soon as its body has been read.
    reply.raw.on('close', () => {
      if (!reply.raw.writableEnded) cancel.abort();
      const status = reply.raw.statusCode;
      const streamLabel = String(stream);
      requestsByModel.labels(request.model, String(status), streamLabel).inc();
      latencyByModel.labels(request.model, streamLabel).observe((performance.now() - started) / 1000);
      if (record.ttfbMs !== null) ttfbByModel.labels(request.model, streamLabel).observe(record.ttfbMs / 1000);
      if (record.usage) {
        tokensByModel.labels(request.model, 'prompt').inc(record.usage.prompt);
        tokensByModel.labels(request.model, 'completion').inc(record.usage.completion);
      }
      for (const v of record.verdicts) if (v.verdict !== 'pass') guardrailActions.labels(v.guardrail, v.verdict).inc();
      if (!opts.logs) return;
      opts.logs.write({
        request_id: String(req.id),
        org_id: ctx.org_id,
        api_key_id: ctx.api_key_id,
        model: record.model,
        deployment_id: record.deploymentId,
        replica: record.replica,
        stream,
        prompt_tokens: record.usage?.prompt ?? 0,
        completion_tokens: record.usage?.completion ?? 0,
        latency_ms: Math.round(performance.now() - started),
        ttfb_ms: record.ttfbMs,
        status_code: reply.raw.writableFinished ? status : status >= 400 ? status : 499,
        error_code: record.errorCode ?? (status >= 400 ? String(status) : null),
        guardrails: summariseVerdicts(record.verdicts),
        rag_sources: record.sources,
        created_at: new Date().toISOString(),
      });
    });
    const models = modelsFor(ctx, request.model);
    const { inferia, ...body } = request as Record<string, unknown> & { model: string; inferia?: InferiaOptions };
    if (inferia && !opts.prompts) throw new AppError('bad_request', 'Prompt processing is not enabled on this gateway.', { field: 'inferia' });
    const policy = policies(ctx.guardrails);
    // Input guardrails that run in process read the text while Redis counts the request; their
    // verdict is acted on only once it is admitted (a request over its limits gets 429 whatever
    // it says). One with a judge, which calls a model, waits for the admission. Admitted from a
    // lease, the request is admitted already (or refused: the error is thrown here).
    const admission = admit(req, reply, ctx, estimateTokens(body));
    const early = policy.hasInput && policy.inputIsLocal && admission instanceof Promise ? checkInputEarly(kind, body, policy) : undefined;
    if (early) void early.catch(() => undefined); // acted on below, after the admission
    const reservation = await admission;
    let settled = false;
    const settle = (usage: Usage | undefined) => {
      if (usage) record.usage = usage;
      if (!reservation || settled) return;
      settled = true;
      void (usage === undefined ? opts.limiter!.refund(reservation) : opts.limiter!.settle(reservation, usage.prompt + usage.completion)).catch((err: unknown) =>
        req.log.warn({ err }, 'could not settle token usage'),
      );
    };
    const judge = policy.hasInput || policy.hasOutput ? judgeFor(ctx, String(req.id)) : undefined;
    try {
      // Input guardrails, then prompt processing: a template or retrieved passage is not the caller's text.
      if (policy.hasInput) {
        const view = inputView(kind, body);
        if (view) {
          // A signal (an AbortController) only for a rule that calls a model.
          const checked = early ? await early : await policy.checkInput(view, policy.inputIsLocal ? {} : { signal: cancel.signal, judge });
          record.verdicts.push(...checked.verdicts);
          if (checked.blocked) throw violation(checked.verdict, kind === 'chat' ? 'messages' : kind === 'completions' ? 'prompt' : 'input', record);
          if (checked.redacted) {
            if (kind === 'chat') body.messages = checked.messages;
            else {
              const texts = checked.messages.map((m) => m.content as string);
              body[kind === 'completions' ? 'prompt' : 'input'] = typeof (kind === 'completions' ? body.prompt : body.input) === 'string' ? texts[0] : texts;
            }
          }
        }
      }
      if (inferia && opts.prompts) {
        const processed = await opts.prompts.process(ctx.org_id, { messages: body.messages as unknown[] | undefined, prompt: body.prompt }, inferia, cancel.signal);
        record.sources = processed.sources;
        if (processed.messages) body.messages = processed.messages;
        if (processed.prompt !== undefined) body.prompt = processed.prompt;
      }
      const admits = admitsFor(ctx);
      let lastError: unknown;
      for (let m = 0; m < models.length; m++) {
        const model = models[m]!;
        const lastModel = m === models.length - 1;
        const payload = model === request.model ? body : { ...body, model };
        const tried = new Set<string>();
        for (let attempt = 0; attempt < 3; attempt++) {
          const target = routes.pick(ctx.org_id, model, tried, admits);
          if (!target) break;
          tried.add(target.nodeId);
          target.inflight += 1;
          record.model = model;
          record.deploymentId = target.deploymentId;
          record.replica = target.nodeId;
          let upstream: UpstreamAnswer;
          try {
            upstream = await sendToTarget(target, path, payload, { signal: cancel, timeoutMs: opts.upstreamTimeoutMs, requestId: String(req.id), stream, pool: upstreamPool });
          } catch (err) {
            target.inflight -= 1;
            lastError = err;
            if (cancel.aborted) {
              settle(undefined);
              return reply;
            }
            routes.reportFailure(target.nodeId);
            continue;
          }
          const retryable = upstream.status >= 500 || upstream.status === 429;
          if (retryable && (attempt < 2 || !lastModel)) {
            // Nothing has reached the client yet: another replica, or the next fallback model, may answer.
            target.inflight -= 1;
            if (upstream.status >= 500) routes.reportFailure(target.nodeId);
            lastError = new Error(`${target.kind} answered ${upstream.status}`);
            await upstream.discard();
            if (upstream.status === 429) break; // that upstream is saturated: fall back rather than hammer it
            continue;
          }
          routes.reportSuccess(target.nodeId);
          try {
            record.ttfbMs = Math.round(performance.now() - started);
            const guard = policy.hasOutput && kind !== 'embeddings' ? { policy, kind: kind as AnswerKind, judge, signal: policy.outputNeedsFullText ? cancel.signal : undefined, record } : undefined;
            return await relay(reply, upstream, stream, (usage) => settle(usage), guard);
          } finally {
            target.inflight -= 1;
            settle(undefined); // nothing reported usage: the call failed, give the reservation back
          }
        }
      }
      req.log.warn({ err: lastError, model: request.model }, 'no upstream answered');
      record.errorCode = 'upstream_unavailable';
      throw new AppError('upstream_error', `No replica of \`${request.model}\`${models.length > 1 ? ' or its fallback models' : ''} could be reached.`, {
        openai_code: 'upstream_unavailable',
      });
    } catch (err) {
      settle(undefined);
      throw err;
    }
  };

  app.get('/v1/models', async (req) => {
    const ctx = authorize(req);
    const models = routes
      .models(ctx.org_id)
      .filter((m) => ctx.allowed_models.length === 0 || ctx.allowed_models.includes(m))
      .filter((m) => routes.replicas(ctx.org_id, m).some((r) => mayUseModel(ctx, r.restriction)));
    const created = Math.floor(routes.loadedAt / 1000);
    return { object: 'list', data: models.map((id) => ({ id, object: 'model', created, owned_by: 'inferia' })) };
  });

  app.get('/v1/models/:model', { schema: { params: z.object({ model: z.string().min(1).max(256) }) } }, async (req) => {
    const ctx = authorize(req);
    const targets = routes.replicas(ctx.org_id, req.params.model);
    if ((ctx.allowed_models.length > 0 && !ctx.allowed_models.includes(req.params.model)) || !targets.some((r) => mayUseModel(ctx, r.restriction))) {
      throw new AppError('not_found', `The model \`${req.params.model}\` does not exist.`, { openai_code: 'model_not_found', field: 'model' });
    }
    return { id: req.params.model, object: 'model', created: Math.floor(routes.loadedAt / 1000), owned_by: 'inferia' };
  });

  const visibleClusters = async (ctx: KeyContext) =>
    (await (opts.clusters?.(ctx.org_id) ?? Promise.resolve([]))).filter((c) => mayUseModel(ctx, { allowed_groups: c.allowedGroups, allowed_domains: c.allowedDomains }));

  app.get('/v1/clusters', async (req) => {
    const ctx = authorize(req);
    const clusters = await visibleClusters(ctx);
    return { object: 'list', data: clusters.map((c) => ({ id: c.name, object: 'cluster' })) };
  });

  app.get('/v1/clusters/:cluster/jobs', { schema: { params: z.object({ cluster: z.string().min(1).max(200) }) } }, async (req) => {
    const ctx = authorize(req);
    const cluster = (await visibleClusters(ctx)).find((c) => c.name === req.params.cluster);
    if (!cluster) throw new AppError('not_found', `Cluster \`${req.params.cluster}\` does not exist.`, { openai_code: 'cluster_not_found', field: 'cluster' });
    const out = await cluster.getJobs();
    if (!out.jobs) throw new AppError('upstream_error', out.error_message ?? 'cluster status unavailable', { openai_code: 'cluster_unavailable' });
    return out.jobs;
  });

  app.post('/v1/chat/completions', { schema: { body: ChatBody } }, async (req, reply) => {
    const ctx = authorize(req);
    return proxy(req, reply, ctx, 'chat', req.body);
  });

  app.post('/v1/completions', { schema: { body: CompletionBody } }, async (req, reply) => {
    const ctx = authorize(req);
    return proxy(req, reply, ctx, 'completions', req.body);
  });

  app.post('/v1/embeddings', { schema: { body: EmbeddingBody } }, async (req, reply) => {
    const ctx = authorize(req);
    return proxy(req, reply, ctx, 'embeddings', { ...req.body, stream: false });
  });
}

type Kind = 'chat' | 'completions' | 'embeddings';
const PATHS: Record<Kind, string> = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings' };

/** 400 `guardrail_violation`, naming the guardrail (and its policy) and why, never quoting the text. */
function violation(v: GuardrailVerdict, field: string | null, record: { errorCode: string | null }): AppError {
  record.errorCode = 'guardrail_violation';
  const policy = v.policy ? ` (policy \`${v.policy}\`)` : '';
  const why = v.reasons.length > 0 ? `: ${v.reasons.join('; ')}` : '';
  return new AppError('bad_request', `Blocked by the \`${v.guardrail}\` guardrail${policy}${why}.`, {
    openai_code: 'guardrail_violation',
    guardrail: v.guardrail,
    ...(field ? { field } : {}),
  });
}

/** Copies an upstream answer to the client. A stream that breaks mid-way ends with an error event, never silently. */
interface Usage {
  prompt: number;
  completion: number;
}

interface OutputGuard {
  policy: CompiledPolicy;
  kind: AnswerKind;
  judge: JudgeFn | undefined;
  /** Only for a policy that calls a guard model (the others never read it). */
  signal: AbortSignal | undefined;
  record: { verdicts: GuardrailVerdict[]; errorCode: string | null };
}

async function relay(reply: FastifyReply, upstream: UpstreamAnswer, stream: boolean, onUsage: (usage: Usage) => void, guard?: OutputGuard): Promise<FastifyReply> {
  const contentType = upstream.contentType;
  if (!stream || !contentType.includes('text/event-stream') || !upstream.body) {
    let text = await upstream.text();
    if (upstream.status >= 500) {
      return reply.status(502).send(openAiError(502, `upstream replica failed with status ${upstream.status}`, 'upstream_error'));
    }
    if (upstream.status < 200 || upstream.status >= 300) return reply.status(upstream.status).header('content-type', contentType).send(text);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: usage is estimated, and the guard has nothing to read */
    }
    onUsage(usageOf(parsed, text));
    if (guard) {
      const checked = await guardJsonAnswer(guard.policy, text, guard.kind, { signal: guard.signal, judge: guard.judge }, parsed);
      guard.record.verdicts.push(...checked.verdicts);
      if (checked.blocked) throw violation(checked.blocked, null, guard.record);
      text = checked.text;
    }
    await endOfTurn(); // written with the other answers of this turn
    return reply.status(upstream.status).header('content-type', contentType).send(text);
  }
  const meter = new StreamMeter();
  // With output guardrails the guard parses each event once, and the meter reads it from there.
  const sse = guard
    ? new SseOutputGuard(guard.policy, guard.kind, { signal: guard.signal, judge: guard.judge, observe: (e) => meter.observe(e), observeText: (t) => meter.observeText(t) })
    : undefined;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(upstream.status, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': String(reply.request.id),
  });
  const write = async (data: string | Buffer) => {
    holdUntilEndOfTurn(raw); // written with whatever else this turn writes
    if (!raw.write(data)) await drained(raw);
  };
  let partial = '';
  // A character split between two reads is decoded whole.
  const text = new StringDecoder('utf8');
  let aligned = true;
  try {
    for await (const chunk of upstream.body) {
      const buf = chunk as Buffer;
      if (!sse) {
        meter.feed(buf);
        await write(buf);
        continue;
      }
      // With output guardrails the stream is rewritten one read at a time (only whole lines are read).
      // Whole lines, nothing of an earlier read before them: the last read ended with a newline.
      const whole = aligned && buf.length > 0 && buf[buf.length - 1] === 0x0a;
      if (buf.length > 0) aligned = buf[buf.length - 1] === 0x0a;
      partial += text.write(buf);
      const cut = partial.lastIndexOf('\n');
      if (cut < 0) {
        if (partial.length > MAX_SSE_LINE) throw new Error(`upstream sent a line longer than ${MAX_SSE_LINE} characters`);
        continue;
      }
      const lines = partial.slice(0, cut).split('\n');
      partial = partial.slice(cut + 1);
      let crlf = false;
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]!.endsWith('\r')) {
          lines[i] = lines[i]!.slice(0, -1);
          crlf = true;
        }
      }
      const out = await sse.lines(lines);
      // A read of whole lines (the usual case) that the guard left as they came goes out as it came:
      // the upstream's bytes, not the lines joined and encoded again.
      if (whole && !crlf && sameLines(out, lines)) await write(buf);
      else if (out.length > 0) await write(`${out.join('\n')}\n`);
      if (sse.blocked) break;
    }
    if (sse && !sse.blocked) {
      const out = [...(partial ? await sse.lines([partial]) : []), ...(await sse.finish())];
      if (out.length > 0) await write(`${out.join('\n')}\n`);
    }
    onUsage(meter.usage());
    if (sse?.blocked) {
      guard!.record.errorCode = 'guardrail_violation';
      const v = sse.blocked;
      const event = openAiError(400, `Output blocked by the \`${v.guardrail}\` guardrail${v.policy ? ` (policy \`${v.policy}\`)` : ''}.`, 'guardrail_violation');
      await write(`data: ${JSON.stringify(event)}\n\n`);
    }
  } catch (err) {
    if (!raw.destroyed) {
      if (guard) guard.record.errorCode = 'upstream_stream_error';
      const event = openAiError(502, `upstream stream broke: ${(err as Error).message}`, 'upstream_stream_error');
      raw.write(`data: ${JSON.stringify(event)}\n\n`);
    }
  }
  if (sse && guard) guard.record.verdicts.push(...sse.verdicts());
  atEndOfTurn(() => raw.end()); // with the last chunk's data when they came in one turn
  return reply;
}

/** Whether the guard gave back exactly the lines it was given. */
function sameLines(out: readonly string[], lines: readonly string[]): boolean {
  if (out.length !== lines.length) return false;
  for (let i = 0; i < out.length; i++) if (out[i] !== lines[i]) return false;
  return true;
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
  const prompt = Math.ceil(jsonLength(body.messages ?? body.prompt ?? body.input ?? '') / 4);
  const maxOut = Number(body.max_completion_tokens ?? body.max_tokens ?? 256);
  const n = Number(body.n ?? 1);
  return prompt + (Number.isFinite(maxOut) ? maxOut : 256) * (Number.isFinite(n) ? n : 1);
}

/**
 * About the length of `JSON.stringify(value)` (exact but for escapes), without building it: chat
 * messages of plain text are measured field by field, anything else is serialised.
 */
function jsonLength(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (!Array.isArray(value)) return JSON.stringify(value)?.length ?? 0;
  let length = 1 + Math.max(0, value.length - 1) + 1; // brackets and commas
  for (const m of value) {
    const message = m as { role?: unknown; content?: unknown } | null;
    if (message && typeof message === 'object' && typeof message.role === 'string' && typeof message.content === 'string' && Object.keys(message).length === 2) {
      length += message.role.length + message.content.length + 24; // {"role":"","content":""}
    } else length += JSON.stringify(m)?.length ?? 4;
  }
  return length;
}

/** The answer's own usage, else an estimate from its size. */
function usageOf(answer: unknown, text: string): Usage {
  const usage = answer && typeof answer === 'object' ? (answer as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null }).usage : undefined;
  if (usage && typeof usage.prompt_tokens === 'number') {
    return { prompt: usage.prompt_tokens, completion: typeof usage.completion_tokens === 'number' ? usage.completion_tokens : 0 };
  }
  return { prompt: 0, completion: Math.ceil(text.length / 4) };
}

/**
 * The longest server-sent-events line read whole: past it, a guarded stream ends with an error
 * event (the upstream is broken or hostile) and the meter stops reading that line.
 */
const MAX_SSE_LINE = 1024 * 1024;

/** Counts a stream's tokens: the usage chunk when the upstream sends one, else its content size. */
class StreamMeter {
  private buffered = '';
  private readonly text = new StringDecoder('utf8');
  private contentChars = 0;
  private reported: Usage | undefined;
  feed(chunk: Buffer) {
    this.buffered += this.text.write(chunk);
    if (this.buffered.length > MAX_SSE_LINE && !this.buffered.includes('\n')) {
      this.buffered = ''; // one endless line: not counted, and not kept
      return;
    }
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (!line.startsWith('data:') || line === 'data: [DONE]') continue;
      let event: unknown;
      try {
        event = JSON.parse(line.slice(5));
      } catch {
        continue; // not JSON: not ours to count
      }
      if (event && typeof event === 'object') this.observe(event as Record<string, unknown>);
    }
  }
  /** One parsed event (the output guard hands them over, so a stream is parsed once). */
  observe(event: Record<string, unknown>) {
    const { usage, choices } = event as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null; choices?: unknown };
    if (usage && typeof usage.prompt_tokens === 'number') {
      this.reported = { prompt: usage.prompt_tokens, completion: typeof usage.completion_tokens === 'number' ? usage.completion_tokens : 0 };
    }
    if (!Array.isArray(choices)) return;
    for (const c of choices as { delta?: { content?: unknown }; text?: unknown }[]) {
      const text = c?.delta?.content ?? c?.text;
      if (typeof text === 'string') this.contentChars += text.length;
    }
  }
  /** The text of a chunk with one choice and no usage (the output guard reads such chunks by their shape). */
  observeText(text: string) {
    this.contentChars += text.length;
  }
  usage(): Usage {
    return this.reported ?? { prompt: 0, completion: Math.ceil(this.contentChars / 4) };
  }
}

/** OpenAI's x-ratelimit-* headers from the tightest per-minute limits. */
const RATE_LIMIT_HEADERS = (['requests', 'tokens'] as const).map((unit) => ({
  unit,
  limit: `x-ratelimit-limit-${unit}`,
  remaining: `x-ratelimit-remaining-${unit}`,
  reset: `x-ratelimit-reset-${unit}`,
}));

function setRateLimitHeaders(reply: FastifyReply, states: LimitState[]) {
  for (const h of RATE_LIMIT_HEADERS) {
    let tightest: LimitState | undefined;
    for (const s of states) if (s.limit.unit === h.unit && s.limit.period === 'minute' && (!tightest || s.remaining < tightest.remaining)) tightest = s;
    if (!tightest) continue;
    reply.header(h.limit, String(tightest.limit.limit));
    reply.header(h.remaining, String(tightest.remaining));
    reply.header(h.reset, `${tightest.resetSeconds}s`);
  }
}
