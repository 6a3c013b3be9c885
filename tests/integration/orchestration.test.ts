// The orchestration gateway over HTTP with the real worker, Postgres, Redis, Temporal and the
// local provider: validation, authorisation, tenancy and the whole deployment lifecycle.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, type Worker, bundleWorkflowCode } from '@temporalio/worker';
import Fastify, { type FastifyInstance } from 'fastify';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import type { Config } from '../../lib/config.js';
import { signAccessToken } from '../../lib/http/auth.js';
import { createRedis } from '../../lib/redis.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { workflowIds } from '../../lib/temporal-names.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { orchestrationApp } from '../../gateways/orchestration/app.js';
import { OrchestrationService } from '../../gateways/orchestration/service.js';
import { WORKFLOWS_PATH, createOrchestrationWorker } from '../../worker/create-worker.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let config: Config;
let services: ReturnType<typeof connect>;
let app: FastifyInstance;
let base: string;
let worker: Worker;
let running: Promise<void>;
let connection: NativeConnection;
let temporal: Awaited<ReturnType<typeof createTemporalClient>>;
let org: DemoCredentials;
let other: DemoCredentials;
let ownerToken: string;
let viewerToken: string;
let otherToken: string;

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { error?: { code: string; message: string; details: Record<string, unknown> } } };
}

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const taskQueue = uniq('orch-it');
  config = testConfig({
    ORCHESTRATION_URL: base,
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    TEMPORAL_TASK_QUEUE: taskQueue,
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), 'inferia-orch-it-')),
  });
  services = connect(config, 'orch-it');
  temporal = await createTemporalClient(config);
  connection = await NativeConnection.connect({ address: config.temporal.address });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  worker = await createOrchestrationWorker({ config, db: services.db, redis: services.redis, connection, taskQueue, workflowBundle });
  running = worker.run();

  app = Fastify();
  await app.register(orchestrationApp, {
    config,
    service: new OrchestrationService({ db: services.db, temporal, redis: services.redis, config }),
    streamRedis: () => createRedis(config.redisUrl, 'orch-it-logs'),
  });
  await app.listen({ port, host: '127.0.0.1' });

  const slug = uniq('orch');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  const otherSlug = uniq('other');
  other = await seedOrg(services.db, config, { slug: otherSlug, name: otherSlug, adminEmail: `${otherSlug}@test.local` });
  ownerToken = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
  viewerToken = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'viewer' });
  otherToken = signAccessToken(config, { sub: other.user_id, org: other.org_id, role: 'owner' });
});

afterAll(async () => {
  // Engines a failed test left running are stopped with the file, not left behind.
  const engines = createLocalProvider({ engineDir: config.localEngineDir });
  for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
  await app?.close();
  worker?.shutdown();
  await running;
  await connection?.close();
  await temporal?.connection.close();
  await services?.close();
});

