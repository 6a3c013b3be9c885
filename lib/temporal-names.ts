// Names shared by workflows, the worker and the gateways. Imported by workflow code, so it
// must stay free of Node builtins and I/O.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ORCHESTRATION_TASK_QUEUE = 'inferia-orchestration';

export const workflowIds = {
  deployment: (deploymentId: string) => `deployment:${deploymentId}`,
  pool: (poolId: string) => `pool:${poolId}`,
  reconcile: (provider: string) => `reconcile:${provider}`,
  batch: (batchId: string) => `batch:${batchId}`,
} as const;

/** Custom search attributes, registered on the dev server by `inferia up` (see lib/local-services). */
export const searchAttributes = {
  deploymentId: defineSearchAttributeKey('InferiaDeploymentId', SearchAttributeType.KEYWORD),
  orgId: defineSearchAttributeKey('InferiaOrgId', SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey('InferiaProvider', SearchAttributeType.KEYWORD),
  model: defineSearchAttributeKey('InferiaModel', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('InferiaStatus', SearchAttributeType.KEYWORD),
} as const;

/** `name=Type` pairs for `temporal server start-dev --search-attribute` and operator docs. */
export const searchAttributeFlags: string[] = Object.values(searchAttributes).map((k) => `${k.name}=Keyword`);
