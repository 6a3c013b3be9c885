// Chaos 5 — the DePIN sidecar partitioned from the worker. The worker's Nosana adapter reaches the
// sidecar (simulation mode: each job is a mock engine process on this host) through a TCP proxy
// the test controls, which can
//   - lose replies: requests reach the sidecar (a job is created, a stop is done) but the answers
//     never come back, so the worker cannot tell whether anything happened;
//   - refuse: every connection, open or new, is cut.
// What must happen (the orchestration gateway, Postgres and Temporal stay reachable; engines
// heartbeat to the gateway directly, not through the sidecar):
//   - activities that call the sidecar fail and are retried with backoff; the workflow neither fails
//     nor gives up inside the provisioning retry budget (5 attempts, ≈30 s of backoff);
//   - a create retried after a lost reply finds the job it already made: never a second job or
//     engine for a replica;
//   - reconciliation cannot list the sidecar's jobs, so it condemns nothing: a RUNNING deployment
//     stays RUNNING with the same replicas;
//   - after the partition heals, the deployment reaches RUNNING (or STOPPED) within 120 s.
// The Postgres is this test's own: reconciliation of `nosana` looks at every nosana node of its
// database, and other tests' workers must not see this test's sidecar-less nodes (nor it theirs).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { orchestrationApp } from '../../gateways/orchestration/app.js';
import { OrchestrationService } from '../../gateways/orchestration/service.js';
import type { Config } from '../../lib/config.js';
import { signAccessToken } from '../../lib/http/auth.js';
import { Supervisor } from '../../lib/local-services/supervisor.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { privateDir, privatePostgres, type PrivatePostgres } from '../helpers/private-services.js';
import { connect as connectServices } from '../helpers/services.js';

const HEAL_BOUND_MS = 120_000;

type Mode = 'open' | 'lose-replies' | 'refuse';

/** `POST /nosana/jobs/sim-…/stop` → `POST /nosana/jobs/:id/stop`, to count calls by route. */
const route = (chunk: Buffer) => {
  const [method, path] = chunk.toString('latin1').split('\r\n', 1)[0]!.split(' ');
  return `${method} ${(path ?? '').split('?')[0]!.replace(/\/jobs\/[^/]+/, '/jobs/:id')}`;
};

/** A TCP proxy in front of the sidecar that the test can partition. */
class PartitionProxy {
  mode: Mode = 'open';
  /** Requests, by route, that reached the sidecar while its answers were being lost. */
  readonly lost = new Map<string, number>();
  /** Requests, by route, cut before they reached the sidecar. */
  readonly refused = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private server?: Server;

  constructor(private readonly target: number) {}

  async listen(port: number): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  count(what: 'lost' | 'refused', r: string): number {
    return this[what].get(r) ?? 0;
  }

  private accept(client: Socket) {
    this.sockets.add(client);
    let upstream: Socket | undefined;
    let request = '';
    const cut = () => {
      client.destroy();
      upstream?.destroy();
      this.sockets.delete(client);
      if (upstream) this.sockets.delete(upstream);
    };
    client.on('error', cut);
    client.on('close', cut);
    client.on('data', (chunk) => {
      if (!upstream) {
        request = route(chunk);
        if (this.mode === 'refuse') {
          this.refused.set(request, this.count('refused', request) + 1);
          cut();
          return;
        }
        upstream = connect(this.target, '127.0.0.1');
        this.sockets.add(upstream);
        upstream.on('error', cut);
        upstream.on('close', cut);
        upstream.on('data', (answer) => {
          if (this.mode === 'open') {
            client.write(answer);
            return;
          }
          // The sidecar did the work and answered; the answer is lost on the way back.
          if (this.mode === 'lose-replies') this.lost.set(request, this.count('lost', request) + 1);
          cut();
        });
      }
      upstream.write(chunk);
    });
  }

  /** Cuts every open connection (keep-alive ones included) when partitioning. */
  set(mode: Mode) {
    this.mode = mode;
    if (mode !== 'open') for (const s of this.sockets) s.destroy();
  }

