// The built-in endpoint adapter: any server that speaks OpenAI's API (vLLM, TGI, llama.cpp, a
// site's own gateway). `config`: `base_url` (up to and including `/v1`), optionally `api_key_env`
// (the name of an environment variable holding the key: keys never sit in config files),
// `upstream_model` (the name the server knows the model by) and `timeout_ms`.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import type { CreateEndpoint, EndpointAdapter, SubmitStreamingTaskResponse, SubmitTaskResponse, TaskData } from './types.js';

const Config = z.object({
  base_url: z.url({ protocol: /^https?$/ }).max(2000),
  api_key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).max(100).optional(),
  upstream_model: z.string().min(1).max(256).optional(),
  timeout_ms: z.number().int().min(100).max(600_000).default(120_000),
});

const failed = (message: string, code: number) => ({ task_id: null, error_message: message, error_code: code });

export const createEndpoint: CreateEndpoint = (definition) => {
  const parsed = Config.safeParse(definition.config);
  if (!parsed.success) {
    throw new Error(`endpoint ${definition.id}: config.${String(parsed.error.issues[0]?.path.join('.'))}: ${parsed.error.issues[0]?.message}`);
  }
  const config = parsed.data;
  const base = config.base_url.replace(/\/+$/, '');
  const headers = (): Record<string, string> => {
    const key = config.api_key_env ? process.env[config.api_key_env] : undefined;
    return { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };
  };
  const post = (data: TaskData, signal: AbortSignal, stream: boolean) =>
    fetch(`${base}/${data.openai_endpoint}`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ ...data.model_params, ...(config.upstream_model ? { model: config.upstream_model } : {}), ...(stream ? { stream: true } : {}) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeout_ms)]),
    });

  const adapter: EndpointAdapter = {
    async submitTask(data, opts): Promise<SubmitTaskResponse> {
      let res: Response;
      try {
        res = await post(data, opts.signal, false);
      } catch (err) {
        return { result: null, ...failed(`endpoint unreachable: ${(err as Error).message}`, 502) };
      }
      const text = await res.text();
      if (!res.ok) return { result: null, ...failed(text.slice(0, 500) || `endpoint answered ${res.status}`, res.status) };
      return { result: text, task_id: res.headers.get('x-request-id'), error_message: null, error_code: null };
    },
    async submitStreamingTask(data, _requestLogId, opts): Promise<SubmitStreamingTaskResponse> {
      let res: Response;
      try {
        res = await post(data, opts.signal, true);
      } catch (err) {
        return { response: null, ...failed(`endpoint unreachable: ${(err as Error).message}`, 502) };
      }
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        return { response: null, ...failed(text.slice(0, 500) || `endpoint answered ${res.status}`, res.status) };
      }
      return { response: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), task_id: res.headers.get('x-request-id'), error_message: null, error_code: null };
    },
  };
  return adapter;
};
