// A small typed client for the REST API of the SkyPilot API server (`sky api start`, port 46580),
// written against sky/server/server.py, sky/server/requests/payloads.py and sky/client/sdk.py.
//
// The server is asynchronous: a call such as POST /launch or POST /status only queues a request
// and answers 200 with the request id in the `X-Skypilot-Request-ID` header (older servers:
// `X-Request-ID`). GET /api/get?request_id=… then holds the connection until that request
// finishes and answers its record, whose `return_value` is itself a JSON string; a failed
// request comes back as HTTP 500 with the record under `detail` and a JSON `error` string
// `{type, message, object}`. We bound every wait by `requestTimeoutMs` and retry /api/get on
// gateway errors (502/503/504) or a dropped connection, pausing `pollIntervalMs` between tries.
import { createHash } from 'node:crypto';

export const SKYPILOT_DEFAULT_PORT = 46580;

export type SkypilotRequestStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** A request record as GET /api/get and GET /api/status encode it (sky/server/requests/requests.py). */
export interface SkypilotRequestRecord {
  request_id: string;
  name: string;
  status: SkypilotRequestStatus;
  /** JSON text of the encoded return value. */
  return_value: string;
  /** JSON text of `{type, message, object}` or of null. */
  error: string;
  cluster_name?: string | null;
  status_msg?: string | null;
  created_at?: number;
  [field: string]: unknown;
}

/** One cluster of POST /status (sky/schemas/api/responses.py StatusResponse; `status` is the enum value). */
export interface SkypilotClusterRecord {
  name: string;
  status: string;
  launched_at?: number;
  resources_str?: string | null;
  accelerators?: string | null;
  cpus?: string | null;
  memory?: string | null;
  cloud?: string | null;
  region?: string | null;
  nodes?: number;
  [field: string]: unknown;
}

export interface SkypilotHealth {
  status: string;
  api_version?: string;
  version?: string;
  commit?: string;
  [field: string]: unknown;
}

/** POST /launch body (payloads.LaunchBody); `task` is the task YAML as a string. */
export interface SkypilotLaunchBody {
  task: string;
  cluster_name: string;
  retry_until_up?: boolean;
  idle_minutes_to_autostop?: number | null;
  down?: boolean;
}

/** A failure of the SkyPilot API, naming the endpoint, HTTP status and request where known. */
export class SkypilotApiError extends Error {
  constructor(
    message: string,
    readonly endpoint: string,
    readonly details: { httpStatus?: number; requestId?: string; errorType?: string } = {},
  ) {
    super(message);
    this.name = 'SkypilotApiError';
  }
}

export interface SkypilotClientOptions {
  apiUrl: string;
  apiToken?: string;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
}

interface CallOptions {
  /** Values to scrub from any error text (a FastAPI 422 echoes the request body back). */
  secrets?: readonly string[];
  timeoutMs?: number;
}

const TERMINAL: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const RETRYABLE_HTTP: ReadonlySet<number> = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The server takes the caller's identity from `env_vars` when the call is not otherwise
 * authenticated (payloads.request_body_env_vars sends SKYPILOT_USER_ID, an 8-hex user hash, and
 * SKYPILOT_USER). A fixed identity makes every Inferia worker the same SkyPilot user.
 */
const INFERIA_USER = 'inferia';
const INFERIA_USER_HASH = createHash('sha256').update(INFERIA_USER).digest('hex').slice(0, 8);
const IDENTITY_ENV_VARS = { SKYPILOT_USER_ID: INFERIA_USER_HASH, SKYPILOT_USER: INFERIA_USER };

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

const clip = (text: string, max = 600) => (text.length > max ? `${text.slice(0, max)}…` : text);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// ESC built at runtime: a literal control character in a regex literal trips no-control-regex.
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');

/** Strips SkyPilot's encoded spinner/status payloads and ANSI colours from streamed log text. */
export function plainLogLines(text: string): string[] {
  return text
    .replace(/<sky-payload[^>]*>[\s\S]*?<\/sky-payload>/g, '')
    .split(/\r?\n/)
    .map((l) => l.replace(ANSI_ESCAPE, '').replace(/\r/g, ''))
    .filter((l) => l.trim() !== '');
}

