// The skypilot adapter against the fake SkyPilot API server (a test double speaking the real
// server's REST wire format) over loopback. Each test starts its own fake, so tests share no state.
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderConfigError, type EngineSpec, type ProviderAdapter } from '../types.js';
import { startFakeSkypilotApi, type FakeSkypilotApi } from './fake-skypilot-api.js';
import { SkypilotClient } from './skypilot-client.js';
import { createSkypilotProvider, skypilotClusterName } from './skypilot-provider.js';

const NODE_TOKEN = 'node-token-5e3c9f0a7d1b';

const fakes: FakeSkypilotApi[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function setup(opts: { serverToken?: string; apiToken?: string; requestTimeoutMs?: number } = {}) {
  const fake = await startFakeSkypilotApi({ token: opts.serverToken });
  fakes.push(fake);
  const provider = createSkypilotProvider({
    apiUrl: `${fake.url}/`,
    apiToken: opts.apiToken,
    pollIntervalMs: 10,
    requestTimeoutMs: opts.requestTimeoutMs ?? 5000,
  });
  return { fake, provider };
}

function spec(over: Partial<EngineSpec> = {}): EngineSpec {
  return {
    deploymentId: '3F2A9C1B-7d4e-4c1a-9b0e-55aa66bb77cc',
    replicaIndex: 0,
    poolId: 'pool-1',
    engine: 'mock',
    model: 'demo-model',
    artifactUri: 'mock://demo',
    gpuPerReplica: 0,
    configuration: {},
    heartbeat: { url: 'https://inferia.example/inventory/heartbeat', token: NODE_TOKEN, intervalMs: 5000 },
    ...over,
  };
}

const launchBodies = (fake: FakeSkypilotApi) => fake.requestsTo('/launch').map((r) => r.body as Record<string, unknown>);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('skypilot provider', () => {
  it('launches a vLLM replica as one cluster with the engine command, accelerators and port in the task YAML', async () => {
    const { fake, provider } = await setup();
    const instance = await provider.startEngine(
      spec({ engine: 'vllm', model: 'llama-3-8b', artifactUri: 'hf://meta-llama/Meta-Llama-3-8B', gpuPerReplica: 1, configuration: { accelerators: 'A100:1' } }),
    );

    expect(instance.providerInstanceId).toBe('inferia-3f2a9c1b-r0');
    expect(instance.metadata.request_id).toEqual(expect.any(String));
    const [body, ...more] = launchBodies(fake);
    expect(more).toHaveLength(0);
    expect(body!.cluster_name).toBe('inferia-3f2a9c1b-r0');
    expect(body!.retry_until_up).toBe(false);
    expect((body!.env_vars as Record<string, string>).SKYPILOT_USER_ID).toMatch(/^[0-9a-f]{8}$/);
    const task = String(body!.task);
    expect(task).toContain('resources:\n  accelerators: "A100:1"\n  ports:\n    - 8000\n');
    expect(task).toContain(
      "python -m vllm.entrypoints.openai.api_server --model 'hf://meta-llama/Meta-Llama-3-8B' --served-model-name 'llama-3-8b' --port 8000 --host 0.0.0.0",
    );
    expect(fake.clusters.get('inferia-3f2a9c1b-r0')?.status).toBe('INIT');
  });

  it('launches the mock engine with its INFERIA_* envs (node token included) and GPU candidates from gpuPerReplica', async () => {
    const { fake, provider } = await setup();
    const { providerInstanceId } = await provider.startEngine(spec({ replicaIndex: 1, gpuPerReplica: 2 }));

    expect(providerInstanceId).toBe('inferia-3f2a9c1b-r1');
    const task = String(launchBodies(fake)[0]!.task);
    expect(task).toContain('run: "exec node --import tsx adapters/engines/mock/mock-engine.ts"');
    expect(task).toContain('  accelerators:\n    - "L4:2"\n    - "A10G:2"\n    - "A100:2"\n    - "H100:2"\n');
    for (const line of [
      `INFERIA_NODE_TOKEN: "${NODE_TOKEN}"`,
      'INFERIA_HEARTBEAT_URL: "https://inferia.example/inventory/heartbeat"',
      'INFERIA_HEARTBEAT_INTERVAL_MS: "5000"',
      'INFERIA_ENGINE_MODEL: "demo-model"',
      'INFERIA_PROVIDER: "skypilot"',
      'INFERIA_PROVIDER_INSTANCE_ID: "inferia-3f2a9c1b-r1"',
      'INFERIA_ENGINE_HOST: "0.0.0.0"',
      'INFERIA_ENGINE_PORT: "8000"',
    ]) {
      expect(task).toContain(`\nenvs:\n`);
      expect(task).toContain(`  ${line}\n`);
    }
  });

  it('a second start reuses the cluster instead of launching it again', async () => {
    const { fake, provider } = await setup();
    await provider.startEngine(spec());
    const again = await provider.startEngine(spec());
    expect(again).toMatchObject({ providerInstanceId: 'inferia-3f2a9c1b-r0', metadata: { reused: true, status: 'INIT' } });

    fake.setClusterStatus('inferia-3f2a9c1b-r0', 'UP');
    const afterUp = await provider.startEngine(spec());
    expect(afterUp.metadata).toMatchObject({ reused: true, status: 'UP' });
    expect(fake.requestsTo('/launch')).toHaveLength(1);
  });

  it('probe follows the cluster from INIT to UP, reports the head endpoint, then STOPPED and gone', async () => {
    const { fake, provider } = await setup();
    const { providerInstanceId: id } = await provider.startEngine(spec());

    expect(await provider.probeEngine(id)).toEqual({ state: 'PROVISIONING', message: 'cluster is INIT' });
    fake.setClusterStatus(id, 'UP');
    const headIp = fake.clusters.get(id)!.headIp;
    expect(await provider.probeEngine(id)).toEqual({ state: 'READY', exposeUrl: `http://${headIp}:8000` });
    expect(fake.requestsTo('/endpoints').at(-1)?.body).toMatchObject({ cluster: id, port: 8000 });
    fake.setClusterStatus(id, 'STOPPED');
    expect((await provider.probeEngine(id)).state).toBe('UNHEALTHY');
    await provider.stopEngine(id);
    expect((await provider.probeEngine(id)).state).toBe('TERMINATED');
  });

  it('stop downs the cluster, and stopping it again (already gone) succeeds', async () => {
    const { fake, provider } = await setup();
    const { providerInstanceId: id } = await provider.startEngine(spec());
    fake.setClusterStatus(id, 'UP');

    await provider.stopEngine(id);
    expect(fake.clusters.has(id)).toBe(false);
    await expect(provider.stopEngine(id)).resolves.toBeUndefined();
    await expect(provider.deprovisionNode(id)).resolves.toBeUndefined();
    expect(fake.requestsTo('/down').map((r) => (r.body as { cluster_name: string }).cluster_name)).toEqual([id, id, id]);
  });

  it('refuses an engine it cannot run with ProviderConfigError, before calling the API', async () => {
    const { fake, provider } = await setup();
    const err = await rejection(provider.startEngine(spec({ engine: 'llama.cpp' })));
    expect(err).toBeInstanceOf(ProviderConfigError);
    expect(err.message).toContain("engine 'llama.cpp'");
    expect(fake.requests).toHaveLength(0);
  });

  it('API errors name the endpoint and status and never carry the node token', async () => {
    const { fake, provider } = await setup();
    // A FastAPI 422 echoes the request body back, task YAML (and its token) included.
    fake.failNext('/launch', 422, {
      detail: [{ type: 'missing', loc: ['body', 'x'], msg: 'Field required', input: { task: `envs:\n  INFERIA_NODE_TOKEN: "${NODE_TOKEN}"\n` } }],
    });
    const launchErr = await rejection(provider.startEngine(spec()));
    expect(launchErr.message).toContain('POST /launch');
    expect(launchErr.message).toContain('HTTP 422');
    expect(launchErr.message).toContain('INFERIA_NODE_TOKEN');
    expect(launchErr.message).not.toContain(NODE_TOKEN);
    expect(String(launchErr.stack)).not.toContain(NODE_TOKEN);

    fake.failNext('/status', 503, { detail: 'Server is shutting down, please try again later.' });
    const statusErr = await rejection(provider.probeEngine('inferia-3f2a9c1b-r0'));
    expect(statusErr.message).toMatch(/POST \/status failed: HTTP 503 .*shutting down/);

    fake.addCluster('inferia-3f2a9c1b-r0', 'UP');
    fake.failNextRequest('/down', 'CloudUserIdentityError', 'AWS credentials have expired');
    const downErr = await rejection(provider.stopEngine('inferia-3f2a9c1b-r0'));
    expect(downErr.message).toMatch(/POST \/down request \S+ failed: CloudUserIdentityError: AWS credentials have expired/);
  });

  it('sends the bearer token when configured; without it the server answers 401', async () => {
    const { provider: anonymous } = await setup({ serverToken: 'sky_service_account_token' });
    const denied = await rejection(anonymous.probeEngine('inferia-3f2a9c1b-r0'));
    expect(denied.message).toMatch(/POST \/status failed: HTTP 401/);

    const { fake, provider } = await setup({ serverToken: 'sky_service_account_token', apiToken: 'sky_service_account_token' });
    await provider.startEngine(spec());
    expect(await provider.probeEngine('inferia-3f2a9c1b-r0')).toMatchObject({ state: 'PROVISIONING' });
    const health = await new SkypilotClient({ apiUrl: fake.url, apiToken: 'sky_service_account_token' }).health();
    expect(health.status).toBe('healthy');
    expect(fake.requests.length).toBeGreaterThan(3);
    expect(fake.requests.every((r) => r.headers.authorization === 'Bearer sky_service_account_token')).toBe(true);
    expect(fake.requests.some((r) => r.path === '/api/get')).toBe(true);
  });

  it('reconcile reports known ids without a cluster as vanished and discovers unknown inferia clusters', async () => {
    const { fake, provider } = await setup();
    const { providerInstanceId: mine } = await provider.startEngine(spec());
    fake.addCluster('inferia-0ther000-r0', 'UP', 'resources:\n  accelerators: "A100:2"\n');
    fake.addCluster('someone-elses-cluster', 'UP');

    const result = await provider.reconcile([mine, 'inferia-gone0000-r3']);
    expect(result.vanished).toEqual(['inferia-gone0000-r3']);
    expect(result.discovered).toEqual([
      expect.objectContaining({ providerInstanceId: 'inferia-0ther000-r0', state: 'READY', gpuType: 'A100', gpuCount: 2, vcpu: 8, ramGb: 32 }),
    ]);
    const all = await provider.discoverNodes();
    expect(all.map((n) => [n.providerInstanceId, n.state])).toEqual([
      [mine, 'PROVISIONING'],
      ['inferia-0ther000-r0', 'READY'],
    ]);
    expect(await provider.getNodeMetadata(mine)).toMatchObject({ exists: true, cluster_name: mine, status: 'INIT', cloud: 'AWS' });
    expect(await provider.getNodeMetadata('inferia-gone0000-r3')).toMatchObject({ exists: false });
  });

  it('a launch still queued on the server is provisioning, is not launched twice, and is cancelled by stop', async () => {
    const { fake, provider } = await setup();
    fake.holdLaunches = true;
    const first = await provider.startEngine(spec());
    const id = first.providerInstanceId;
    expect(fake.clusters.has(id)).toBe(false);

    expect(await provider.probeEngine(id)).toEqual({ state: 'PROVISIONING', message: `launch request ${String(first.metadata.request_id)} is pending` });
    expect((await provider.startEngine(spec())).metadata).toEqual({ reused: true, request_id: first.metadata.request_id });
    expect(fake.requestsTo('/launch')).toHaveLength(1);
    expect((await provider.reconcile([id])).vanished).toEqual([]);

    await provider.stopEngine(id);
    expect(fake.requestsTo('/api/cancel').at(-1)?.body).toMatchObject({ request_ids: [first.metadata.request_id] });
    fake.provision(id); // the server would now run the launch, had it not been cancelled
    expect(fake.clusters.has(id)).toBe(false);
    expect((await provider.probeEngine(id)).state).toBe('TERMINATED');
  });

  it('bounds the wait for a request the server never finishes', async () => {
    const { fake, provider } = await setup({ requestTimeoutMs: 300 });
    fake.stall('/status');
    const started = Date.now();
    const err = await rejection(provider.probeEngine('inferia-3f2a9c1b-r0'));
    expect(err.message).toMatch(/POST \/status request \S+ did not finish within 300ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('tails the job log of an UP cluster and lists catalog resources with enabled clouds available', async () => {
    const { fake, provider } = await setup();
    const { providerInstanceId: id } = await provider.startEngine(spec());
    expect(await provider.getLogs(id)).toEqual([]); // not UP yet: no job to tail
    fake.setClusterStatus(id, 'UP');
    fake.appendJobLog(id, 'starting', '[mock-engine] serving demo-model on http://0.0.0.0:8000', '\x1b[32m[mock-engine] heartbeat READY → 204\x1b[0m');

    expect(await provider.getLogs(id, { tail: 2 })).toEqual(['[mock-engine] serving demo-model on http://0.0.0.0:8000', '[mock-engine] heartbeat READY → 204']);
    expect(fake.requestsTo('/logs').at(-1)?.body).toMatchObject({ cluster_name: id, follow: false, tail: 2, job_id: null });

    const resources = await provider.listResources();
    expect(resources).toContainEqual({
      name: 'AWS:p4d.24xlarge',
      gpuType: 'A100',
      gpuCount: 8,
      vcpu: 96,
      ramGb: 1152,
      pricePerHour: 32.77,
      available: true,
    });
    expect(resources.find((r) => r.name === 'GCP:g2-standard-4')).toMatchObject({ gpuType: 'L4', available: false });
  });

  it('names clusters validly and treats the pool placeholder as nothing to deprovision', async () => {
    expect(skypilotClusterName('3F2A9C1B-7d4e', 0)).toBe('inferia-3f2a9c1b-r0');
    expect(skypilotClusterName('ab_cd.ef-long-id', 12)).toBe('inferia-ab-cd-ef-r12');
    const { fake, provider }: { fake: FakeSkypilotApi; provider: ProviderAdapter } = await setup();
    const pool = await provider.provisionNode('pool-1', {});
    expect(pool).toBe('skypilot:pool-1');
    await provider.deprovisionNode(pool);
    expect(fake.requests).toHaveLength(0);
  });
});