describe('orchestration gateway: who is asking', () => {
  it('refuses a missing, forged, algorithm-none or expired token', async () => {
    expect((await call('GET', '/deployment/deployments', undefined)).status).toBe(401);
    expect((await call('GET', '/deployment/deployments', 'not-a-jwt')).status).toBe(401);
    const forged = jwt.sign({ org: org.org_id, role: 'owner' }, 'another-secret-entirely-0000000000', {
      subject: org.user_id,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    });
    expect((await call('GET', '/deployment/deployments', forged)).status).toBe(401);
    const none = jwt.sign({ org: org.org_id, role: 'owner', sub: org.user_id, iss: config.jwt.issuer, aud: config.jwt.audience }, '', { algorithm: 'none' });
    expect((await call('GET', '/deployment/deployments', none)).status).toBe(401);
    const expired = jwt.sign({ org: org.org_id, role: 'owner' }, config.secrets.jwtSecret, {
      subject: org.user_id,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      expiresIn: -10,
    });
    expect((await call('GET', '/deployment/deployments', expired)).status).toBe(401);
    const notYet = jwt.sign({ org: org.org_id, role: 'owner' }, config.secrets.jwtSecret, {
      subject: org.user_id,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      notBefore: 600,
    });
    expect((await call('GET', '/deployment/deployments', notYet)).status).toBe(401);
    const wrongAudience = jwt.sign({ org: org.org_id, role: 'owner' }, config.secrets.jwtSecret, { subject: org.user_id, issuer: config.jwt.issuer, audience: 'someone-else' });
    expect((await call('GET', '/deployment/deployments', wrongAudience)).status).toBe(401);
    // A viewer's valid token with its role claim changed to owner: the signature no longer matches.
    const [header, payload, signature] = viewerToken.split('.');
    const escalated = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'owner' })).toString('base64url');
    expect((await call('POST', '/deployment/deploy', `${header}.${escalated}.${signature}`, { model_name: 'mock', pool_id: org.pool_id })).status).toBe(401);
    const hs512 = jwt.sign({ org: org.org_id, role: 'owner' }, config.secrets.jwtSecret, { subject: org.user_id, issuer: config.jwt.issuer, audience: config.jwt.audience, algorithm: 'HS512' });
    expect((await call('GET', '/deployment/deployments', hs512)).status).toBe(401);
  });

  it('lets a viewer read but not change anything', async () => {
    expect((await call('GET', '/deployment/deployments', viewerToken)).status).toBe(200);
    const denied = await call('POST', '/deployment/deploy', viewerToken, { model_name: 'mock', pool_id: org.pool_id });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.message).toMatch(/deployments:write/);
  });

  it("hides another organisation's objects", async () => {
    const pool = await call('GET', `/deployment/list/pool/${org.pool_id}/inventory`, otherToken);
    expect(pool.status).toBe(404);
    const deploy = await call('POST', '/deployment/deploy', otherToken, { model_name: 'mock', pool_id: org.pool_id });
    expect(deploy.status).toBe(404);
    expect(deploy.body.error?.details.field).toBe('pool_id');
    const cross = await call('POST', '/deployment/deploy', ownerToken, { model_name: 'mock', pool_id: org.pool_id, org_id: other.org_id });
    expect(cross.status).toBe(403);
  });

  it('takes heartbeats only from a node with its own token', async () => {
    const res = await call('POST', '/inventory/heartbeat', 'wrong-token', { provider: 'local', provider_instance_id: 'local-x-r0', state: 'READY' });
    expect(res.status).toBe(401);
  });
});

