// The `skypilot` provider: each engine replica is one SkyPilot cluster, launched through the
// REST API of a SkyPilot API server. The cluster name is derived from the deployment and replica,
// so start, stop and probe are idempotent across activity retries and worker restarts: the
// server's cluster table (POST /status) plus its queue of unfinished requests is the only state.
// startEngine returns once the server has queued the launch; readiness comes from probeEngine
// (the cluster's status) and from the engine's own heartbeats.
import type { Config } from '../../../lib/config.js';
import {
  ProviderConfigError,
  type DiscoveredNode,
  type EngineInstance,
  type EngineProbe,
  type EngineSpec,
  type NodeState,
  type ProviderAdapter,
  type ProviderResource,
} from '../types.js';
import { SkypilotClient, type SkypilotClusterRecord, type SkypilotRequestRecord } from './skypilot-client.js';

export interface SkypilotProviderOptions {
  apiUrl: string;
  apiToken?: string;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
}

export const ENGINE_PORT = 8000;
const CLUSTER_PREFIX = 'inferia-';
/** Tried in this order when a replica wants GPUs but names no accelerator. */
const DEFAULT_GPU_CANDIDATES = ['L4', 'A10G', 'A100', 'H100'];
const MOCK_ENGINE_ENTRY = 'adapters/engines/mock/mock-engine.ts';

/**
 * `inferia-<first 8 chars of the deployment id>-r<replica>`, lowercase. Anything outside
 * [a-z0-9] becomes '-', so the name passes SkyPilot's check and the strictest cloud (GCP).
 */
export function skypilotClusterName(deploymentId: string, replicaIndex: number): string {
  const head = deploymentId.toLowerCase().slice(0, 8).replace(/[^a-z0-9]/g, '-');
  return `${CLUSTER_PREFIX}${head}-r${replicaIndex}`;
}

// ── Task YAML ───────────────────────────────────────────────────────────────────────────────────

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml | undefined };

/** A YAML double-quoted scalar: JSON escapes plus \u/\U for anything outside printable ASCII. */
function quote(s: string): string {
  let out = '';
  for (const ch of JSON.stringify(s)) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out;
}

const yamlKey = (k: string) => (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : quote(k));

function yamlScalar(v: string | number | boolean | null): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : quote(String(v));
  return v === null ? 'null' : String(v);
}

/** Block-style YAML with every string quoted, so no value is ever read as another type. */
export function toYaml(value: Yaml, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) =>
        item !== null && typeof item === 'object' ? `${pad}-\n${toYaml(item, indent + 2)}` : `${pad}- ${yamlScalar(item)}\n`,
      )
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter((e): e is [string, Yaml] => e[1] !== undefined);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        if (v !== null && typeof v === 'object') {
          const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
          return empty ? `${pad}${yamlKey(k)}: ${Array.isArray(v) ? '[]' : '{}'}\n` : `${pad}${yamlKey(k)}:\n${toYaml(v, indent + 2)}`;
        }
        return `${pad}${yamlKey(k)}: ${yamlScalar(v)}\n`;
      })
      .join('');
  }
  return `${pad}${yamlScalar(value)}\n`;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string' && v.trim()) return [v.trim()];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.trim())) return v.map((x: string) => x.trim());
  return undefined;
}

/** `accelerators` of the task: as configured, else `<type>:<gpuPerReplica>` candidates tried in order. */
function acceleratorsFor(spec: EngineSpec): string | string[] | undefined {
  const configured = stringList(spec.configuration.accelerators);
  if (configured) return configured.length === 1 ? configured[0] : configured;
  if (spec.gpuPerReplica > 0) {
    const types = stringList(spec.configuration.gpu_type) ?? DEFAULT_GPU_CANDIDATES;
    const list = types.map((t) => `${t}:${spec.gpuPerReplica}`);
    return list.length === 1 ? list[0] : list;
  }
  return undefined;
}

interface EngineCommand {
  setup?: string;
  run: string;
  envs: Record<string, string>;
}