  async close() {
    this.set('refuse');
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

let folder: ReturnType<typeof privateDir>;
let postgres: PrivatePostgres;
let config: Config;
let services: ReturnType<typeof connectServices>;
let temporal: Awaited<ReturnType<typeof createTemporalClient>>;
let app: FastifyInstance | undefined;
let proxy: PartitionProxy;
let sidecarUrl: string;
let port: number;
let org: DemoCredentials;
let token: string;
let poolId: string;
let deploymentId = '';
const processes = new Supervisor({ color: false, quiet: !process.env.E2E_VERBOSE });

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
}

interface StatusView {
  status: string;
  reason: string | null;
  nodes: { provider_instance_id: string; replica_index: number; state: string; expose_url: string | null }[];
  events: { kind: string; message: string }[];
}
const status = async () => (await call<StatusView>('GET', `/deployment/status/${deploymentId}`)).body;

/** The sidecar's own view, asked directly (not through the proxy). */
async function sidecarJobs(): Promise<{ job_id: string; instance_id: string; state: string }[]> {
  const res = await fetch(`${sidecarUrl}/nosana/jobs`, { headers: { authorization: `Bearer ${config.secrets.internalServiceToken}` } });
  expect(res.status).toBe(200);
  const jobs = ((await res.json()) as { jobs: { job_id: string; instance_id: string; state: string }[] }).jobs;
  return jobs.filter((j) => j.instance_id.startsWith(deploymentId));
}

/** Live engine processes of the deployment, from the process table. */
function engineProcesses(): number {
  const out = execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => !l.trim().startsWith('Z') && l.includes('--inferia-instance=') && l.includes(deploymentId)).length;
}

beforeAll(async () => {
  folder = privateDir('sidecar-partition');
  postgres = await privatePostgres(folder.dir);
  port = await freePort();
  const sidecarPort = await freePort();
  const proxyPort = await freePort();
  sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
  const overrides = {
    DATABASE_URL: postgres.url,
    TEMPORAL_TASK_QUEUE: uniq('sidecar-partition'),
    ORCHESTRATION_URL: `http://127.0.0.1:${port}`,
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: join(folder.dir, 'engines'),
    INFERIA_DATA_DIR: folder.dir, // the sidecar's simulated engines live under <dir>/sidecar-engines
    NOSANA_MODE: 'simulation',
    SIDECAR_PORT: String(sidecarPort),
    NOSANA_SIDECAR_URL: `http://127.0.0.1:${proxyPort}`,
    RECONCILE_INTERVAL_SECONDS: '3',
    LOG_LEVEL: 'warn',
  };
  const env = { ...process.env, ...overrides };
  config = testConfig(overrides);
  services = connectServices(config, 'sidecar-partition');
  temporal = await createTemporalClient(config);
  const slug = uniq('sidecarpart');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  token = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
  poolId = (await services.db.computePool.create({ data: { orgId: org.org_id, poolName: 'nosana', ownerType: 'org', ownerId: org.org_id, provider: 'nosana', status: 'ACTIVE' } })).id;

  proxy = new PartitionProxy(sidecarPort);
  await proxy.listen(proxyPort);
  processes.start({ name: 'sidecar', script: 'sidecar/main.ts', env });
  await processes.waitHealthy('sidecar', `${sidecarUrl}/healthz`, 180_000);
  app = Fastify();
  await app.register(orchestrationApp, { config, service: new OrchestrationService({ db: services.db, temporal, redis: services.redis, config }) });
  await app.listen({ port, host: '127.0.0.1' });
  processes.start({ name: 'worker', script: 'worker/main.ts', env });
}, 300_000);

afterAll(async () => {
  proxy?.set('open');
  if (deploymentId) {
    await call('POST', '/deployment/terminate', { deployment_id: deploymentId }).catch(() => undefined);
    await waitFor(async () => (await status()).status === 'STOPPED', 60_000, 500).catch(() => undefined);
  }
  await processes.stopAll(5000);
  const engines = createLocalProvider({ engineDir: join(folder.dir, 'sidecar-engines') });
  for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
  await app?.close();
  await proxy?.close();
  for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
    await temporal?.schedule.getHandle(reconcileScheduleId(provider, config.temporal.taskQueue)).delete().catch(() => undefined);
  }
  await temporal?.connection.close();
  await services?.close();
  postgres?.stop();
  folder?.remove();
}, 120_000);

