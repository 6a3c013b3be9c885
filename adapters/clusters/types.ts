// Cluster adapters (the ALCF model, seed 002): what runs, queues or is stopped on a cluster.
// `getJobs` answers in the ALCF jobs shape; extra fields per job are allowed.

export interface JobInfo {
  Models: string;
  Framework: string;
  Cluster: string;
  [extra: string]: unknown;
}

export interface Jobs {
  running: JobInfo[];
  queued: JobInfo[];
  stopped: JobInfo[];
  others: JobInfo[];
  private_batch_running: JobInfo[];
  private_batch_queued: JobInfo[];
  cluster_status: Record<string, unknown>;
}

export interface GetJobsResponse {
  jobs: Jobs | null;
  error_message: string | null;
  error_code: number | null;
}

export interface ClusterAdapter {
  readonly name: string;
  /** Who may see it (ALCF): empty lists mean everyone in the org. */
  readonly allowedGroups: string[];
  readonly allowedDomains: string[];
  getJobs(): Promise<GetJobsResponse>;
}