function engineCommand(spec: EngineSpec, cluster: string): EngineCommand {
  const cfg = spec.configuration;
  const extraEnvs: Record<string, string> = {};
  if (cfg.envs && typeof cfg.envs === 'object' && !Array.isArray(cfg.envs)) {
    for (const [k, v] of Object.entries(cfg.envs as Record<string, unknown>)) {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && (typeof v === 'string' || typeof v === 'number')) extraEnvs[k] = String(v);
    }
  }
  const setup = typeof cfg.setup === 'string' && cfg.setup.trim() ? cfg.setup : undefined;
  const cd = typeof cfg.remote_dir === 'string' && cfg.remote_dir.trim() ? `cd ${shellQuote(cfg.remote_dir)} && ` : '';
  switch (spec.engine) {
    case 'vllm': {
      const args = [
        'python -m vllm.entrypoints.openai.api_server',
        `--model ${shellQuote(spec.artifactUri)}`,
        `--served-model-name ${shellQuote(spec.model)}`,
        `--port ${ENGINE_PORT}`,
        '--host 0.0.0.0',
      ];
      if (spec.gpuPerReplica > 1) args.push(`--tensor-parallel-size ${spec.gpuPerReplica}`);
      return {
        // Install vLLM unless the image already has it; a configured setup replaces this.
        setup: setup ?? 'python -c "import vllm" 2>/dev/null || pip install vllm',
        run: `${cd}exec ${args.join(' ')}`,
        envs: extraEnvs,
      };
    }
    case 'mock':
      // The image (image_id) or remote_dir must hold an Inferia checkout with its node_modules.
      return {
        setup,
        run: `${cd}exec node --import tsx ${MOCK_ENGINE_ENTRY}`,
        envs: {
          ...extraEnvs,
          INFERIA_ENGINE_MODEL: spec.model,
          INFERIA_HEARTBEAT_URL: spec.heartbeat.url,
          INFERIA_NODE_TOKEN: spec.heartbeat.token,
          INFERIA_HEARTBEAT_INTERVAL_MS: String(spec.heartbeat.intervalMs),
          INFERIA_PROVIDER: 'skypilot',
          INFERIA_PROVIDER_INSTANCE_ID: cluster,
          INFERIA_ENGINE_HOST: '0.0.0.0',
          INFERIA_ENGINE_PORT: String(ENGINE_PORT),
          INFERIA_MOCK_TOKEN_DELAY_MS: String(cfg.token_delay_ms ?? 0),
        },
      };
    default:
      throw new ProviderConfigError(`engine '${spec.engine}' is not supported by the skypilot provider; use 'vllm' or 'mock'`);
  }
}

/** The task YAML for one replica (SkyPilot YAML spec: resources, envs, setup, run). */
export function engineTaskYaml(spec: EngineSpec, cluster: string): string {
  const { setup, run, envs } = engineCommand(spec, cluster);
  const accelerators = acceleratorsFor(spec);
  const image = typeof spec.configuration.image_id === 'string' ? spec.configuration.image_id : undefined;
  return toYaml({
    name: cluster,
    resources: { accelerators, image_id: image, ports: [ENGINE_PORT] },
    envs,
    setup,
    run,
  });
}

// ── Status mapping ──────────────────────────────────────────────────────────────────────────────

const LAUNCH_REQUEST_NAMES = new Set(['launch', 'sky.launch']);

function stateOf(status: string): NodeState {
  switch (status) {
    case 'UP':
      return 'READY';
    case 'INIT':
    case 'PENDING':
      return 'PROVISIONING';
    default:
      // STOPPED, AUTOSTOPPING, or a status this adapter does not know.
      return 'UNHEALTHY';
  }
}

/** GPU type and count from the record's accelerators/resources text, e.g. "{'A100': 1}" or "A100:1". */
function gpuOf(record: SkypilotClusterRecord): { gpuType?: string; gpuCount: number } {
  const text = [record.accelerators, record.resources_str].filter((t): t is string => typeof t === 'string').join(' ');
  const m = /'?([A-Za-z][A-Za-z0-9-]*)'?\s*:\s*(\d+(?:\.\d+)?)/.exec(text);
  return m ? { gpuType: m[1], gpuCount: Number(m[2]) } : { gpuCount: 0 };
}

