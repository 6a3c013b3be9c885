// Sends one OpenAI request to a routing target and hands back the answer in one shape, whether
// the target is an HTTP server (a replica, an external provider) or an endpoint adapter of
// `config/endpoints.json`. Nothing here reads the answer: relaying is the caller's.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { traceHeaders } from '../../lib/tracing.js';
import { asAbortSignal, type AbortSignalLike } from './cancellation.js';
import type { Replica, RoutingTable } from './routing-table.js';
import type { UpstreamPool } from './upstream.js';
import { withUpstreamSpan } from './upstream-tracing.js';

export interface UpstreamAnswer {
  status: number;
  contentType: string;
  /** The body as it arrives (null: none). Read it once: through `body` or `text()`. */
  body: AsyncIterable<Uint8Array> | null;
  text(): Promise<string>;
  /** Drops an answer that will not be used (frees the connection). */
  discard(): Promise<void>;
}

export interface SendOptions {
  /** The request's cancellation (a real AbortSignal is made from it only where one is needed). */
  signal: AbortSignalLike;
  timeoutMs: number;
  requestId: string;
  stream: boolean;
  /** Keep-alive connections (undici Pools) for HTTP targets; global fetch when absent. */
  pool?: UpstreamPool;
}

/** `path` is the OpenAI route without `/v1`: `/chat/completions`, `/completions`, `/embeddings`. */
export const sendToTarget = withUpstreamSpan(send);

async function send(target: Replica, path: string, body: Record<string, unknown>, opts: SendOptions): Promise<UpstreamAnswer> {
  const payload = target.upstreamModel ? { ...body, model: target.upstreamModel } : body;
  if (target.adapter) return sendToAdapter(target, path, payload, opts);
  if (opts.pool) {
    const res = await opts.pool.post(target.base, path, JSON.stringify(payload), {
      headers: { 'x-request-id': opts.requestId, ...target.headers, ...traceHeaders() },
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
    });
    const contentType = res.headers['content-type'];
    return {
      status: res.status,
      contentType: (Array.isArray(contentType) ? contentType[0] : contentType) ?? 'application/json',
      body: res.body,
      text: () => res.text(),
      discard: () => res.discard().catch(() => undefined),
    };
  }
  const res = await fetch(`${target.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': opts.requestId, ...target.headers, ...traceHeaders() },
    body: JSON.stringify(payload),
    signal: AbortSignal.any([asAbortSignal(opts.signal), AbortSignal.timeout(opts.timeoutMs)]),
  });
  let stream: Readable | null | undefined;
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? 'application/json',
    // Converted only when read as a stream (once): `text()` needs the body unlocked.
    get body() {
      stream ??= res.body ? Readable.fromWeb(res.body as WebReadableStream<Uint8Array>) : null;
      return stream;
    },
    text: () => res.text(),
    discard: () => res.arrayBuffer().then(() => undefined, () => undefined),
  };
}

const fromText = (status: number, contentType: string, text: string): UpstreamAnswer => ({
  status,
  contentType,
  body: (async function* () {
    yield Buffer.from(text);
  })(),
  text: () => Promise.resolve(text),
  discard: () => Promise.resolve(),
});

const adapterError = (message: string | null, code: number | null) => {
  const status = code && code >= 400 && code <= 599 ? code : 502;
  return fromText(status, 'application/json', JSON.stringify({ error: { message: message ?? 'endpoint failed', type: 'api_error', param: null, code: 'endpoint_error' } }));
};

async function sendToAdapter(target: Replica, path: string, body: Record<string, unknown>, opts: SendOptions): Promise<UpstreamAnswer> {
  const adapter = target.adapter!;
  const data = { openai_endpoint: path.replace(/^\//, ''), model_params: body };
  const signal = AbortSignal.any([asAbortSignal(opts.signal), AbortSignal.timeout(opts.timeoutMs)]);
  if (opts.stream) {
    const out = await adapter.submitStreamingTask(data, opts.requestId, { signal });
    if (!out.response) return adapterError(out.error_message, out.error_code);
    const response = out.response;
    return {
      status: 200,
      contentType: 'text/event-stream',
      body: response,
      text: async () => {
        const parts: Buffer[] = [];
        for await (const c of response) parts.push(Buffer.from(c));
        return Buffer.concat(parts).toString('utf8');
      },
      discard: () => Promise.resolve(),
    };
  }
  const out = await adapter.submitTask(data, { signal, requestId: opts.requestId });
  if (out.result === null) return adapterError(out.error_message, out.error_code);
  return fromText(200, 'application/json', out.result);
}

/** Embeddings through the routing table, for RAG (the org's embedding model, wherever it is served). */
export function routedEmbedder(routes: RoutingTable, timeoutMs: number) {
  return async (orgId: string, model: string, texts: string[], signal: AbortSignal): Promise<number[][]> => {
    const target = routes.pick(orgId, model);
    if (!target) throw new Error(`embedding model ${model} has nothing running`);
    const answer = await sendToTarget(target, '/embeddings', { model, input: texts }, { signal, timeoutMs, requestId: `rag_${Date.now()}`, stream: false });
    const text = await answer.text();
    if (answer.status !== 200) throw new Error(`embedding model answered ${answer.status}`);
    const data = (JSON.parse(text) as { data?: { index?: number; embedding?: unknown }[] }).data ?? [];
    const out: number[][] = [];
    for (const d of data) {
      if (typeof d.index === 'number' && Array.isArray(d.embedding) && d.embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) out[d.index] = d.embedding as number[];
    }
    if (out.length !== texts.length || out.some((v) => !v)) throw new Error('embedding answer does not match the input');
    return out;
  };
}
