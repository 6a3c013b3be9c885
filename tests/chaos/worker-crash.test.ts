// Chaos 1 — worker SIGKILLed mid-activity. The worker process is SIGKILLed while startReplica
// runs (the first engine exists, the others do not yet); a new worker on the same task queue picks
// the activity up after its heartbeat timeout (20 s) and the deployment still reaches RUNNING with
// exactly one engine per replica: the retried activity finds what the dead one started. Also: the
// orchestration gateway restarted mid-flow (engines retry their READY heartbeat until it is back).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { orchestrationApp } from '../../gateways/orchestration/app.js';
import { OrchestrationService } from '../../gateways/orchestration/service.js';
import type { Config } from '../../lib/config.js';
import { signAccessToken } from '../../lib/http/auth.js';
import { Supervisor } from '../../lib/local-services/supervisor.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let config: Config;
let env: NodeJS.ProcessEnv;
let services: ReturnType<typeof connect>;
let temporal: Awaited<ReturnType<typeof createTemporalClient>>;
let app: FastifyInstance | undefined;
let port: number;
let org: DemoCredentials;
let token: string;
const workers = new Supervisor({ color: false, quiet: !process.env.E2E_VERBOSE });

async function startGateway() {
  app = Fastify();
  await app.register(orchestrationApp, { config, service: new OrchestrationService({ db: services.db, temporal, redis: services.redis, config }) });
  await app.listen({ port, host: '127.0.0.1' });
}

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Engine processes of a deployment, counted from the process table (not from our own bookkeeping). */
function engineProcesses(deploymentId: string): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('--inferia-instance=') && l.includes(deploymentId)).length;
}

beforeAll(async () => {
  port = await freePort();
  const overrides = {
    TEMPORAL_TASK_QUEUE: uniq('crash'),
    ORCHESTRATION_URL: `http://127.0.0.1:${port}`,
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), 'inferia-crash-')),
    RECONCILE_INTERVAL_SECONDS: '3600',
  };
  env = { ...process.env, ...overrides };
  config = testConfig(overrides);
  services = connect(config, 'crash');
  temporal = await createTemporalClient(config);
  const slug = uniq('crash');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  token = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
  await startGateway();
});

afterAll(async () => {
  await workers.stopAll(5000);
  const engines = createLocalProvider({ engineDir: config.localEngineDir });
  for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
  await app?.close();
  for (const schedule of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
    await temporal.schedule.getHandle(`reconcile:${schedule}@${config.temporal.taskQueue}`).delete().catch(() => undefined);
  }
  await temporal?.connection.close();
  await services?.close();
});

describe('chaos: worker SIGKILLed mid-activity', () => {
  it('worker SIGKILLed mid-startReplica → a restarted worker completes it: RUNNING within 120 s, exactly one engine per replica, none after terminate', async () => {
    const first = workers.start({ name: 'worker-1', script: 'worker/main.ts', env });
    const deployed = await call('POST', '/deployment/deploy', {
      model_name: 'mock',
      pool_id: org.pool_id,
      replicas: 3,
      inference_model: uniq('crash'),
      configuration: { startup_delay_ms: 1500 },
    });
    expect(deployed.status).toBe(202);
    const id = deployed.body.deployment_id as string;

    // Kill the worker as soon as provisioning has begun (the first engine exists).
    await waitFor(async () => engineProcesses(id) >= 1, 60_000, 50);
    first.child.kill('SIGKILL');
    await first.exited;
    const statusAfterKill = (await call('GET', `/deployment/status/${id}`)).body.status;
    expect(['PENDING', 'DEPLOYING']).toContain(statusAfterKill);

    workers.start({ name: 'worker-2', script: 'worker/main.ts', env });
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`)).body.status === 'RUNNING', 120_000, 500);
    expect(engineProcesses(id)).toBe(3);
    const nodes = (await call('GET', `/deployment/status/${id}`)).body.nodes as { replica_index: number; state: string }[];
    expect(nodes.map((n) => n.replica_index).sort()).toEqual([0, 1, 2]);
    expect(nodes.every((n) => n.state === 'READY')).toBe(true);

    await call('POST', '/deployment/terminate', { deployment_id: id });
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`)).body.status === 'STOPPED', 60_000);
    expect(engineProcesses(id)).toBe(0);
  }, 240_000); // several 60 s waits in a row on a loaded machine

  it('orchestration gateway restarted mid-flow → RUNNING within 120 s, exactly one engine per replica', async () => {
    const deployed = await call('POST', '/deployment/deploy', {
      model_name: 'mock',
      pool_id: org.pool_id,
      replicas: 2,
      inference_model: uniq('restart'),
      configuration: { startup_delay_ms: 1500 },
    });
    const id = deployed.body.deployment_id as string;
    await waitFor(async () => engineProcesses(id) >= 1, 60_000, 50);
    // The gateway goes away while engines start and try to report READY; they retry until it is back.
    await app!.close();
    await new Promise((r) => setTimeout(r, 2500));
    await startGateway();
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`)).body.status === 'RUNNING', 120_000, 500);
    expect(engineProcesses(id)).toBe(2);
    await call('POST', '/deployment/terminate', { deployment_id: id });
    await waitFor(async () => (await call('GET', `/deployment/status/${id}`)).body.status === 'STOPPED', 60_000);
  }, 240_000); // several 60 s waits in a row on a loaded machine
});