const num = (v: unknown) => {
  const n = typeof v === 'number' ? v : Number.parseFloat(String(v ?? ''));
  return Number.isFinite(n) ? n : 0;
};

function toDiscovered(record: SkypilotClusterRecord): DiscoveredNode {
  return {
    providerInstanceId: record.name,
    state: stateOf(record.status),
    ...gpuOf(record),
    vcpu: num(record.cpus),
    ramGb: num(record.memory),
    metadata: clusterMetadata(record),
  };
}

function clusterMetadata(record: SkypilotClusterRecord): Record<string, unknown> {
  return {
    cluster_name: record.name,
    status: record.status,
    cloud: record.cloud ?? null,
    region: record.region ?? null,
    resources: record.resources_str ?? null,
    nodes: record.nodes ?? null,
    launched_at: record.launched_at ?? null,
  };
}

/** An endpoint is 'host:port' for VM clouds or a URL for some others (Kubernetes ingress). */
const toUrl = (endpoint: string) => (/^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`);

/** InstanceTypeInfo arrives as an array whose layout grew over releases (device_memory, region). */
function offerOf(raw: unknown): { cloud: string; instanceType: string | null; accelerator: string; count: number; vcpu: number; ramGb: number; price: number | null } | undefined {
  if (Array.isArray(raw) && raw.length >= 8) {
    const memIdx = raw.length >= 10 ? 6 : 5;
    const price = raw[memIdx + 1];
    return {
      cloud: String(raw[0]),
      instanceType: raw[1] == null ? null : String(raw[1]),
      accelerator: String(raw[2]),
      count: num(raw[3]),
      vcpu: num(raw[4]),
      ramGb: num(raw[memIdx]),
      price: typeof price === 'number' && Number.isFinite(price) ? price : null,
    };
  }
  if (raw && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    return {
      cloud: String(o.cloud ?? ''),
      instanceType: o.instance_type == null ? null : String(o.instance_type),
      accelerator: String(o.accelerator_name ?? ''),
      count: num(o.accelerator_count),
      vcpu: num(o.cpu_count),
      ramGb: num(o.memory),
      price: typeof o.price === 'number' ? o.price : null,
    };
  }
  return undefined;
}

// ── Adapter ─────────────────────────────────────────────────────────────────────────────────────

export function createSkypilotProvider(options: SkypilotProviderOptions): ProviderAdapter {
  const client = new SkypilotClient(options);

  const clusterRecord = async (name: string) => (await client.status([name])).find((c) => c.name === name);

  /** Launches the server has queued or is running for this cluster (no cluster row may exist yet). */
  const launchesInFlight = (requests: SkypilotRequestRecord[], name: string) =>
    requests.filter((r) => r.cluster_name === name && LAUNCH_REQUEST_NAMES.has(r.name) && (r.status === 'PENDING' || r.status === 'RUNNING'));

  async function stopCluster(id: string): Promise<void> {
    // A launch still queued would create the cluster after the down: cancel it first.
    const pending = launchesInFlight(await client.activeRequests(), id).map((r) => r.request_id);
    await client.cancelRequests(pending);
    await client.down(id); // 'absent' is success: stopping is idempotent
  }

  return {
    name: 'skypilot',

    async discoverNodes(): Promise<DiscoveredNode[]> {
      const clusters = await client.status();
      return clusters.filter((c) => c.name.startsWith(CLUSTER_PREFIX)).map(toDiscovered);
    },

    async getNodeMetadata(id) {
      const record = await clusterRecord(id);
      return record ? { exists: true, ...clusterMetadata(record) } : { exists: false, cluster_name: id };
    },

    async reconcile(known) {
      const [clusters, requests] = await Promise.all([client.status(), client.activeRequests()]);
      const names = new Set(clusters.map((c) => c.name));
      const discovered = clusters.filter((c) => c.name.startsWith(CLUSTER_PREFIX) && !known.includes(c.name)).map(toDiscovered);
      // An id whose launch is still queued has no cluster yet but has not vanished.
      const vanished = known.filter((id) => !names.has(id) && launchesInFlight(requests, id).length === 0);
      return { discovered, vanished };
    },

    async provisionNode(poolId) {
      // SkyPilot provisions a cluster per launch; a pool needs no capacity of its own.
      return `skypilot:${poolId}`;
    },

    async deprovisionNode(id) {
      if (id.startsWith('skypilot:')) return; // the pool placeholder of provisionNode
      await stopCluster(id);
    },

    async startEngine(spec: EngineSpec): Promise<EngineInstance> {
      const cluster = skypilotClusterName(spec.deploymentId, spec.replicaIndex);
      // Build the task first: an unsupported engine fails before any call to the API.
      const task = engineTaskYaml(spec, cluster);
      const existing = await clusterRecord(cluster);
      if (existing && (existing.status === 'UP' || existing.status === 'INIT')) {
        return { providerInstanceId: cluster, metadata: { reused: true, status: existing.status } };
      }
      if (!existing) {
        const queued = launchesInFlight(await client.activeRequests(), cluster)[0];
        if (queued) return { providerInstanceId: cluster, metadata: { reused: true, request_id: queued.request_id } };
      }
      const autostop = spec.configuration.idle_minutes_to_autostop;
      const requestId = await client.launch(
        {
          task,
          cluster_name: cluster,
          retry_until_up: spec.configuration.retry_until_up === true,
          ...(typeof autostop === 'number' && autostop >= 0 ? { idle_minutes_to_autostop: autostop, down: true } : {}),
        },
        { secrets: [spec.heartbeat.token] },
      );
      return { providerInstanceId: cluster, metadata: { request_id: requestId } };
    },

    async stopEngine(id) {
      await stopCluster(id);
    },

    async probeEngine(id): Promise<EngineProbe> {
      const record = await clusterRecord(id);
      if (!record) {
        const queued = launchesInFlight(await client.activeRequests(), id)[0];
        if (queued) return { state: 'PROVISIONING', message: `launch request ${queued.request_id} is ${queued.status.toLowerCase()}` };
        return { state: 'TERMINATED', message: `no SkyPilot cluster named ${id}` };
      }
      const state = stateOf(record.status);
      if (state !== 'READY') return { state, message: `cluster is ${record.status}` };
      try {
        const endpoints = await client.endpoints(id, ENGINE_PORT);
        const endpoint = endpoints[String(ENGINE_PORT)] ?? Object.values(endpoints)[0];
        return endpoint ? { state, exposeUrl: toUrl(endpoint) } : { state };
      } catch {
        // Ports not exposed yet (or not exposable on this cloud): heartbeats report the URL.
        return { state };
      }
    },

    async getLogs(id, opts = {}) {
      const record = await clusterRecord(id);
      if (!record || record.status !== 'UP') return [];
      return client.tailLogs(id, opts.tail ?? 200);
    },

    async listResources(): Promise<ProviderResource[]> {
      const [catalog, enabled] = await Promise.all([client.listAccelerators(), client.enabledClouds()]);
      const enabledClouds = new Set(enabled.map((c) => c.toLowerCase()));
      const resources = new Map<string, ProviderResource>();
      for (const offers of Object.values(catalog)) {
        for (const raw of Array.isArray(offers) ? offers : []) {
          const offer = offerOf(raw);
          if (!offer) continue;
          const name = `${offer.cloud}:${offer.instanceType ?? `${offer.accelerator}:${offer.count}`}`;
          if (resources.has(name)) continue;
          resources.set(name, {
            name,
            gpuType: offer.accelerator || null,
            gpuCount: offer.count,
            vcpu: offer.vcpu,
            ramGb: offer.ramGb,
            pricePerHour: offer.price,
            available: enabledClouds.has(offer.cloud.toLowerCase()),
          });
        }
      }
      return [...resources.values()];
    },
  };
}

/** Registry entry (lib/providers.ts). */
export const createProvider = (config: Config): ProviderAdapter => createSkypilotProvider(config.providers.skypilot);