export class SkypilotClient {
  private readonly baseUrl: string;
  private readonly pollIntervalMs: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: SkypilotClientOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, '');
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (json) h['content-type'] = 'application/json';
    if (this.options.apiToken) h.authorization = `Bearer ${this.options.apiToken}`;
    return h;
  }

  private async send(method: 'GET' | 'POST', path: string, body: unknown, opts: CallOptions): Promise<Response> {
    const endpoint = `${method} ${path.split('?')[0]}`;
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.requestTimeoutMs),
      });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message;
      throw new SkypilotApiError(`SkyPilot API ${endpoint} at ${this.baseUrl} unreachable: ${redact(reason, opts.secrets)}`, endpoint);
    }
  }

  private async fail(endpoint: string, res: Response, opts: CallOptions): Promise<never> {
    const text = redact(await res.text().catch(() => ''), opts.secrets);
    throw new SkypilotApiError(`SkyPilot API ${endpoint} failed: HTTP ${res.status} ${clip(text)}`.trim(), endpoint, {
      httpStatus: res.status,
    });
  }

  /** Queues an asynchronous request and returns its id. */
  async submit(method: 'GET' | 'POST', path: string, body: Record<string, unknown> | undefined, opts: CallOptions = {}): Promise<string> {
    const endpoint = `${method} ${path.split('?')[0]}`;
    const payload = body === undefined ? undefined : { env_vars: IDENTITY_ENV_VARS, ...body };
    const res = await this.send(method, path, payload, opts);
    if (!res.ok) return this.fail(endpoint, res, opts);
    const text = await res.text();
    const fromBody = (parseJson(text) as { request_id?: unknown } | null | undefined)?.request_id;
    const id = res.headers.get('x-skypilot-request-id') ?? res.headers.get('x-request-id') ?? (typeof fromBody === 'string' ? fromBody : null);
    if (!id) throw new SkypilotApiError(`SkyPilot API ${endpoint} answered without a request id`, endpoint, { httpStatus: res.status });
    return id;
  }

  /** Waits (bounded) for a request to finish and returns its decoded return value. */
  async result<T>(endpoint: string, requestId: string, opts: CallOptions = {}): Promise<T> {
    const record = await this.waitForRequest(endpoint, requestId, opts);
    if (record.status === 'CANCELLED') {
      throw new SkypilotApiError(`SkyPilot API ${endpoint} request ${requestId} was cancelled`, endpoint, { requestId });
    }
    const error = parseJson(record.error ?? 'null') as { type?: string; message?: string } | null | undefined;
    if (record.status === 'FAILED' || (error && typeof error === 'object')) {
      const type = error?.type ?? 'Error';
      const message = redact(error?.message ?? record.status_msg ?? 'unknown error', opts.secrets);
      throw new SkypilotApiError(`SkyPilot API ${endpoint} request ${requestId} failed: ${type}: ${clip(message)}`, endpoint, {
        requestId,
        errorType: type,
      });
    }
    return parseJson(record.return_value ?? 'null') as T;
  }

  private async waitForRequest(endpoint: string, requestId: string, opts: CallOptions): Promise<SkypilotRequestRecord> {
    const deadline = Date.now() + (opts.timeoutMs ?? this.requestTimeoutMs);
    const path = `/api/get?request_id=${encodeURIComponent(requestId)}`;
    let lastProblem = 'no answer yet';
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let res: Response | undefined;
      try {
        res = await fetch(`${this.baseUrl}${path}`, { headers: this.headers(false), signal: AbortSignal.timeout(remaining) });
      } catch (err) {
        lastProblem = (err as Error).name === 'TimeoutError' ? 'still running' : (err as Error).message;
      }
      if (res) {
        const text = await res.text().catch(() => '');
        const json = parseJson(text) as { detail?: unknown; status?: unknown } | undefined;
        // /api/get answers 200 with the record, or 500 with the (failed) record under `detail`.
        const record = (res.status === 500 ? json?.detail : json) as SkypilotRequestRecord | undefined;
        if ((res.ok || res.status === 500) && record && typeof record === 'object' && typeof record.status === 'string') {
          if (TERMINAL.has(record.status)) return record;
          lastProblem = `status ${record.status}`;
        } else if (RETRYABLE_HTTP.has(res.status)) {
          lastProblem = `HTTP ${res.status}`;
        } else {
          throw new SkypilotApiError(
            `SkyPilot API ${endpoint}: GET /api/get for request ${requestId} failed: HTTP ${res.status} ${clip(redact(text, opts.secrets))}`.trim(),
            endpoint,
            { httpStatus: res.status, requestId },
          );
        }
      }
      const pause = Math.min(this.pollIntervalMs, deadline - Date.now());
      if (pause > 0) await sleep(pause);
    }
    throw new SkypilotApiError(
      `SkyPilot API ${endpoint} request ${requestId} did not finish within ${opts.timeoutMs ?? this.requestTimeoutMs}ms (${redact(lastProblem, opts.secrets)})`,
      endpoint,
      { requestId },
    );
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: Record<string, unknown> | undefined, opts: CallOptions = {}): Promise<T> {
    const id = await this.submit(method, path, body, opts);
    return this.result<T>(`${method} ${path.split('?')[0]}`, id, opts);
  }

  async health(): Promise<SkypilotHealth> {
    const res = await this.send('GET', '/api/health', undefined, {});
    if (!res.ok) return this.fail('GET /api/health', res, {});
    return (await res.json()) as SkypilotHealth;
  }

  /** Queues a launch and returns the request id at once; provisioning goes on on the server. */
  launch(body: SkypilotLaunchBody, opts: CallOptions = {}): Promise<string> {
    return this.submit('POST', '/launch', { ...body }, opts);
  }

  /** Cached cluster records (no cloud refresh), all users; only the named clusters when given. */
  async status(clusterNames?: string[]): Promise<SkypilotClusterRecord[]> {
    const records = await this.call<SkypilotClusterRecord[] | null>('POST', '/status', clusterNames ? { cluster_names: clusterNames } : {});
    return Array.isArray(records) ? records : [];
  }

  /** Tears a cluster down; 'absent' when the server says it does not exist. */
  async down(clusterName: string): Promise<'down' | 'absent'> {
    try {
      await this.call<unknown>('POST', '/down', { cluster_name: clusterName });
      return 'down';
    } catch (err) {
      if (err instanceof SkypilotApiError && err.details.errorType === 'ClusterDoesNotExist') return 'absent';
      throw err;
    }
  }

  /** Port → endpoint ('1.2.3.4:8000' or a URL) for an UP cluster. */
  async endpoints(cluster: string, port?: number): Promise<Record<string, string>> {
    const value = await this.call<Record<string, string> | null>('POST', '/endpoints', { cluster, port: port ?? null });
    return value ?? {};
  }

  /** The last `tail` lines of the cluster's latest job. POST /logs streams the text itself. */
  async tailLogs(clusterName: string, tail: number): Promise<string[]> {
    const endpoint = 'POST /logs';
    const res = await this.send('POST', '/logs', { env_vars: IDENTITY_ENV_VARS, cluster_name: clusterName, job_id: null, follow: false, tail }, {});
    if (!res.ok) return this.fail(endpoint, res, {});
    return plainLogLines(await res.text()).slice(-tail);
  }

  /** Catalog: accelerator name → instance offers (InstanceTypeInfo tuples encoded as arrays). */
  async listAccelerators(): Promise<Record<string, unknown[]>> {
    const value = await this.call<Record<string, unknown[]> | null>('POST', '/list_accelerators', { gpus_only: true });
    return value ?? {};
  }

  async enabledClouds(): Promise<string[]> {
    const value = await this.call<unknown>('GET', '/enabled_clouds', undefined);
    return Array.isArray(value) ? value.map(String) : [];
  }

  /** Requests still PENDING or RUNNING (GET /api/status without ids lists only those). */
  async activeRequests(): Promise<SkypilotRequestRecord[]> {
    const res = await this.send('GET', '/api/status', undefined, {});
    if (!res.ok) return this.fail('GET /api/status', res, {});
    const value = (await res.json()) as unknown;
    return Array.isArray(value) ? (value as SkypilotRequestRecord[]) : [];
  }

  async cancelRequests(requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    await this.call<unknown>('POST', '/api/cancel', { request_ids: requestIds });
  }
}
