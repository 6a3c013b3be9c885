// The orchestration service layer: one implementation behind both HTTP and gRPC. It validates
// and authorises, reads projections from Postgres, and starts, updates, signals or queries
// workflows. It never calls a provider: that is the workflows' activities' job.
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { audit } from '../../lib/audit.js';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual, keyedHash } from '../../lib/crypto.js';
import type { Db } from '../../lib/db.js';
import { DEPLOYMENT_LOG_MAXLEN, channels, deploymentLogsKey, providerResourcesKey, type Redis } from '../../lib/redis.js';
import { AppError, assertNever, badRequest, conflict, notFound } from '../../lib/errors.js';
import { requirePermission, resolveOrg, type Caller } from '../../lib/http/auth.js';
import { searchAttributes, workflowIds } from '../../lib/temporal-names.js';
import { temporalUiLink } from '../../lib/temporal.js';
import {
  deleteUpdate,
  nodeEventSignal,
  scaleUpdate,
  startUpdate,
  statusQuery,
  terminateUpdate,
  type DeploymentSpec,
  type DeploymentView,
} from '../../workflows/deployment.messages.js';
import type { deploymentWorkflow } from '../../workflows/deployment.workflow.js';
import { awaitProvisionedUpdate, deletePoolUpdate, type PoolSpec } from '../../workflows/pool.messages.js';
import type { poolWorkflow } from '../../workflows/pool.workflow.js';
import type { CreatePoolInput, DeleteModelInput, DeployInput, HeartbeatInput, LogsInput, RegisterModelInput } from './schemas.js';

export interface OrchestrationDeps {
  db: Db;
  temporal: Client;
  /** Provider resources cached by reconciliation. */
  redis?: Redis;
  config: Config;
  taskQueue?: string;
  log?: { warn: (obj: object, msg: string) => void };
}

/** Where a request came from, for the audit log. */
export interface RequestMeta {
  ip?: string | null;
  requestId?: string | null;
}

type ModelRow = Awaited<ReturnType<Db['registeredModel']['findFirstOrThrow']>>;
type PoolRow = Awaited<ReturnType<Db['computePool']['findFirstOrThrow']>>;
type NodeRow = Awaited<ReturnType<Db['inventoryNode']['findFirstOrThrow']>>;
type DeploymentRow = Awaited<ReturnType<Db['deployment']['findFirstOrThrow']>>;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** A log stream entry as the API returns it. */
export function logEntry(id: string, fields: string[]) {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return { id, ts: f.ts ?? null, replica: Number(f.replica ?? 0), instance: f.instance ?? null, line: f.line ?? '' };
}

export function modelView(m: ModelRow) {
  return {
    model_id: m.id,
    model_name: m.modelName,
    model_version: m.modelVersion,
    backend: m.backend,
    artifact_uri: m.artifactUri,
    config_json: m.configJson as Record<string, unknown>,
    org_id: m.orgId,
    created_at: iso(m.createdAt),
  };
}

export function poolView(p: PoolRow) {
  return {
    pool_id: p.id,
    pool_name: p.poolName,
    owner_type: p.ownerType,
    owner_id: p.ownerId,
    org_id: p.orgId,
    provider: p.provider,
    allowed_gpu_types: p.allowedGpuTypes,
    max_cost_per_hour: p.maxCostPerHour,
    is_dedicated: p.isDedicated,
    provider_pool_id: p.providerPoolId,
    scheduling_policy_json: p.schedulingPolicyJson as Record<string, unknown>,
    status: p.status,
    created_at: iso(p.createdAt),
  };
}

export function nodeView(n: NodeRow) {
  return {
    node_id: n.id,
    pool_id: n.poolId,
    provider: n.provider,
    provider_instance_id: n.providerInstanceId,
    state: n.state,
    gpu_type: n.gpuType,
    gpu_allocated: n.gpuAllocated,
    vcpu_allocated: n.vcpuAllocated,
    ram_gb_allocated: n.ramGbAllocated,
    health_score: n.healthScore,
    expose_url: n.exposeUrl,
    deployment_id: n.deploymentId,
    replica_index: n.replicaIndex,
    last_heartbeat_at: iso(n.lastHeartbeatAt),
  };
}

export class OrchestrationService {
  private readonly taskQueue: string;

