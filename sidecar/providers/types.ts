// What the sidecar's routes call: one DepinProvider per network (Nosana, Akash), in simulation
// or live mode. Jobs are named by the caller's instance id so a retried create finds its job.

export const DEPIN_NETWORKS = ['nosana', 'akash'] as const;
export type DepinNetwork = (typeof DEPIN_NETWORKS)[number];

export const JOB_STATES = ['QUEUED', 'RUNNING', 'STOPPED', 'FAILED', 'COMPLETED'] as const;
export type DepinJobState = (typeof JOB_STATES)[number];

/** States in which a job holds (or waits for) capacity: creating again returns it. */
export const isLive = (state: DepinJobState) => state === 'QUEUED' || state === 'RUNNING';

export interface DepinJobSpec {
  /** The caller's id for this engine replica (`<deploymentId>-r<index>`): the idempotency key. */
  instanceId: string;
  model: string;
  engine: string;
  artifactUri: string;
  gpuPerReplica: number;
  configuration: Record<string, unknown>;
  heartbeat: { url: string; token: string; intervalMs: number };
}

export interface DepinJob {
  jobId: string;
  instanceId: string;
  state: DepinJobState;
  /** Where the engine's OpenAI-compatible API answers, once RUNNING. */
  exposeUrl?: string;
  /** Why, when not RUNNING (queued for a node, waiting for a lease, exited, …). */
  message?: string;
  createdAt?: string;
}

export interface DepinResource {
  name: string;
  gpuType: string | null;
  gpuCount: number;
  vcpu: number;
  ramGb: number;
  pricePerHour: number | null;
  available: boolean;
}

export interface DepinProvider {
  readonly network: DepinNetwork;
  readonly mode: 'simulation' | 'live';
  /** Idempotent per instanceId: while that instance's job is QUEUED or RUNNING it is returned, not created again. */
  createJob(spec: DepinJobSpec): Promise<DepinJob>;
  /** undefined when this provider never had the job. */
  getJob(jobId: string): Promise<DepinJob | undefined>;
  /** Idempotent: stopping a finished job returns it unchanged; undefined when unknown. */
  stopJob(jobId: string): Promise<DepinJob | undefined>;
  /** The last `tail` lines; undefined when the job is unknown. */
  jobLogs(jobId: string, tail: number): Promise<string[] | undefined>;
  listJobs(): Promise<DepinJob[]>;
  resources(): Promise<DepinResource[]>;
}

/**
 * A request or setting that retrying cannot fix (missing wallet, unsupported engine): the routes
 * answer 400 and the worker's adapter fails the activity for good.
 */
export class DepinConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DepinConfigError';
  }
}
