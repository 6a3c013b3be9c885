// The one interface every compute provider implements (seed 000: discover_nodes,
// get_node_metadata, reconcile, provision_node), plus what a deployment needs to run an engine.
// Only activities call these methods.

import type { NodeStateName } from '../../lib/providers.js';

export type NodeState = NodeStateName;

export interface EngineSpec {
  deploymentId: string;
  replicaIndex: number;
  poolId: string;
  /** Engine family: mock, vllm, llama.cpp. */
  engine: string;
  /** The name clients send as `model`. */
  model: string;
  artifactUri: string;
  gpuPerReplica: number;
  configuration: Record<string, unknown>;
  /** Where and how the node reports itself (POST /inventory/heartbeat). */
  heartbeat: { url: string; token: string; intervalMs: number };
}

export interface EngineInstance {
  providerInstanceId: string;
  /** Known at once for some providers; others report it in their first heartbeat. */
  exposeUrl?: string;
  metadata: Record<string, unknown>;
}

export interface DiscoveredNode {
  providerInstanceId: string;
  state: NodeState;
  gpuType?: string;
  gpuCount: number;
  vcpu: number;
  ramGb: number;
  exposeUrl?: string;
  metadata: Record<string, unknown>;
}

export interface ProviderResource {
  name: string;
  gpuType: string | null;
  gpuCount: number;
  vcpu: number;
  ramGb: number;
  pricePerHour: number | null;
  available: boolean;
}

/** An engine instance as its provider sees it right now (pod ready, job running, process alive). */
export interface EngineProbe {
  state: NodeState;
  exposeUrl?: string;
  /** Why, when not READY (pod pending, job queued, …). */
  message?: string;
}

export interface ReconcileResult {
  /** Nodes the provider has that the caller did not know. */
  discovered: DiscoveredNode[];
  /** Known instance ids the provider no longer has. */
  vanished: string[];
}

export interface ProviderAdapter {
  readonly name: string;
  /**
   * Whether this adapter answers for an instance id. A host-scoped provider (local) owns only its
   * own host's engines, so reconciliation on one host never condemns another's. Default: all.
   */
  owns?(providerInstanceId: string): boolean;
  discoverNodes(): Promise<DiscoveredNode[]>;
  getNodeMetadata(providerInstanceId: string): Promise<Record<string, unknown>>;
  reconcile(knownInstanceIds: string[]): Promise<ReconcileResult>;
  /** Makes provider-side capacity for a pool; returns the provider's id for it. */
  provisionNode(poolId: string, config: Record<string, unknown>): Promise<string>;
  deprovisionNode(providerInstanceId: string): Promise<void>;
  /** Idempotent: starting an engine that already runs returns the running one. */
  startEngine(spec: EngineSpec): Promise<EngineInstance>;
  /** Idempotent: stopping an engine that is gone succeeds. */
  stopEngine(providerInstanceId: string): Promise<void>;
  /**
   * Readiness as the provider reports it, for engines that have no node agent to heartbeat
   * (a vLLM pod, a cloud VM). A vanished instance is TERMINATED.
   */
  probeEngine(providerInstanceId: string): Promise<EngineProbe>;
  getLogs(providerInstanceId: string, options?: { tail?: number }): Promise<string[]>;
  listResources(): Promise<ProviderResource[]>;
}

/** A provider's failure that retrying cannot fix (bad config, unsupported engine). */
export class ProviderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderConfigError';
  }
}