  constructor(private readonly deps: OrchestrationDeps) {
    this.taskQueue = deps.taskQueue ?? deps.config.temporal.taskQueue;
  }

  /**
   * Records an accepted change. Infrastructure changes live in workflows, not in one database
   * transaction, so the row is written once the workflow took the change (never for a refused one).
   */
  private async audit(
    caller: Caller,
    orgId: string,
    action: string,
    resourceType: string,
    resourceId: string,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
    meta: RequestMeta,
  ) {
    try {
      await audit(this.deps.db, { orgId, actor: caller, action, resourceType, resourceId, before, after, ...meta });
    } catch (err) {
      this.deps.log?.warn({ err, action, resourceId }, 'could not write the audit row');
    }
  }

  // ───────────────────────────── model registry ─────────────────────────────

  async registerModel(caller: Caller, input: RegisterModelInput, meta: RequestMeta = {}) {
    requirePermission(caller, 'models:write');
    const orgId = resolveOrg(caller, input.org_id);
    try {
      const m = await this.deps.db.$transaction(async (tx) => {
        const created = await tx.registeredModel.create({
          data: {
            orgId,
            modelName: input.model_name,
            modelVersion: input.model_version,
            backend: input.backend,
            artifactUri: input.artifact_uri,
            configJson: input.config_json as object,
          },
        });
        await audit(tx, {
          orgId,
          actor: caller,
          action: 'model.register',
          resourceType: 'model',
          resourceId: created.id,
          after: { model_name: created.modelName, model_version: created.modelVersion, backend: created.backend },
          ...meta,
        });
        return created;
      });
      return modelView(m);
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') {
        throw conflict(`model ${input.model_name} version ${input.model_version} is already registered`, { field: 'model_version' });
      }
      throw err;
    }
  }

  async getModel(caller: Caller, name: string, version: string, orgHint?: string) {
    requirePermission(caller, 'models:read');
    const orgId = resolveOrg(caller, orgHint);
    const m = await this.deps.db.registeredModel.findFirst({ where: { orgId, modelName: name, modelVersion: version } });
    if (!m) throw notFound(`model ${name} version ${version}`);
    return modelView(m);
  }

  async listModels(caller: Caller, name: string | undefined, orgHint?: string) {
    requirePermission(caller, 'models:read');
    const orgId = resolveOrg(caller, orgHint);
    const rows = await this.deps.db.registeredModel.findMany({
      where: { orgId, ...(name ? { modelName: name } : {}) },
      orderBy: [{ modelName: 'asc' }, { createdAt: 'desc' }],
      take: 500,
    });
    return rows.map(modelView);
  }

  async deleteModel(caller: Caller, input: DeleteModelInput, meta: RequestMeta = {}) {
    requirePermission(caller, 'models:write');
    const orgId = resolveOrg(caller, input.org_id);
    const m = await this.deps.db.registeredModel.findFirst({ where: { orgId, modelName: input.model_name, modelVersion: input.model_version } });
    if (!m) throw notFound(`model ${input.model_name} version ${input.model_version}`);
    const inUse = await this.deps.db.deployment.count({ where: { modelId: m.id } });
    if (inUse > 0) throw conflict(`model ${input.model_name} version ${input.model_version} is used by ${inUse} deployment(s); delete them first`);
    await this.deps.db.$transaction(async (tx) => {
      await tx.registeredModel.delete({ where: { id: m.id } });
      await audit(tx, { orgId, actor: caller, action: 'model.delete', resourceType: 'model', resourceId: m.id, before: { model_name: m.modelName, model_version: m.modelVersion }, ...meta });
    });
    return { deleted: true, model_name: m.modelName, model_version: m.modelVersion };
  }

  // ───────────────────────────── compute pools ─────────────────────────────

  async createPool(caller: Caller, input: CreatePoolInput, meta: RequestMeta = {}) {
    requirePermission(caller, 'pools:write');
    const orgId = resolveOrg(caller, input.org_id);
    const ownerId = input.owner_id ?? (input.owner_type === 'org' ? orgId : caller.kind === 'user' ? caller.userId : orgId);
    if (input.owner_type === 'org' && ownerId !== orgId) throw badRequest("owner_id must be the caller's organization for owner_type org", 'owner_id');
    const id = randomUUID();
    const workflowId = workflowIds.pool(id);
    let pool = await this.deps.db.computePool.create({
      data: {
        id,
        orgId,
        poolName: input.pool_name,
        ownerType: input.owner_type,
        ownerId,
        provider: input.provider,
        allowedGpuTypes: input.allowed_gpu_types,
        maxCostPerHour: input.max_cost_per_hour ?? null,
        isDedicated: input.is_dedicated,
        providerPoolId: input.provider_pool_id ?? null,
        schedulingPolicyJson: input.scheduling_policy_json as object,
        status: 'PROVISIONING',
        workflowId,
      },
    });
    try {
      // Start the pool's workflow and wait (briefly) for it to provision: most providers answer in
      // well under a second; a slow one leaves the pool PROVISIONING and the caller polls.
      await this.deps.temporal.withDeadline(Date.now() + 15_000, () =>
        this.deps.temporal.workflow.executeUpdateWithStart(awaitProvisionedUpdate, {
          startWorkflowOperation: this.poolStart(pool, 'FAIL'),
        }),
      );
    } catch (err) {
      if (!(err instanceof Error && /deadline|DEADLINE_EXCEEDED/i.test(err.message))) {
        await this.deps.db.computePool.delete({ where: { id } }).catch(() => undefined);
        this.deps.log?.warn({ err }, 'could not start pool workflow');
        throw new AppError('unavailable', 'the orchestration engine (Temporal) is unreachable; no pool was created');
      }
    }
    pool = (await this.deps.db.computePool.findUnique({ where: { id } })) ?? pool;
    await this.audit(caller, orgId, 'pool.create', 'pool', id, null, { pool_name: pool.poolName, provider: pool.provider, status: pool.status }, meta);
    return poolView(pool);
  }

  private poolStart(pool: PoolRow, conflict: 'FAIL' | 'USE_EXISTING') {
    const spec: PoolSpec = {
      poolId: pool.id,
      orgId: pool.orgId,
      provider: pool.provider,
      providerPoolId: pool.providerPoolId,
      config: {
        allowed_gpu_types: pool.allowedGpuTypes,
        max_cost_per_hour: pool.maxCostPerHour,
        is_dedicated: pool.isDedicated,
        scheduling_policy: pool.schedulingPolicyJson,
      },
    };
    return new WithStartWorkflowOperation<typeof poolWorkflow>('poolWorkflow', {
      workflowId: workflowIds.pool(pool.id),
      taskQueue: this.taskQueue,
      args: [spec],
      workflowIdConflictPolicy: conflict,
      typedSearchAttributes: [
        { key: searchAttributes.orgId, value: pool.orgId },
        { key: searchAttributes.provider, value: pool.provider },
      ],
      memo: { pool: pool.poolName },
    });
  }

  async listPools(caller: Caller, ownerId: string) {
    requirePermission(caller, 'pools:read');
    const where = caller.kind === 'user' ? { orgId: caller.orgId, ownerId, deletedAt: null } : { ownerId, deletedAt: null };
    const rows = await this.deps.db.computePool.findMany({ where, orderBy: { createdAt: 'desc' }, take: 500 });
    return rows.map(poolView);
  }

  private async poolFor(caller: Caller, poolId: string): Promise<PoolRow> {
    const pool = await this.deps.db.computePool.findFirst({
      where: { id: poolId, deletedAt: null, ...(caller.kind === 'user' ? { orgId: caller.orgId } : {}) },
    });
    if (!pool) throw notFound(`pool ${poolId}`);
    return pool;
  }

  async poolInventory(caller: Caller, poolId: string) {
    requirePermission(caller, 'inventory:read');
    const pool = await this.poolFor(caller, poolId);
    const nodes = await this.deps.db.inventoryNode.findMany({ where: { poolId: pool.id }, orderBy: { createdAt: 'asc' }, take: 1000 });
    return { pool_id: pool.id, provider: pool.provider, nodes: nodes.map(nodeView) };
  }

  async deletePool(caller: Caller, poolId: string, meta: RequestMeta = {}) {
    requirePermission(caller, 'pools:write');
    const pool = await this.poolFor(caller, poolId);
    const using = await this.deps.db.deployment.count({ where: { poolId: pool.id } });
    if (using > 0) throw conflict(`pool ${pool.poolName} is used by ${using} deployment(s); delete them first`, { deployments: using });
    try {
      // Update-with-start: a pool created before it had a workflow (the seeded ones) gets one now.
      const view = await this.deps.temporal.withDeadline(Date.now() + 30_000, () =>
        this.deps.temporal.workflow.executeUpdateWithStart(deletePoolUpdate, { startWorkflowOperation: this.poolStart(pool, 'USE_EXISTING') }),
      );
      await this.audit(caller, pool.orgId, 'pool.delete', 'pool', pool.id, { pool_name: pool.poolName, status: pool.status }, { status: view.status }, meta);
      return { pool_id: pool.id, deleted: view.status === 'DELETED', status: view.status };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw conflict((err.cause as Error | undefined)?.message ?? 'pool cannot be deleted now');
      }
      this.deps.log?.warn({ err }, 'pool delete failed');
      throw new AppError('unavailable', 'the orchestration engine did not accept the delete in time; retry shortly');
    }
  }

  // ───────────────────────────── deployments ─────────────────────────────

  async deploy(caller: Caller, input: DeployInput, meta: RequestMeta = {}) {
    requirePermission(caller, 'deployments:write');
    const orgId = resolveOrg(caller, input.org_id);
    const { db, temporal, config } = this.deps;
    const pool = await db.computePool.findFirst({ where: { id: input.pool_id, orgId, deletedAt: null } });
    if (!pool) throw new AppError('not_found', `pool ${input.pool_id} not found`, { field: 'pool_id' });
    if (pool.status !== 'ACTIVE') throw conflict(`pool ${pool.poolName} is ${pool.status}`, { field: 'pool_id' });
    const model = await db.registeredModel.findFirst({ where: { orgId, modelName: input.model_name, modelVersion: input.model_version } });
    if (!model) {
      throw new AppError('not_found', `model ${input.model_name} version ${input.model_version} is not registered`, { field: 'model_name' });
    }
    const engine = input.engine ?? model.backend;
    const id = randomUUID();
    const workflowId = workflowIds.deployment(id);
    const spec: DeploymentSpec = {
      deploymentId: id,
      orgId,
      poolId: pool.id,
      provider: pool.provider,
      engine,
      inferenceModel: input.inference_model ?? model.modelName,
      modelName: model.modelName,
      modelVersion: model.modelVersion,
      artifactUri: model.artifactUri,
      replicas: input.replicas,
      gpuPerReplica: input.gpu_per_replica,
      configuration: { ...(model.configJson as Record<string, unknown>), ...input.configuration },
      readyTimeoutSeconds: config.engineReadyTimeoutSeconds,
    };
    await db.deployment.create({
      data: {
        id,
        orgId,
        ownerId: input.owner_id ?? (caller.kind === 'user' ? caller.userId : orgId),
        modelId: model.id,
        modelName: model.modelName,
        modelVersion: model.modelVersion,
        inferenceModel: spec.inferenceModel,
        replicas: spec.replicas,
        gpuPerReplica: spec.gpuPerReplica,
        poolId: pool.id,
        workloadType: input.workload_type,
        engine,
        configuration: spec.configuration as object,
        status: 'PENDING',
        workflowId,
      },
    });
    try {
      await temporal.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', {
        taskQueue: this.taskQueue,
        workflowId,
        args: [spec],
        typedSearchAttributes: [
          { key: searchAttributes.deploymentId, value: id },
          { key: searchAttributes.orgId, value: orgId },
          { key: searchAttributes.provider, value: pool.provider },
          { key: searchAttributes.model, value: spec.inferenceModel },
          { key: searchAttributes.status, value: 'PENDING' },
        ],
        memo: { model: `${model.modelName}@${model.modelVersion}`, pool: pool.poolName, replicas: spec.replicas, engine },
      });
    } catch (err) {
      await db.deployment.delete({ where: { id } }).catch(() => undefined);
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw conflict('deployment workflow already exists');
      this.deps.log?.warn({ err }, 'could not start deployment workflow');
      throw new AppError('unavailable', 'the orchestration engine (Temporal) is unreachable; nothing was deployed');
    }
    await this.audit(
      caller,
      orgId,
      'deployment.deploy',
      'deployment',
      id,
      null,
      { model: `${model.modelName}@${model.modelVersion}`, inference_model: spec.inferenceModel, pool_id: pool.id, replicas: spec.replicas, engine },
      meta,
    );
    return { deployment_id: id, status: 'PENDING', workflow_id: workflowId };
  }

  async listDeployments(caller: Caller, orgHint?: string) {
    requirePermission(caller, 'deployments:read');
    const orgId = caller.kind === 'service' && !orgHint ? undefined : resolveOrg(caller, orgHint);
    const rows = await this.deps.db.deployment.findMany({
      where: orgId ? { orgId } : {},
      orderBy: { createdAt: 'desc' },
      take: 500,
    });
    return rows.map((d) => this.deploymentView(d));
  }

  private deploymentView(d: DeploymentRow) {
    return {
      deployment_id: d.id,
      org_id: d.orgId,
      owner_id: d.ownerId,
      model_name: d.modelName,
      model_version: d.modelVersion,
      inference_model: d.inferenceModel,
      replicas: d.replicas,
      gpu_per_replica: d.gpuPerReplica,
      pool_id: d.poolId,
      workload_type: d.workloadType,
      engine: d.engine,
      configuration: d.configuration as Record<string, unknown>,
      status: d.status,
      status_reason: d.statusReason,
      workflow_id: d.workflowId,
      temporal_ui_url: temporalUiLink(this.deps.config, d.workflowId),
      created_at: iso(d.createdAt),
      updated_at: iso(d.updatedAt),
    };
  }

  private async deploymentFor(caller: Caller, deploymentId: string): Promise<DeploymentRow> {
    const d = await this.deps.db.deployment.findFirst({
      where: { id: deploymentId, ...(caller.kind === 'user' ? { orgId: caller.orgId } : {}) },
    });
    if (!d) throw notFound(`deployment ${deploymentId}`);
    return d;
  }

  /**
   * The Postgres projection, with nodes and recent events. `live` adds the workflow's own view
   * (its status query), or `null` when the workflow cannot answer right now.
   */
  async getDeployment(caller: Caller, deploymentId: string, options: { live?: boolean } = {}) {
    requirePermission(caller, 'deployments:read');
    const d = await this.deploymentFor(caller, deploymentId);
    const [nodes, events, workflowState] = await Promise.all([
      this.deps.db.inventoryNode.findMany({ where: { deploymentId: d.id }, orderBy: { replicaIndex: 'asc' } }),
      this.deps.db.deploymentEvent.findMany({ where: { deploymentId: d.id }, orderBy: { at: 'desc' }, take: 50 }),
      options.live
        ? this.deps.temporal
            .withDeadline(Date.now() + 5000, () => this.deps.temporal.workflow.getHandle(d.workflowId).query(statusQuery))
            .catch(() => null)
        : undefined,
    ]);
    return {
      ...this.deploymentView(d),
      nodes: nodes.map(nodeView),
      events: events.map((e) => ({ at: iso(e.at), kind: e.kind, message: e.message })),
      ...(options.live ? { workflow_state: workflowState } : {}),
    };
  }

  /** Sends a lifecycle update to the deployment's workflow; its validator decides if the transition is allowed. */
  private async lifecycle(
    caller: Caller,
    deploymentId: string,
    action: 'start' | 'terminate' | 'delete' | 'scale',
    meta: RequestMeta,
    replicas?: number,
  ): Promise<DeploymentView> {
    requirePermission(caller, 'deployments:write');
    const d = await this.deploymentFor(caller, deploymentId);
    const handle = this.deps.temporal.workflow.getHandle(d.workflowId);
    try {
      const view = await this.deps.temporal.withDeadline(Date.now() + 20_000, () => {
        switch (action) {
          case 'start':
            return handle.executeUpdate(startUpdate);
          case 'terminate':
            return handle.executeUpdate(terminateUpdate);
          case 'delete':
            return handle.executeUpdate(deleteUpdate);
          case 'scale':
            return handle.executeUpdate(scaleUpdate, { args: [{ replicas: replicas ?? 0 }] });
          default:
            return assertNever(action);
        }
      });
      await this.audit(
        caller,
        d.orgId,
        `deployment.${action}`,
        'deployment',
        d.id,
        { status: d.status, replicas: d.replicas },
        { status: view.status, ...(action === 'scale' ? { replicas: view.targetReplicas } : {}) },
        meta,
      );
      return view;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause as { message?: string; type?: string } | undefined;
        throw conflict(cause?.message ?? `cannot ${action} deployment`, { status: d.status });
      }
      if (err instanceof WorkflowNotFoundError) throw conflict(`deployment ${d.id} has no running workflow (status ${d.status})`);
      this.deps.log?.warn({ err }, `deployment ${action} failed`);
      throw new AppError('unavailable', `the orchestration engine did not accept '${action}' in time; retry shortly`);
    }
  }

  async start(caller: Caller, deploymentId: string, meta: RequestMeta = {}) {
    const view = await this.lifecycle(caller, deploymentId, 'start', meta);
    return { deployment_id: deploymentId, status: view.status, desired_state: view.desired };
  }

  async terminate(caller: Caller, deploymentId: string, meta: RequestMeta = {}) {
    const view = await this.lifecycle(caller, deploymentId, 'terminate', meta);
    return { deployment_id: deploymentId, status: view.status, desired_state: view.desired };
  }

  async scale(caller: Caller, deploymentId: string, replicas: number, meta: RequestMeta = {}) {
    const view = await this.lifecycle(caller, deploymentId, 'scale', meta, replicas);
    return { deployment_id: deploymentId, status: view.status, replicas: view.targetReplicas };
  }

  async delete(caller: Caller, deploymentId: string, meta: RequestMeta = {}) {
    const view = await this.lifecycle(caller, deploymentId, 'delete', meta);
    return { deployment_id: deploymentId, status: view.status, desired_state: view.desired };
  }

  // ───────────────────────────── inventory ─────────────────────────────

  /** What a provider offers, as its last reconciliation reported (the gateway never calls a provider). */
  async providerResources(caller: Caller, provider: string) {
    requirePermission(caller, 'inventory:read');
    const cached = await this.deps.redis?.get(providerResourcesKey(provider));
    if (!cached) {
      throw new AppError('unavailable', `no resources reported for provider '${provider}' yet: its reconciliation runs every ${this.deps.config.reconcileIntervalSeconds} s`);
    }
    const parsed = JSON.parse(cached) as { fetched_at: string; resources: Record<string, unknown>[] };
    return {
      provider,
      fetched_at: parsed.fetched_at,
      resources: parsed.resources.map((r) => ({
        name: r.name,
        gpu_type: r.gpuType,
        gpu_count: r.gpuCount,
        vcpu: r.vcpu,
        ram_gb: r.ramGb,
        price_per_hour: r.pricePerHour,
        available: r.available,
      })),
    };
  }

  /**
   * A node reports itself. Inventory is updated on every beat; the deployment's workflow is
   * signalled only when the state changes, so steady heartbeats never grow workflow history.
   */
  /** The node presenting this token; the same answer for an unknown node and a bad token. */
  private async authenticateNode(token: string | undefined, provider: string, providerInstanceId: string): Promise<NodeRow> {
    const node = await this.deps.db.inventoryNode.findUnique({ where: { provider_providerInstanceId: { provider, providerInstanceId } } });
    const tokenOk =
      node?.nodeTokenHash && token !== undefined && constantTimeEqual(keyedHash(this.deps.config.secrets.apiKeyPepper, token), node.nodeTokenHash);
    if (!node || !tokenOk) throw new AppError('unauthorized', 'unknown node or invalid node token');
    return node;
  }

  /** A node agent ships engine output; it lands in the deployment's capped log stream. */
  async ingestLogs(nodeTokenPresented: string | undefined, input: LogsInput) {
    const node = await this.authenticateNode(nodeTokenPresented, input.provider, input.provider_instance_id);
    if (!node.deploymentId || !this.deps.redis) return { accepted: 0 };
    const key = deploymentLogsKey(node.deploymentId);
    const pipeline = this.deps.redis.pipeline();
    for (const entry of input.lines) {
      pipeline.xadd(key, 'MAXLEN', '~', DEPLOYMENT_LOG_MAXLEN, '*', 'ts', entry.ts, 'replica', String(node.replicaIndex ?? 0), 'instance', node.providerInstanceId, 'line', entry.line);
    }
    pipeline.expire(key, 7 * 24 * 3600);
    await pipeline.exec();
    return { accepted: input.lines.length };
  }

  /** Recent output of every replica, oldest first. */
  async logs(caller: Caller, deploymentId: string, tail: number) {
    requirePermission(caller, 'deployments:read');
    const d = await this.deploymentFor(caller, deploymentId);
    const entries = this.deps.redis ? await this.deps.redis.xrevrange(deploymentLogsKey(d.id), '+', '-', 'COUNT', tail) : [];
    return { deployment_id: d.id, lines: entries.reverse().map(([id, fields]) => logEntry(id, fields)) };
  }

  /** Where to open the live log stream: a WebSocket URL carrying a short-lived ticket for this deployment. */
  async logStream(caller: Caller, deploymentId: string, baseUrl: string) {
    requirePermission(caller, 'deployments:read');
    const d = await this.deploymentFor(caller, deploymentId);
    const ticket = jwt.sign({ scope: 'logs' }, this.deps.config.secrets.jwtSecret, {
      algorithm: 'HS256',
      subject: d.id,
      audience: 'inferia-log-stream',
      issuer: this.deps.config.jwt.issuer,
      expiresIn: 60,
    });
    const ws = baseUrl.replace(/^http/, 'ws');
    return {
      deployment_id: d.id,
      websocket_url: `${ws}/deployment/logs/${d.id}/ws?ticket=${encodeURIComponent(ticket)}`,
      protocol: 'Each message is one JSON object: {id, ts, replica, instance, line}. The ticket is good for 60 s.',
      expires_in: 60,
    };
  }

  /** Checks a log-stream ticket; returns the deployment it opens. */
  verifyLogTicket(ticket: string | undefined, deploymentId: string): void {
    try {
      const claims = jwt.verify(ticket ?? '', this.deps.config.secrets.jwtSecret, {
        algorithms: ['HS256'],
        audience: 'inferia-log-stream',
        issuer: this.deps.config.jwt.issuer,
      });
      if (typeof claims !== 'object' || claims.sub !== deploymentId) throw new Error('wrong deployment');
    } catch {
      throw new AppError('unauthorized', 'invalid or expired log stream ticket');
    }
  }

  async heartbeat(nodeTokenPresented: string | undefined, input: HeartbeatInput) {
    const { db } = this.deps;
    const node = await this.authenticateNode(nodeTokenPresented, input.provider, input.provider_instance_id);
    if (node.state === 'TERMINATED' && input.state !== 'TERMINATED') {
      // A node we released that still runs: tell it so (its agent should exit).
      throw new AppError('conflict', 'node was terminated', { state: 'TERMINATED' });
    }
    // A node behind a Service or NAT may only know its listen address (0.0.0.0): the URL its
    // provider gave us then stays.
    const reported = input.expose_url && !/^https?:\/\/(0\.0\.0\.0|\[::\])(:|\/|$)/.test(input.expose_url) ? input.expose_url : null;
    const rows = await db.$queryRaw<{ previous: string }[]>`
      UPDATE inventory_nodes n
         SET state = ${input.state}, health_score = ${Math.round(input.health_score)},
             gpu_allocated = ${input.gpu_allocated}, vcpu_allocated = ${input.vcpu_allocated},
             ram_gb_allocated = ${input.ram_gb_allocated}, expose_url = COALESCE(${reported}, n.expose_url),
             last_heartbeat_at = now(), updated_at = now()
        FROM (SELECT id, state FROM inventory_nodes WHERE id = ${node.id}::uuid FOR UPDATE) old
       WHERE n.id = old.id
   RETURNING old.state AS previous`;
    const previous = rows[0]?.previous;
    const changed = previous !== input.state;
    if (changed && node.deploymentId) {
      try {
        await this.deps.temporal.workflow.getHandle(workflowIds.deployment(node.deploymentId)).signal(nodeEventSignal, {
          providerInstanceId: node.providerInstanceId,
          state: input.state,
          exposeUrl: reported ?? node.exposeUrl,
        });
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) {
          // Undo the state change so the next beat retries the signal instead of losing it.
          await db.inventoryNode.update({ where: { id: node.id }, data: { state: previous ?? node.state } });
          throw new AppError('unavailable', 'could not notify the deployment workflow; retry');
        }
      }
    }
    // Gateways reload their routing table now rather than at their next refresh: a replica that
    // turned READY (a replacement with a new URL) serves at once, one that left READY is dropped.
    if (changed && node.deploymentId) await this.deps.redis?.publish(channels.routes, node.deploymentId).catch(() => 0);
    return { node_id: node.id, state: input.state, state_changed: changed };
  }
}
