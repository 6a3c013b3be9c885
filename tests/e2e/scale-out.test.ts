// Every process twice against the same Postgres, Redis and Temporal: two filtration gateways, two
// orchestration gateways, two inference gateways, two workers (one task queue). Nothing one
// instance needs may live only in another's memory: rate limits stay exact across the inference
// gateways, a deployment started through one orchestration gateway completes once (one engine
// per replica, one workflow run), a revoked key stops working on both inference gateways, and each
// request is logged exactly once although two consumers share the stream.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { InferiaApi, waitForStatus } from '../../bin/api-client.js';
import type { Config } from '../../lib/config.js';
import { startStack, type Stack } from '../../lib/local-services/stack.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { awaitFreshMinuteWindow, freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let stacks: Stack[] = [];
let config: Config;
let services: ReturnType<typeof connect>;
let org: DemoCredentials;
let apiA: InferiaApi;
let apiB: InferiaApi;
let deploymentId: string;
const model = uniq('scaled');

const ports = async () => ({
  filtration: await freePort(),
  inference: await freePort(),
  orchestration: await freePort(),
  orchestrationGrpc: await freePort(),
  sidecar: await freePort(),
});

beforeAll(async () => {
  const overrides = {
    TEMPORAL_TASK_QUEUE: uniq('scale'),
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), 'inferia-scale-engines-')),
    LOG_LEVEL: 'warn',
  };
  config = testConfig(overrides);
  services = connect(config, 'scale-out');
  const slug = uniq('scale');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  const env = { ...process.env, ...overrides };
  // Started one after the other: two at once on a 2-core machine only slows both.
  stacks.push(await startStack({ env, ports: await ports(), quiet: !process.env.E2E_VERBOSE }));
  stacks.push(await startStack({ env, ports: await ports(), quiet: !process.env.E2E_VERBOSE }));
  apiA = new InferiaApi(stacks[0]!.urls);
  apiB = new InferiaApi(stacks[1]!.urls);
  await apiA.login(org.admin_email, org.admin_password);
  await apiB.login(org.admin_email, org.admin_password);
  await apiA.orchestration('POST', '/deployment/registerModel', { model_name: model, model_version: '1.0', backend: 'mock', artifact_uri: 'inferia/mock-engine' });
  const out = await apiA.orchestration<{ deployment_id: string }>('POST', '/deployment/deploy', {
    model_name: model,
    model_version: '1.0',
    replicas: 2,
    pool_id: org.pool_id,
    inference_model: model,
  });
  deploymentId = out.deployment_id;
  // Watched through the other orchestration gateway: the state is the workflow's, not a process's.
  await waitForStatus(apiB, deploymentId, ['RUNNING'], { timeoutMs: 120_000 });
}, 300_000);

afterAll(async () => {
  if (deploymentId && apiB) {
    await apiB.orchestration('POST', '/deployment/terminate', { deployment_id: deploymentId }).catch(() => undefined);
    await waitForStatus(apiA, deploymentId, ['STOPPED'], { timeoutMs: 30_000 }).catch(() => undefined);
  }
  for (const s of stacks) await s.stop();
  stacks = [];
  const engines = createLocalProvider({ engineDir: config.localEngineDir });
  for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
  const temporal = await createTemporalClient(config);
  for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
    await temporal.schedule.getHandle(reconcileScheduleId(provider, config.temporal.taskQueue)).delete().catch(() => undefined);
  }
  await temporal.connection.close();
  await services?.close();
});

const client = (stack: Stack, key: string) => new OpenAI({ baseURL: `${stack.urls.inference}/v1`, apiKey: key, maxRetries: 0 });

describe('two of every process', () => {
  it('completes a deployment once: one engine per replica, one workflow run', async () => {
    const engines = await createLocalProvider({ engineDir: config.localEngineDir }).discoverNodes();
    expect(engines.filter((n) => n.state !== 'TERMINATED')).toHaveLength(2);
    const nodes = await services.db.inventoryNode.findMany({ where: { deploymentId, state: 'READY' } });
    expect(nodes).toHaveLength(2);
    expect(new Set(nodes.map((n) => n.replicaIndex))).toEqual(new Set([0, 1]));
    const temporal = await createTemporalClient(config);
    try {
      const runs = [];
      for await (const w of temporal.workflow.list({ query: `WorkflowId = 'deployment:${deploymentId}'` })) runs.push(w);
      expect(runs.filter((r) => r.status.name === 'RUNNING')).toHaveLength(1);
    } finally {
      await temporal.connection.close();
    }
  });

  it('keeps a rate limit exact across the two inference gateways', async () => {
    const limit = 12;
    const key = await apiA.filtration<{ key: string }>('POST', '/management/api-keys', { name: 'shared limit', scopes: ['inference'], rpm_limit: limit });
    const clients = stacks.map((s) => client(s, key.key));
    // Both gateways know the model before the race starts.
    for (const c of clients) await waitFor(async () => (await c.models.list()).data.some((m) => m.id === model), 15_000);
    await awaitFreshMinuteWindow();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        clients[i % 2]!.chat.completions.create({ model, messages: [{ role: 'user', content: `race ${i}` }] }).then(
          () => 'ok',
          (err: unknown) => (err instanceof OpenAI.RateLimitError ? '429' : `error: ${String(err)}`),
        ),
      ),
    );
    // The two models.list calls above are not metered; only the completions count.
    expect(results.filter((r) => r === 'ok')).toHaveLength(limit);
    expect(results.filter((r) => r === '429')).toHaveLength(40 - limit);
  });

  it('drops a revoked key on both inference gateways, whichever filtration gateway revoked it', async () => {
    const key = await apiA.filtration<{ id: string; key: string }>('POST', '/management/api-keys', { name: 'revoke me', scopes: ['inference'] });
    const clients = stacks.map((s) => client(s, key.key));
    for (const c of clients) await c.chat.completions.create({ model, messages: [{ role: 'user', content: 'cache this key' }] });
    await apiB.filtration('DELETE', `/management/api-keys/${key.id}`);
    for (const c of clients) {
      await waitFor(
        async () =>
          c.models.list().then(
            () => false,
            (err: unknown) => err instanceof OpenAI.AuthenticationError,
          ),
        2000,
        50,
      );
    }
  });

  it('logs each request exactly once with two consumers on the stream', async () => {
    const key = await apiA.filtration<{ key: string }>('POST', '/management/api-keys', { name: 'logged', scopes: ['inference'] });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const out = await client(stacks[i % 2]!, key.key).chat.completions.create({ model, messages: [{ role: 'user', content: `log ${i}` }] });
      ids.push(out._request_id!);
    }
    const rows = await waitFor(async () => {
      const r = await services.db.inferenceLog.findMany({ where: { requestId: { in: ids } } });
      return r.length === ids.length ? r : undefined;
    }, 20_000);
    expect(new Set(rows.map((r) => r.requestId))).toEqual(new Set(ids));
    // Requests reached both replicas of the deployment.
    expect(new Set(rows.map((r) => r.replica)).size).toBe(2);
  });
});
