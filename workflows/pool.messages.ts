// The pool workflow's contract: input, view and messages, imported by gateways.
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export type PoolStatus = 'PROVISIONING' | 'ACTIVE' | 'DELETING' | 'DELETED' | 'FAILED';

export interface PoolSpec {
  poolId: string;
  orgId: string;
  provider: string;
  providerPoolId: string | null;
  config: Record<string, unknown>;
}

export interface PoolView {
  poolId: string;
  status: PoolStatus;
  reason: string | null;
  providerPoolId: string | null;
}

export const poolStatusQuery = defineQuery<PoolView>('status');
/** Resolves once the pool has left PROVISIONING (ACTIVE or FAILED): createpool waits on it. */
export const awaitProvisionedUpdate = defineUpdate<PoolView>('awaitProvisioned');
/** Deletes the pool; refused while a deployment uses it. Resolves once it is DELETED. */
export const deletePoolUpdate = defineUpdate<PoolView>('delete');
