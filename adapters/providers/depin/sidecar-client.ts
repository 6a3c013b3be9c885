// Typed HTTP client for the DePIN sidecar's job routes (/nosana/*, /akash/*). Every call carries
// the internal service token and a timeout; a failure names the route and the status.

export type SidecarNetwork = 'nosana' | 'akash';
export type SidecarJobState = 'QUEUED' | 'RUNNING' | 'STOPPED' | 'FAILED' | 'COMPLETED';

export interface SidecarJob {
  job_id: string;
  instance_id: string;
  state: SidecarJobState;
  expose_url?: string;
  message?: string;
  created_at?: string;
}

export interface SidecarResource {
  name: string;
  gpu_type: string | null;
  gpu_count: number;
  vcpu: number;
  ram_gb: number;
  price_per_hour: number | null;
  available: boolean;
}

export interface CreateJobRequest {
  instance_id: string;
  model: string;
  engine: string;
  artifact_uri: string;
  gpu_per_replica: number;
  configuration: Record<string, unknown>;
  heartbeat: { url: string; token: string; interval_ms: number };
}

export interface SidecarClientOptions {
  sidecarUrl: string;
  serviceToken: string;
  /** For reads; creating and stopping sign chain transactions and get four times as long. Default 30 s. */
  timeoutMs?: number;
}

/** The sidecar answered with an error status, or could not be reached (status 0). */
export class SidecarError extends Error {
  constructor(
    readonly route: string,
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'SidecarError';
  }
}

export interface SidecarClient {
  createJob(body: CreateJobRequest): Promise<SidecarJob>;
  /** undefined when the sidecar does not know the job (404). */
  getJob(jobId: string): Promise<SidecarJob | undefined>;
  stopJob(jobId: string): Promise<SidecarJob | undefined>;
  jobLogs(jobId: string, tail?: number): Promise<string[] | undefined>;
  listJobs(): Promise<SidecarJob[]>;
  resources(): Promise<SidecarResource[]>;
}

export function createSidecarClient(network: SidecarNetwork, options: SidecarClientOptions): SidecarClient {
  const base = options.sidecarUrl.replace(/\/+$/, '');
  const readTimeout = options.timeoutMs ?? 30_000;

  async function request<T>(method: 'GET' | 'POST', path: string, opts: { body?: unknown; allow404?: boolean; timeoutMs?: number } = {}): Promise<T | undefined> {
    const route = `${method} /${network}${path}`;
    let res: Response;
    try {
      res = await fetch(`${base}/${network}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.serviceToken}`,
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: AbortSignal.timeout(opts.timeoutMs ?? readTimeout),
      });
    } catch (err) {
      const cause = (err as Error).name === 'TimeoutError' ? `no answer within ${opts.timeoutMs ?? readTimeout} ms` : (err as Error).message;
      throw new SidecarError(route, 0, undefined, `DePIN sidecar at ${base} unreachable for ${route}: ${cause}`);
    }
    const text = await res.text();
    if (res.status === 404 && opts.allow404) return undefined;
    if (!res.ok) {
      let code: string | undefined;
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code;
        message = parsed.error?.message ?? message;
      } catch {
        // not JSON: keep the raw text
      }
      throw new SidecarError(route, res.status, code, `DePIN sidecar ${route} answered ${res.status}${code ? ` ${code}` : ''}: ${message}`);
    }
    return JSON.parse(text) as T;
  }

  const id = (jobId: string) => encodeURIComponent(jobId);
  const slow = readTimeout * 4;

  return {
    async createJob(body) {
      return (await request<SidecarJob>('POST', '/jobs', { body, timeoutMs: slow }))!;
    },
    getJob: (jobId) => request<SidecarJob>('GET', `/jobs/${id(jobId)}`, { allow404: true }),
    stopJob: (jobId) => request<SidecarJob>('POST', `/jobs/${id(jobId)}/stop`, { allow404: true, timeoutMs: slow }),
    async jobLogs(jobId, tail) {
      const out = await request<{ lines: string[] }>('GET', `/jobs/${id(jobId)}/logs${tail ? `?tail=${tail}` : ''}`, { allow404: true });
      return out?.lines;
    },
    async listJobs() {
      return (await request<{ jobs: SidecarJob[] }>('GET', '/jobs'))!.jobs;
    },
    async resources() {
      return (await request<{ resources: SidecarResource[] }>('GET', '/resources'))!.resources;
    },
  };
}
