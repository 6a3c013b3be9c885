// The shapes the management API returns for deployments, pools and models, and how a name the
// operator typed (a full id, a unique id prefix, or a name) becomes an id.
import type { InferiaApi } from '../api-client.js';
import { CliError, shortId } from './cli.js';

export interface NodeView {
  node_id: string;
  pool_id: string;
  provider: string;
  provider_instance_id: string;
  state: string;
  gpu_type: string | null;
  gpu_allocated: number;
  vcpu_allocated: number;
  ram_gb_allocated: number;
  health_score: number;
  expose_url: string | null;
  deployment_id: string | null;
  replica_index: number | null;
  last_heartbeat_at: string | null;
}

export interface DeploymentView {
  deployment_id: string;
  org_id: string;
  model_name: string;
  model_version: string;
  inference_model: string;
  replicas: number;
  gpu_per_replica: number;
  pool_id: string;
  engine: string;
  status: string;
  status_reason: string | null;
  workflow_id: string;
  temporal_ui_url: string;
  created_at: string;
  updated_at: string;
}

export interface DeploymentEvent {
  at: string;
  kind: string;
  message: string;
}

export interface DeploymentDetail extends DeploymentView {
  nodes: NodeView[];
  events: DeploymentEvent[];
  workflow_state?: { status: string; targetReplicas: number; desired: string; replacements: number } | null;
}

export interface PoolView {
  pool_id: string;
  pool_name: string;
  provider: string;
  status: string;
  allowed_gpu_types: string[];
  max_cost_per_hour: number | null;
  is_dedicated: boolean;
  created_at: string;
}

export interface ModelView {
  model_id: string;
  model_name: string;
  model_version: string;
  backend: string;
  artifact_uri: string;
  config_json: Record<string, unknown>;
  created_at: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FINISHED = new Set(['STOPPED', 'FAILED', 'DELETED']);

export const listDeployments = async (api: InferiaApi) => (await api.filtration<{ deployments: DeploymentView[] }>('GET', '/management/deployments')).deployments;
export const listPools = async (api: InferiaApi) => (await api.filtration<{ pools: PoolView[] }>('GET', '/management/pools')).pools;
export const listModels = async (api: InferiaApi) => (await api.filtration<{ models: ModelView[] }>('GET', '/management/models')).models;
export const getDeployment = (api: InferiaApi, id: string) => api.filtration<DeploymentDetail>('GET', `/management/deployments/${id}`);

/**
 * Picks the one item `ref` names: a full id, a unique id prefix, or a name. With several of the
 * same name, `prefer` narrows them (e.g. deployments still alive).
 */
export function pick<T>(
  items: T[],
  ref: string,
  what: string,
  opts: { id: (t: T) => string; name: (t: T) => string; prefer?: (t: T) => boolean; describe: (t: T) => string },
): T {
  const lower = ref.toLowerCase();
  const exact = items.filter((t) => opts.id(t) === lower);
  if (exact.length === 1) return exact[0]!;
  let matches = items.filter((t) => opts.name(t) === ref);
  if (matches.length > 1 && opts.prefer) {
    const preferred = matches.filter(opts.prefer);
    if (preferred.length > 0) matches = preferred;
  }
  if (matches.length === 0 && /^[0-9a-f-]{4,}$/i.test(ref)) matches = items.filter((t) => opts.id(t).startsWith(lower));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliError(`no ${what} matches '${ref}'`);
  throw new CliError(`'${ref}' matches ${matches.length} ${what}s: ${matches.map(opts.describe).join(', ')}; give more of the id`);
}

/** A deployment id from an id, a unique id prefix (4+ characters) or an inference model name. */
export async function resolveDeployment(api: InferiaApi, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref.toLowerCase();
  return pick(await listDeployments(api), ref, 'deployment', {
    id: (d) => d.deployment_id,
    name: (d) => d.inference_model,
    prefer: (d) => !FINISHED.has(d.status),
    describe: (d) => `${shortId(d.deployment_id)} (${d.inference_model}, ${d.status})`,
  }).deployment_id;
}

export async function resolvePool(api: InferiaApi, ref: string): Promise<PoolView> {
  return pick(await listPools(api), ref, 'pool', {
    id: (p) => p.pool_id,
    name: (p) => p.pool_name,
    describe: (p) => `${shortId(p.pool_id)} (${p.pool_name})`,
  });
}

/** Replicas of a deployment: READY (or BUSY) against the target, and the others by state. */
export function replicaCounts(d: DeploymentDetail): { ready: number; desired: number; live: number; text: string } {
  const live = d.nodes.filter((n) => n.state !== 'TERMINATED');
  const ready = live.filter((n) => n.state === 'READY' || n.state === 'BUSY').length;
  const desired = d.workflow_state?.targetReplicas ?? d.replicas;
  const others = new Map<string, number>();
  for (const n of live) if (n.state !== 'READY' && n.state !== 'BUSY') others.set(n.state, (others.get(n.state) ?? 0) + 1);
  const rest = [...others].map(([state, n]) => `, ${n} ${state.toLowerCase()}`).join('');
  return { ready, desired, live: live.length, text: `${ready}/${desired} ready${rest}` };
}
