// What the benchmark's gateway serves: an org with an API key, a RUNNING deployment of
// `bench-mock` whose one READY replica is the mock upstream, and the whole policy chain switched
// on without ever refusing the benchmark's requests: per-minute rate limits and a monthly quota
// far above what a run sends, PII and injection guardrails on input and output. Two more keys with
// a limit of one request tell whether rate limits and quotas are enforced at all.
import { randomUUID } from 'node:crypto';
import type { Config } from '../lib/config.js';
import { generateApiKey, parseApiKey } from '../lib/crypto.js';
import type { Db } from '../lib/db.js';
import { seedOrg } from '../prisma/seed.js';

export const BENCH_MODEL = 'bench-mock';
const PROVIDER = 'bench';
/** Far above anything a run sends, so the limiter counts every request and never refuses one. */
const UNLIMITED = 1_000_000_000_000;

export interface BenchSeed {
  orgId: string;
  apiKey: string;
  rateLimitedKey: string;
  quotaLimitedKey: string;
  deploymentId: string;
}

export async function seedBench(db: Db, config: Config, upstreamUrl: string): Promise<BenchSeed> {
  const creds = await seedOrg(db, config, { slug: 'bench', name: 'Benchmark', adminEmail: 'bench@inferia.local' });
  const orgId = creds.org_id;
  const mainPrefix = parseApiKey(creds.api_key)!.prefix;

  // seedOrg made a fresh key: drop the keys and limits earlier runs left.
  await db.quota.deleteMany({ where: { orgId } });
  await db.apiKey.deleteMany({ where: { orgId, prefix: { not: mainPrefix } } });
  const main = await db.apiKey.findUniqueOrThrow({ where: { prefix: mainPrefix } });

  const probeKey = async (name: string) => {
    const k = generateApiKey(config.secrets.apiKeyPepper);
    const row = await db.apiKey.create({
      data: { orgId, userId: creds.user_id, name, prefix: k.prefix, keyHash: k.hash, scopes: ['inference'] },
    });
    return { key: k.key, id: row.id };
  };
  const rateLimited = await probeKey('bench rate-limit probe');
  const quotaLimited = await probeKey('bench quota probe');

  await db.quota.createMany({
    data: [
      { orgId, apiKeyId: null, period: 'minute', requestLimit: UNLIMITED, tokenLimit: UNLIMITED },
      { orgId, apiKeyId: null, period: 'month', requestLimit: UNLIMITED, tokenLimit: UNLIMITED },
      { orgId, apiKeyId: main.id, period: 'minute', requestLimit: UNLIMITED, tokenLimit: UNLIMITED },
      { orgId, apiKeyId: rateLimited.id, period: 'minute', requestLimit: 1 },
      { orgId, apiKeyId: quotaLimited.id, period: 'month', requestLimit: 1 },
    ],
  });

  const guardrails = {
    rules: [
      { type: 'pii', stage: 'both', action: 'redact', options: {} },
      { type: 'prompt_injection', stage: 'both', action: 'block', options: {} },
    ],
  };
  await db.guardrailPolicy.upsert({
    where: { orgId_name: { orgId, name: 'bench chain' } },
    create: { orgId, name: 'bench chain', config: guardrails, enabled: true, apiKeyIds: [] },
    update: { config: guardrails, enabled: true, apiKeyIds: [] },
  });

  const model = await db.registeredModel.upsert({
    where: { orgId_modelName_modelVersion: { orgId, modelName: BENCH_MODEL, modelVersion: '1.0' } },
    create: { orgId, modelName: BENCH_MODEL, modelVersion: '1.0', backend: 'mock', artifactUri: 'bench/mock-upstream.ts', configJson: {} },
    update: {},
  });
  let deployment = await db.deployment.findFirst({ where: { orgId, inferenceModel: BENCH_MODEL } });
  if (!deployment) {
    const id = randomUUID();
    deployment = await db.deployment.create({
      data: {
        id,
        orgId,
        ownerId: creds.user_id,
        modelId: model.id,
        modelName: BENCH_MODEL,
        modelVersion: '1.0',
        inferenceModel: BENCH_MODEL,
        replicas: 1,
        poolId: creds.pool_id,
        engine: 'mock',
        status: 'RUNNING',
        // No workflow runs it: the benchmark starts no worker and no Temporal.
        workflowId: `bench:${id}`,
      },
    });
  } else if (deployment.status !== 'RUNNING') {
    deployment = await db.deployment.update({ where: { id: deployment.id }, data: { status: 'RUNNING' } });
  }
  const node = { poolId: creds.pool_id, state: 'READY', exposeUrl: upstreamUrl, deploymentId: deployment.id, replicaIndex: 0, lastHeartbeatAt: new Date() };
  await db.inventoryNode.upsert({
    where: { provider_providerInstanceId: { provider: PROVIDER, providerInstanceId: 'bench-mock-upstream' } },
    create: { provider: PROVIDER, providerInstanceId: 'bench-mock-upstream', ...node },
    update: node,
  });

  return { orgId, apiKey: creds.api_key, rateLimitedKey: rateLimited.key, quotaLimitedKey: quotaLimited.key, deploymentId: deployment.id };
}