describe('orchestration gateway: bad input gets a 4xx naming the field', () => {
  const cases: [string, string, unknown, string][] = [
    ['POST', '/deployment/deploy', { model_name: 'mock', pool_id: 'not-a-uuid' }, 'pool_id'],
    ['POST', '/deployment/deploy', { model_name: 'mock', pool_id: '00000000-0000-4000-8000-000000000000', replicas: -1 }, 'replicas'],
    ['POST', '/deployment/deploy', { model_name: 'mock', pool_id: '00000000-0000-4000-8000-000000000000', replicas: '2' }, 'replicas'],
    ['POST', '/deployment/deploy', { pool_id: '00000000-0000-4000-8000-000000000000' }, 'model_name'],
    ['POST', '/deployment/deploy', { model_name: 'mock', pool_id: '00000000-0000-4000-8000-000000000000', engine: 'teapot' }, 'engine'],
    ['POST', '/deployment/createpool', { pool_name: 'p', provider: 'mars' }, 'provider'],
    ['POST', '/deployment/createpool', { pool_name: 'p', provider: 'local', max_cost_per_hour: -5 }, 'max_cost_per_hour'],
    ['POST', '/deployment/createpool', { pool_name: 'p', provider: 'local', scheduling_policy_json: '{nope' }, 'scheduling_policy_json'],
    ['POST', '/deployment/registerModel', { model_name: 'm', backend: 'mock' }, 'artifact_uri'],
    ['POST', '/deployment/terminate', { deployment_id: 42 }, 'deployment_id'],
  ];
  it.each(cases)('%s %s %j → 400 naming %s', async (method, path, body, field) => {
    const res = await call(method, path, ownerToken, body);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('bad_request');
    expect(res.body.error?.message).toContain(field);
  });

  it('answers malformed JSON with 400, not 500', async () => {
    const res = await fetch(`${base}/deployment/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      body: '{"model_name":',
    });
    expect(res.status).toBe(400);
  });

  it('answers an unknown pool or model with 404 naming it', async () => {
    const pool = await call('POST', '/deployment/deploy', ownerToken, { model_name: 'mock', pool_id: '00000000-0000-4000-8000-000000000000' });
    expect(pool.status).toBe(404);
    expect(pool.body.error?.details.field).toBe('pool_id');
    const model = await call('POST', '/deployment/deploy', ownerToken, { model_name: 'no-such-model', pool_id: org.pool_id });
    expect(model.status).toBe(404);
    expect(model.body.error?.details.field).toBe('model_name');
  });
});

describe('orchestration gateway: a deployment from registration to deletion', () => {
  it('registers, deploys, serves, refuses unsafe deletes, stops, starts and deletes', async () => {
    const modelName = uniq('model');
    const registered = await call('POST', '/deployment/registerModel', ownerToken, {
      model_name: modelName,
      model_version: '2.0',
      backend: 'mock',
      artifact_uri: 'inferia/mock-engine',
    });
    expect(registered.status).toBe(201);
    expect((await call('POST', '/deployment/registerModel', ownerToken, { model_name: modelName, model_version: '2.0', backend: 'mock', artifact_uri: 'x' })).status).toBe(409);
    expect((await call('GET', `/deployment/getModel/${modelName}/2.0`, ownerToken)).body.backend).toBe('mock');
    expect(((await call('GET', `/deployment/listModels/${modelName}`, ownerToken)).body.models as unknown[]).length).toBe(1);

    const pool = await call('POST', '/deployment/createpool', ownerToken, { pool_name: uniq('pool'), provider: 'local', allowed_gpu_types: [] });
    expect(pool.status).toBe(201);
    expect(pool.body.status).toBe('ACTIVE'); // provisioned by its pool workflow before the answer
    const poolId = pool.body.pool_id as string;
    expect(((await call('GET', `/deployment/listPools/${org.org_id}`, ownerToken)).body.pools as { pool_id: string }[]).map((p) => p.pool_id)).toContain(poolId);

    const deployed = await call('POST', '/deployment/deploy', ownerToken, {
      model_name: modelName,
      model_version: '2.0',
      replicas: 2,
      gpu_per_replica: 0,
      pool_id: poolId,
      workload_type: 'inference',
      engine: 'mock',
      configuration: {},
      inference_model: `${modelName}-chat`,
    });
    expect(deployed.status).toBe(202);
    const id = deployed.body.deployment_id as string;
    expect(deployed.body.workflow_id).toBe(workflowIds.deployment(id));

    const status = await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}`, ownerToken);
      if (s.body.status === 'FAILED') throw new Error(`deployment failed: ${String(s.body.status_reason)}`);
      return s.body.status === 'RUNNING' ? s.body : undefined;
    }, 60_000);
    expect(status.temporal_ui_url).toContain(encodeURIComponent(`deployment:${id}`));
    const nodes = status.nodes as { state: string; expose_url: string; replica_index: number }[];
    expect(nodes.map((n) => n.replica_index)).toEqual([0, 1]);
    expect(nodes.every((n) => n.state === 'READY' && n.expose_url.startsWith('http://127.0.0.1:'))).toBe(true);
    const answer = await fetch(`${nodes[0]!.expose_url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: `${modelName}-chat`, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(((await answer.json()) as { model: string }).model).toBe(`${modelName}-chat`);

    // The workflow's own view (its status query) agrees with the projection.
    const live = await call('GET', `/deployment/status/${id}?live=true`, ownerToken);
    expect(live.body.workflow_state).toMatchObject({ status: 'RUNNING', desired: 'RUNNING' });
    expect((live.body.workflow_state as { replicas: { state: string }[] }).replicas.map((r) => r.state)).toEqual(['READY', 'READY']);
    expect((await call('GET', `/deployment/status/${id}?live=maybe`, ownerToken)).status).toBe(400);

    // Scale down to one replica, then back up to two (a new engine on replica 1).
    expect((await call('POST', '/deployment/scale', ownerToken, { deployment_id: id, replicas: 0 })).status).toBe(400);
    expect((await call('POST', '/deployment/scale', ownerToken, { deployment_id: id, replicas: 1 })).status).toBe(202);
    await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}`, ownerToken);
      return s.body.replicas === 1 && (s.body.nodes as { state: string }[]).filter((n) => n.state === 'READY').length === 1;
    }, 30_000);
    expect((await call('POST', '/deployment/scale', ownerToken, { deployment_id: id, replicas: 2 })).status).toBe(202);
    await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}`, ownerToken);
      return s.body.replicas === 2 && (s.body.nodes as { state: string }[]).filter((n) => n.state === 'READY').length === 2;
    }, 60_000);

    const listed = await call('GET', `/deployment/deployments?org_id=${org.org_id}`, ownerToken);
    expect((listed.body.deployments as { deployment_id: string }[]).map((d) => d.deployment_id)).toContain(id);
    const inventory = await call('GET', `/deployment/list/pool/${poolId}/inventory`, ownerToken);
    expect((inventory.body.nodes as unknown[]).length).toBe(2);

    expect((await call('DELETE', '/deployment/deleteModel', ownerToken, { model_name: modelName, model_version: '2.0' })).status).toBe(409);
    expect((await call('POST', `/deployment/deletepool/${poolId}`, ownerToken)).status).toBe(409);
    const early = await call('DELETE', `/deployment/delete/${id}`, ownerToken);
    expect(early.status).toBe(409);
    expect(early.body.error?.message).toMatch(/cannot delete a deployment that is RUNNING/);

    expect((await call('POST', '/deployment/terminate', ownerToken, { deployment_id: id })).status).toBe(202);
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`, ownerToken)).body.status === 'STOPPED', 30_000);
    await expect(fetch(`${nodes[0]!.expose_url}/health`)).rejects.toThrow();

    expect((await call('POST', '/deployment/start', ownerToken, { deployment_id: id })).status).toBe(202);
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`, ownerToken)).body.status === 'RUNNING', 60_000);
    expect((await call('POST', '/deployment/terminate', ownerToken, { deployment_id: id })).status).toBe(202);
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`, ownerToken)).body.status === 'STOPPED', 30_000);

    expect((await call('DELETE', `/deployment/delete/${id}`, ownerToken)).status).toBe(202);
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`, ownerToken)).status === 404, 30_000);
    const result = await temporal.workflow.getHandle(workflowIds.deployment(id)).result();
    expect(result.status).toBe('DELETED');

    expect((await call('DELETE', '/deployment/deleteModel', ownerToken, { model_name: modelName, model_version: '2.0' })).status).toBe(200);
    const deleted = await call('POST', `/deployment/deletepool/${poolId}`, ownerToken);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deleted: true, status: 'DELETED' });
    expect((await temporal.workflow.getHandle(workflowIds.pool(poolId)).result()).status).toBe('DELETED');
    expect((await call('GET', `/deployment/list/pool/${poolId}/inventory`, ownerToken)).status).toBe(404);

    // Every accepted change is in the audit log, with who and from where; the refused ones are not.
    const rows = await services.db.auditLog.findMany({ where: { orgId: org.org_id, resourceId: { in: [id, poolId, registered.body.model_id as string] } }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.action)).toEqual([
      'model.register',
      'pool.create',
      'deployment.deploy',
      'deployment.scale',
      'deployment.scale',
      'deployment.terminate',
      'deployment.start',
      'deployment.terminate',
      'deployment.delete',
      'model.delete',
      'pool.delete',
    ]);
    expect(rows.every((r) => r.actorId === org.user_id && r.actorType === 'user' && r.ip)).toBe(true);
    expect(rows.find((r) => r.action === 'deployment.deploy')?.after).toMatchObject({ model: `${modelName}@2.0`, replicas: 2, pool_id: poolId });
  });

  it('deletes a pool that was created before it had a workflow (seeded), through update-with-start', async () => {
    const res = await call('POST', `/deployment/deletepool/${other.pool_id}`, otherToken);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('DELETED');
  });
});

describe('reconciliation', () => {
  it('notices an engine that died behind a RUNNING deployment and replaces it', async () => {
    const deployed = await call('POST', '/deployment/deploy', ownerToken, { model_name: 'mock', pool_id: org.pool_id, inference_model: uniq('heal') });
    const id = deployed.body.deployment_id as string;
    const running = await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}`, ownerToken);
      return s.body.status === 'RUNNING' ? s.body : undefined;
    }, 60_000);
    const node = (running.nodes as { provider_instance_id: string; expose_url: string }[])[0]!;
    const pidFile = join(config.localEngineDir, `${node.provider_instance_id}.pid`);
    const oldPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(oldPid, 'SIGKILL');

    const summary = await temporal.workflow.execute('reconcileProviderWorkflow', {
      taskQueue: config.temporal.taskQueue,
      workflowId: uniq('reconcile-local'),
      args: [{ provider: 'local' }],
    });
    expect(summary).toMatchObject({ provider: 'local' });
    expect((summary as { vanished: number }).vanished).toBeGreaterThanOrEqual(1);

    const healed = await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}?live=true`, ownerToken);
      const state = s.body.workflow_state as { replacements: number; replicas: { state: string }[] } | null;
      return state && state.replacements >= 1 && state.replicas[0]?.state === 'READY' ? s.body : undefined;
    }, 60_000);
    expect(healed.status).toBe('RUNNING');
    expect(Number(readFileSync(pidFile, 'utf8'))).not.toBe(oldPid);
    const events = (healed.events as { kind: string; message: string }[]).map((e) => `${e.kind}: ${e.message}`);
    expect(events.some((e) => e.startsWith('replace: replacing replica 0'))).toBe(true);
    const url = await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}`, ownerToken);
      const n = (s.body.nodes as { state: string; expose_url: string | null }[])[0];
      return n?.state === 'READY' && n.expose_url ? n.expose_url : undefined;
    }, 30_000);
    expect((await fetch(`${url}/health`)).status).toBe(200);

    // The same run cached what the provider offers, for GET /deployment/provider/resources.
    const resources = await call('GET', '/deployment/provider/resources?provider=local', ownerToken);
    expect(resources.status).toBe(200);
    expect((resources.body.resources as { vcpu: number }[])[0]?.vcpu).toBeGreaterThan(0);
    expect((await call('GET', '/deployment/provider/resources?provider=mars', ownerToken)).status).toBe(400);

    await call('POST', '/deployment/terminate', ownerToken, { deployment_id: id });
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`, ownerToken)).body.status === 'STOPPED', 30_000);
  });
});

describe('deployment logs', () => {
  it('returns recent engine output and streams new lines live over a WebSocket', async () => {
    const deployed = await call('POST', '/deployment/deploy', ownerToken, { model_name: 'mock', pool_id: org.pool_id, inference_model: uniq('logs') });
    const id = deployed.body.deployment_id as string;
    const running = await waitFor(async () => {
      const s = await call('GET', `/deployment/status/${id}`, ownerToken);
      return s.body.status === 'RUNNING' ? s.body : undefined;
    }, 60_000);
    const engineUrl = (running.nodes as { expose_url: string }[])[0]!.expose_url;

    // Steady heartbeats (one a second here) update the inventory but never grow workflow history.
    const handle = temporal.workflow.getHandle(workflowIds.deployment(id));
    // (Wait out the workflow task that recorded RUNNING, so only later events would count.)
    let before = (await handle.describe()).historyLength;
    for (let settled = false; !settled; ) {
      await new Promise((r) => setTimeout(r, 500));
      const now = (await handle.describe()).historyLength;
      settled = now === before;
      before = now;
    }
    const beatBefore = (await services.db.inventoryNode.findFirstOrThrow({ where: { deploymentId: id } })).lastHeartbeatAt!;
    await new Promise((r) => setTimeout(r, 3500));
    expect((await handle.describe()).historyLength).toBe(before);
    expect((await services.db.inventoryNode.findFirstOrThrow({ where: { deploymentId: id } })).lastHeartbeatAt!.getTime()).toBeGreaterThan(beatBefore.getTime());

    const recent = await waitFor(async () => {
      const l = await call('GET', `/deployment/logs/${id}?tail=50`, ownerToken);
      const lines = l.body.lines as { line: string; replica: number }[];
      return lines.some((x) => x.line.includes('serving')) ? lines : undefined;
    }, 20_000);
    expect(recent[0]?.replica).toBe(0);
    expect((await call('GET', `/deployment/logs/${id}`, otherToken)).status).toBe(404);
    expect((await call('GET', `/deployment/logs/${id}?tail=0`, ownerToken)).status).toBe(400);

    const info = await call('GET', `/deployment/logs/${id}/stream`, ownerToken);
    expect(info.body.websocket_url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/deployment\/logs\/.+\/ws\?ticket=/);
    const socket = new WebSocket(info.body.websocket_url as string);
    const received: string[] = [];
    socket.on('message', (data) => received.push((JSON.parse(data.toString()) as { line: string }).line));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await waitFor(async () => received.some((l) => l.includes('serving')), 10_000); // the backlog first
    await fetch(`${engineUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'log me' }] }),
    });
    await waitFor(async () => received.some((l) => l.includes('POST /v1/chat/completions 200')), 15_000);
    socket.close();

    // A wrong ticket is refused with a close code, not served.
    const refused = new WebSocket(String(info.body.websocket_url).replace(/ticket=[^&]+/, 'ticket=forged'));
    const code = await new Promise<number>((resolve) => refused.once('close', (c) => resolve(c)));
    expect(code).toBe(4401);

    await call('POST', '/deployment/terminate', ownerToken, { deployment_id: id });
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`, ownerToken)).body.status === 'STOPPED', 30_000);
  });
});

