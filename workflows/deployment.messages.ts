// The deployment workflow's contract: its input, state and messages. Gateways import this file
// (never the workflow itself) to start, update, signal and query deployments.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export type DeploymentStatus = 'PENDING' | 'DEPLOYING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED' | 'DELETED';
export type ReplicaNodeState = 'PENDING' | 'PROVISIONING' | 'READY' | 'BUSY' | 'UNHEALTHY' | 'TERMINATED';

export interface DeploymentSpec {
  deploymentId: string;
  orgId: string;
  poolId: string;
  provider: string;
  engine: string;
  /** The name clients send as `model` on /v1 (seed: inference_model). */
  inferenceModel: string;
  modelName: string;
  modelVersion: string;
  artifactUri: string;
  replicas: number;
  gpuPerReplica: number;
  configuration: Record<string, unknown>;
  /** Seconds to wait for every replica's first READY heartbeat. */
  readyTimeoutSeconds: number;
  /** Continue as new once history is this long (or when the server suggests it). Default 10,000. */
  continueAsNewAfterEvents?: number;
}

export interface ReplicaView {
  index: number;
  providerInstanceId: string | null;
  nodeId: string | null;
  state: ReplicaNodeState;
  exposeUrl: string | null;
}

export interface DeploymentView {
  deploymentId: string;
  status: DeploymentStatus;
  reason: string | null;
  desired: 'RUNNING' | 'STOPPED' | 'DELETED';
  /** Target replica count (changed by `scale`). */
  targetReplicas: number;
  replicas: ReplicaView[];
  /** Replicas replaced since the deployment last became RUNNING. */
  replacements: number;
}

/** A node's state changed (sent by the orchestration gateway on a heartbeat that changes state). */
export interface NodeEvent {
  providerInstanceId: string;
  state: Exclude<ReplicaNodeState, 'PENDING'>;
  exposeUrl: string | null;
}

export interface ScaleRequest {
  replicas: number;
}

export const MAX_REPLICAS = 64;

export const startUpdate = defineUpdate<DeploymentView>('start');
export const scaleUpdate = defineUpdate<DeploymentView, [ScaleRequest]>('scale');
export const terminateUpdate = defineUpdate<DeploymentView>('terminate');
export const deleteUpdate = defineUpdate<DeploymentView>('delete');
export const nodeEventSignal = defineSignal<[NodeEvent]>('nodeEvent');
export const statusQuery = defineQuery<DeploymentView>('status');

/** Update names a caller may send, with the states each is accepted from. */
export const TRANSITIONS = {
  start: ['STOPPED', 'FAILED'],
  terminate: ['PENDING', 'DEPLOYING', 'RUNNING'],
  delete: ['STOPPED', 'FAILED'],
  scale: ['DEPLOYING', 'RUNNING', 'STOPPED', 'FAILED'],
} as const satisfies Record<string, readonly DeploymentStatus[]>;
