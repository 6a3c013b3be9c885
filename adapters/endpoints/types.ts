// Endpoint adapters (the ALCF model, seed 002): a model served by something other than an Inferia
// deployment — a site's own inference service, a scheduler, a partner API. Declared in
// `config/endpoints.json`; each names the module that implements it (`endpoint_adapter`).

/** One entry of `config/endpoints.json`, as the seed names its fields. */
export interface EndpointDefinition {
  id: string;
  endpoint_slug: string;
  cluster: string;
  framework: string;
  /** The model name clients send. */
  model: string;
  /** Module path, relative to the config file's folder or the repository root, exporting `createEndpoint`. */
  endpoint_adapter: string;
  allowed_globus_groups: string[];
  allowed_domains: string[];
  config: Record<string, unknown>;
}

/** What the gateway hands an adapter: which OpenAI route was called, and the request body. */
export interface TaskData {
  /** `chat/completions`, `completions` or `embeddings`. */
  openai_endpoint: string;
  model_params: Record<string, unknown>;
}

export interface SubmitTaskResponse {
  /** The OpenAI-shaped JSON answer, as text. */
  result: string | null;
  task_id: string | null;
  error_message: string | null;
  error_code: number | null;
}

export interface SubmitStreamingTaskResponse {
  /** Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`. */
  response: AsyncIterable<Uint8Array> | null;
  task_id: string | null;
  error_message: string | null;
  error_code: number | null;
}

export type BatchStatus = 'pending' | 'running' | 'failed' | 'completed';

export interface SubmitBatchResponse {
  batch_id: string | null;
  task_ids: string | null;
  status: BatchStatus | null;
  error_message: string | null;
  error_code: number | null;
}

export interface GetBatchStatusResponse {
  status: BatchStatus | null;
  result: string | null;
  error_message: string | null;
  error_code: number | null;
}

export interface EndpointAdapter {
  submitTask(data: TaskData, opts: { signal: AbortSignal; requestId: string }): Promise<SubmitTaskResponse>;
  submitStreamingTask(data: TaskData, requestLogId: string, opts: { signal: AbortSignal }): Promise<SubmitStreamingTaskResponse>;
  /** Optional batch mode (off unless the adapter says so). */
  hasBatchEnabled?(): boolean;
  submitBatch?(batchData: Record<string, unknown>, username: string): Promise<SubmitBatchResponse>;
  getBatchStatus?(batch: { batch_id: string }): Promise<GetBatchStatusResponse>;
}

/** What an adapter module exports. */
export type CreateEndpoint = (definition: EndpointDefinition) => EndpointAdapter;
