// Every workflow the orchestration worker runs (the worker bundles this file).
export { deploymentWorkflow } from './deployment.workflow.js';
export { poolWorkflow } from './pool.workflow.js';
export { reconcileProviderWorkflow } from './reconcile.workflow.js';
export { batchWorkflow } from './batch.workflow.js';