describe('chaos: DePIN sidecar partitioned from the worker', () => {
  it('replies lost while a deployment starts → startReplica retried, not failed; RUNNING within 120 s of healing, exactly one job and one engine per replica', async () => {
    proxy.set('lose-replies');
    const deployed = await call('POST', '/deployment/deploy', {
      model_name: 'mock',
      pool_id: poolId,
      replicas: 2,
      inference_model: uniq('depin'),
    });
    expect(deployed.status).toBe(202);
    deploymentId = deployed.body.deployment_id as string;

    // The sidecar created replica 0's job, the worker never heard, and asked again (and again).
    await waitFor(async () => proxy.count('lost', 'POST /nosana/jobs') >= 3, 60_000, 100);
    expect((await sidecarJobs()).map((j) => j.instance_id)).toEqual([`${deploymentId}-r0`]);
    expect(['PENDING', 'DEPLOYING']).toContain((await status()).status);

    proxy.set('open');
    const healedAt = Date.now();
    await waitFor(async () => (await status()).status === 'RUNNING', HEAL_BOUND_MS, 500);
    const healedMs = Date.now() - healedAt;

    const jobs = await sidecarJobs();
    expect(jobs.map((j) => j.instance_id).sort()).toEqual([`${deploymentId}-r0`, `${deploymentId}-r1`]);
    expect(jobs.every((j) => j.state === 'RUNNING')).toBe(true);
    expect(engineProcesses()).toBe(2);
    const s = await status();
    expect(s.nodes.map((n) => [n.replica_index, n.state])).toEqual([
      [0, 'READY'],
      [1, 'READY'],
    ]);
    console.log(`[sidecar-partition] ${proxy.count('lost', 'POST /nosana/jobs')} job creations answered into the void while deploying; RUNNING ${healedMs} ms after the partition healed; 2 jobs, 2 engines`);
  }, 300_000);

  it('sidecar unreachable while RUNNING → nothing condemned (RUNNING, same replicas, engines serve); terminate retried during it, STOPPED within 120 s of healing, no engine left', async () => {
    const before = await status();
    const replicas = before.nodes.map((n) => n.provider_instance_id).sort();
    proxy.set('refuse');
    const cutAt = Date.now();
    // Several reconciliation rounds (every 3 s) try and fail to reach the sidecar.
    await waitFor(async () => Date.now() - cutAt >= 12_000 && proxy.count('refused', 'GET /nosana/jobs') >= 3, 60_000, 250);
    const during = await status();
    expect(during.status).toBe('RUNNING');
    expect(during.nodes.map((n) => n.provider_instance_id).sort()).toEqual(replicas);
    expect(during.nodes.every((n) => n.state === 'READY')).toBe(true);
    expect(during.events.filter((e) => e.kind === 'replace')).toEqual([]);
    // The data path does not go through the sidecar: each engine still answers.
    for (const n of during.nodes) expect((await fetch(`${n.expose_url}/health`)).status).toBe(200);

    // Terminate while the sidecar cannot be told: the workflow keeps trying to stop the jobs.
    expect((await call('POST', '/deployment/terminate', { deployment_id: deploymentId })).status).toBeLessThan(300);
    await waitFor(async () => proxy.count('refused', 'POST /nosana/jobs/:id/stop') >= 2, 60_000, 250); // stopReplica tried, and retried
    expect((await status()).status).toBe('STOPPING');
    expect(engineProcesses()).toBe(2); // nothing could stop them yet

    proxy.set('open');
    const healedAt = Date.now();
    await waitFor(async () => (await status()).status === 'STOPPED', HEAL_BOUND_MS, 500);
    const healedMs = Date.now() - healedAt;
    await waitFor(async () => engineProcesses() === 0, 30_000, 250);
    const jobs = await sidecarJobs();
    expect(jobs.map((j) => [j.instance_id, j.state]).sort()).toEqual([
      [`${deploymentId}-r0`, 'STOPPED'],
      [`${deploymentId}-r1`, 'STOPPED'],
    ]);
    console.log(`[sidecar-partition] refused ${JSON.stringify(Object.fromEntries(proxy.refused))}; RUNNING untouched for ${Math.round((Date.now() - cutAt) / 1000)} s; STOPPED ${healedMs} ms after healing`);
  }, 300_000);
});
