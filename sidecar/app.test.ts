// The sidecar app on loopback in simulation mode: real Fastify, real mock-engine processes.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { uniq, waitFor } from '../tests/helpers/env.js';
import { sidecarApp } from './app.js';
import { createSimulatedProvider, simulatedJobId } from './providers/simulation.js';

const config = loadConfig({ INFERIA_ENV: 'test', LOG_LEVEL: 'silent' });
const token = config.secrets.internalServiceToken;
const engineDir = mkdtempSync(join(tmpdir(), 'inferia-sidecar-'));
const nosana = createSimulatedProvider('nosana', { engineDir });
const akash = createSimulatedProvider('akash', { engineDir });
let app: FastifyInstance;
let base: string;

type Json = Record<string, unknown>;
async function call(method: string, path: string, body?: unknown, auth: string | null = token): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const createBody = (instanceId: string, overrides: Json = {}) => ({
  instance_id: instanceId,
  model: 'sidecar-test',
  engine: 'mock',
  artifact_uri: 'inferia/mock-engine',
  gpu_per_replica: 0,
  configuration: {},
  // Nothing listens here: the engine serves anyway and logs that its heartbeat failed.
  heartbeat: { url: 'http://127.0.0.1:9/inventory/heartbeat', token: 'node-token', interval_ms: 60_000 },
  ...overrides,
});

const pidOf = (jobId: string) => Number(readFileSync(join(engineDir, `${jobId}.pid`), 'utf8'));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  app = Fastify({ logger: false });
  await app.register(sidecarApp, { config, nosana, akash });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  for (const provider of [nosana, akash]) {
    for (const job of await provider.listJobs()) await provider.stopJob(job.jobId);
  }
  await app?.close();
  rmSync(engineDir, { recursive: true, force: true });
});

describe('DePIN sidecar (simulation mode)', () => {
  it('requires the internal service token on every provider route, and reports its mode without one', async () => {
    for (const [method, path] of [
      ['GET', '/nosana/jobs'],
      ['POST', '/nosana/jobs'],
      ['GET', '/akash/resources'],
      ['GET', '/akash/jobs/x/logs'],
    ] as const) {
      const none = await call(method, path, method === 'POST' ? createBody('x') : undefined, null);
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body).toMatchObject({ error: { code: 'unauthorized' } });
      expect((await call(method, path, method === 'POST' ? createBody('x') : undefined, `${token}x`)).status).toBe(401);
    }
    const status = await call('GET', '/status', undefined, null);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ nosana_mode: 'simulation', providers: [{ name: 'nosana', mode: 'simulation' }, { name: 'akash', mode: 'simulation' }] });
  });

  it('rejects a bad body with 400 naming the field', async () => {
    const noUrl = await call('POST', '/nosana/jobs', createBody(uniq('bad'), { heartbeat: { token: 't', interval_ms: 1000 } }));
    expect(noUrl.status).toBe(400);
    expect((noUrl.body.error as Json).message).toMatch(/heartbeat\.url/);

    const gpus = await call('POST', '/akash/jobs', createBody(uniq('bad'), { gpu_per_replica: 'two' }));
    expect(gpus.status).toBe(400);
    expect((gpus.body.error as Json).message).toMatch(/gpu_per_replica/);

    const id = await call('POST', '/nosana/jobs', createBody('../escape'));
    expect(id.status).toBe(400);
    expect((id.body.error as Json).message).toMatch(/instance_id/);
  });

  it('runs a job: QUEUED, then RUNNING with a real engine; create is idempotent; logs; stop ends the process', async () => {
    const instanceId = uniq('dep') + '-r0';
    const created = await call('POST', '/nosana/jobs', createBody(instanceId));
    expect(created.status).toBe(201);
    const jobId = simulatedJobId('nosana', instanceId);
    expect(created.body).toMatchObject({ job_id: jobId, instance_id: instanceId });
    expect(['QUEUED', 'RUNNING']).toContain(created.body.state);

    const running = await waitFor(async () => {
      const r = await call('GET', `/nosana/jobs/${jobId}`);
      return r.body.state === 'RUNNING' ? r.body : undefined;
    }, 30_000);
    const exposeUrl = running.expose_url as string;
    expect(exposeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const chat = await fetch(`${exposeUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sidecar-test', messages: [{ role: 'user', content: 'hello sidecar' }] }),
    });
    expect(chat.status).toBe(200);
    const completion = (await chat.json()) as { choices: { message: { content: string } }[] };
    expect(completion.choices[0]?.message.content).toBe('This is the mock engine serving sidecar-test. You said: hello sidecar');

    const pid = pidOf(jobId);
    const again = await call('POST', '/nosana/jobs', createBody(instanceId));
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ job_id: jobId, state: 'RUNNING', expose_url: exposeUrl });
    expect(pidOf(jobId)).toBe(pid);
    const listed = await call('GET', '/nosana/jobs');
    expect((listed.body.jobs as Json[]).filter((j) => j.instance_id === instanceId)).toHaveLength(1);
    // The same instance id on the other network is a different job.
    expect((await call('GET', `/akash/jobs/${jobId}`)).status).toBe(404);

    const logs = await call('GET', `/nosana/jobs/${jobId}/logs?tail=50`);
    expect(logs.status).toBe(200);
    expect((logs.body.lines as string[]).some((l) => l.includes(`serving sidecar-test on ${exposeUrl}`))).toBe(true);
    expect((logs.body.lines as string[]).some((l) => l.includes('POST /v1/chat/completions 200'))).toBe(true);

    const stopped = await call('POST', `/nosana/jobs/${jobId}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe('STOPPED');
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(engineDir, `${jobId}.pid`))).toBe(false);
    await expect(fetch(`${exposeUrl}/health`)).rejects.toThrow();
    expect((await call('GET', `/nosana/jobs/${jobId}`)).body.state).toBe('STOPPED');
    expect((await call('POST', `/nosana/jobs/${jobId}/stop`)).body.state).toBe('STOPPED');
  });

  it('answers 404 for a job it does not have', async () => {
    for (const [method, path] of [
      ['GET', '/akash/jobs/sim-akash-nope-r0'],
      ['POST', '/akash/jobs/sim-akash-nope-r0/stop'],
      ['GET', '/nosana/jobs/sim-nosana-nope-r0/logs'],
      ['GET', '/nosana/jobs/not-even-a-sim-id'],
    ] as const) {
      const res = await call(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ error: { code: 'not_found' } });
    }
  });

  it('lists the simulated capacity as a resource', async () => {
    const res = await call('GET', '/akash/resources');
    expect(res.status).toBe(200);
    const [resource] = res.body.resources as Json[];
    expect(resource).toMatchObject({ name: 'akash:simulated', gpu_count: 0, available: true, price_per_hour: 0 });
    expect(resource?.vcpu).toBeGreaterThan(0);
  });
});
