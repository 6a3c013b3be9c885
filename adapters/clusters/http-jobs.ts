// The built-in cluster adapter for `config/clusters.json`: with `config.jobs_url`, asks that URL
// for the cluster's jobs (the ALCF shape, checked); without it, lists the endpoints declared for
// the cluster in `config/endpoints.json` as running — a static cluster that has no scheduler to ask.
import { z } from 'zod';
import type { EndpointDefinition } from '../endpoints/types.js';
import type { ClusterAdapter, GetJobsResponse, JobInfo, Jobs } from './types.js';

export interface ClusterDefinition {
  id: string;
  cluster_name: string;
  cluster_adapter: string;
  frameworks: string[];
  openai_endpoints: string[];
  allowed_globus_groups: string[];
  allowed_domains: string[];
  config: Record<string, unknown>;
}

export type CreateCluster = (definition: ClusterDefinition, context: { endpoints: EndpointDefinition[] }) => ClusterAdapter;

const Job = z.looseObject({ Models: z.string(), Framework: z.string(), Cluster: z.string() });
const JobsShape = z.object({
  running: z.array(Job).default([]),
  queued: z.array(Job).default([]),
  stopped: z.array(Job).default([]),
  others: z.array(Job).default([]),
  private_batch_running: z.array(Job).default([]),
  private_batch_queued: z.array(Job).default([]),
  cluster_status: z.record(z.string(), z.unknown()).default({}),
});
const Config = z.object({ jobs_url: z.url({ protocol: /^https?$/ }).optional(), timeout_ms: z.number().int().min(100).max(60_000).default(5000) });

export const createCluster: CreateCluster = (definition, context) => {
  const parsed = Config.safeParse(definition.config);
  if (!parsed.success) throw new Error(`cluster ${definition.id}: config.${String(parsed.error.issues[0]?.path.join('.'))}: ${parsed.error.issues[0]?.message}`);
  const config = parsed.data;
  const fail = (message: string, code: number): GetJobsResponse => ({ jobs: null, error_message: message, error_code: code });
  return {
    name: definition.cluster_name,
    allowedGroups: definition.allowed_globus_groups.map((g) => g.toLowerCase()),
    allowedDomains: definition.allowed_domains.map((d) => d.toLowerCase()),
    async getJobs(): Promise<GetJobsResponse> {
      if (!config.jobs_url) {
        const running: JobInfo[] = context.endpoints
          .filter((e) => e.cluster === definition.cluster_name)
          .map((e) => ({ Models: e.model, Framework: e.framework, Cluster: definition.cluster_name, 'Model Status': 'running', Endpoint: e.endpoint_slug }));
        const jobs: Jobs = {
          running,
          queued: [],
          stopped: [],
          others: [],
          private_batch_running: [],
          private_batch_queued: [],
          cluster_status: { cluster: definition.cluster_name, total_models: running.length, live_models: running.length, stopped_models: 0 },
        };
        return { jobs, error_message: null, error_code: null };
      }
      let res: Response;
      try {
        res = await fetch(config.jobs_url, { signal: AbortSignal.timeout(config.timeout_ms), headers: { accept: 'application/json' } });
      } catch (err) {
        return fail(`cluster status unreachable: ${(err as Error).message}`, 503);
      }
      if (!res.ok) return fail(`cluster status answered ${res.status}`, 502);
      const body = JobsShape.safeParse(await res.json().catch(() => null));
      if (!body.success) return fail('cluster status is not in the jobs shape', 502);
      return { jobs: body.data as Jobs, error_message: null, error_code: null };
    },
  };
};
