// Every HTTP gateway built as its main.ts builds it (server options, body limits, services), in
// this process, on free loopback ports, against the shared test Postgres, Redis and Temporal,
// with a Temporal worker on a task queue of its own. Used by the fuzz suite.
//
// What the fuzzer must not reach: a DePIN job it creates is recorded, never started (a simulated
// job runs an engine that would heartbeat to whatever URL the fuzzer made up); inference has an
// upstream double on loopback; each org is the fuzz run's own.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, bundleWorkflowCode, type Worker } from '@temporalio/worker';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { poolClusters } from '../../adapters/clusters/pool-clusters.js';
import { filtrationApp } from '../../gateways/filtration/app.js';
import { createFiltrationServices } from '../../gateways/filtration/services.js';
import { inferenceApp, newRequestId } from '../../gateways/inference/app.js';
import { ContextCache } from '../../gateways/inference/context-cache.js';
import { PromptProcessor } from '../../gateways/inference/prompt.js';
import { prismaRouteSource, RoutingTable } from '../../gateways/inference/routing-table.js';
import { routedEmbedder } from '../../gateways/inference/targets.js';
import { orchestrationApp } from '../../gateways/orchestration/app.js';
import { OrchestrationService } from '../../gateways/orchestration/service.js';
import type { Config } from '../../lib/config.js';
import { keyedHash, randomToken } from '../../lib/crypto.js';
import { signAccessToken } from '../../lib/http/auth.js';
import { serverOptions } from '../../lib/http/server-options.js';
import { InferenceLogConsumer, InferenceLogWriter } from '../../lib/inference-log.js';
import { Limiter } from '../../lib/limits.js';
import { loggerOptions } from '../../lib/logger.js';
import { PROVIDERS } from '../../lib/providers.js';
import { createRedis, providerResourcesKey, type Redis } from '../../lib/redis.js';
import { SessionRevocations } from '../../lib/sessions.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { sidecarApp } from '../../sidecar/app.js';
import { createSimulatedProvider } from '../../sidecar/providers/simulation.js';
import type { DepinJob, DepinNetwork, DepinProvider } from '../../sidecar/providers/types.js';
import { WORKFLOWS_PATH, createOrchestrationWorker } from '../../worker/create-worker.js';
import { freePort, testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';
import type { Recorded } from './state.js';

export interface FuzzStack {
  config: Config;
  db: ReturnType<typeof connect>['db'];
  redis: Redis;
  urls: { filtration: string; orchestration: string; inference: string; sidecar: string };
  /** The org the filtration and orchestration passes act in. */
  org: DemoCredentials;
  /** The org whose API key the inference passes use (own org: nothing the other passes create can route there). */
  inferenceOrg: DemoCredentials;
  tokens: { admin: string; service: string; node: string; apiKey: string; otherOrgAdmin: string; otherOrgApiKey: string };
  node: { provider: string; instanceId: string };
  /** The model the upstream double serves for the inference org. */
  model: string;
  /** Server logs (warn and above) of every gateway, one file each. */
  logDir: string;
  /** Every route each gateway registered (the OpenAPI documents must describe each one that is not hidden). */
  routes: Record<'filtration' | 'orchestration' | 'inference' | 'sidecar', { method: string; url: string; hidden: boolean }[]>;
  /** What the filtration and orchestration gateways answered, by request id (audit rows name their request). */
  responses: Map<string, Recorded>;
  close(): Promise<void>;
}

/** An OpenAI-compatible upstream that answers anything at once (JSON, or SSE when asked to stream). */
function upstreamDouble(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        /* answer anyway */
      }
      const base = { id: 'cmpl-fuzz', created: Math.floor(Date.now() / 1000), model: String(body.model) };
      if ((req.url ?? '').endsWith('/embeddings')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: base.model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
        return;
      }
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'fuzz ' }, finish_reason: null }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'fuzz answer' }, text: 'fuzz answer', finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        }),
      );
    });
  });
}

/** The simulated DePIN provider, except that creating a job only records it. */
function recordingProvider(network: DepinNetwork, engineDir: string): DepinProvider {
  const sim = createSimulatedProvider(network, { engineDir });
  const jobs = new Map<string, DepinJob>();
  const find = (jobId: string) => [...jobs.values()].find((j) => j.jobId === jobId);
  return {
    network,
    mode: sim.mode,
    createJob: async (spec) => {
      const job: DepinJob = { jobId: `fuzz-${network}-${spec.instanceId}`, instanceId: spec.instanceId, state: 'QUEUED', createdAt: new Date().toISOString() };
      jobs.set(spec.instanceId, jobs.get(spec.instanceId) ?? job);
      return jobs.get(spec.instanceId)!;
    },
    getJob: async (jobId) => find(jobId) ?? sim.getJob(jobId),
    stopJob: async (jobId) => {
      const job = find(jobId);
      if (job) return Object.assign(job, { state: 'STOPPED' as const });
      return sim.stopJob(jobId);
    },
    jobLogs: async (jobId, tail) => (find(jobId) ? [] : sim.jobLogs(jobId, tail)),
    listJobs: async () => [...jobs.values(), ...(await sim.listJobs())],
    resources: () => sim.resources(),
  };
}

export async function startFuzzStack(label: string): Promise<FuzzStack> {
  const run = uniq(label);
  const logDir = mkdtempSync(join(tmpdir(), `inferia-${run}-logs-`));
  const ports = { filtration: await freePort(), orchestration: await freePort(), inference: await freePort(), sidecar: await freePort() };
  const local = (p: number) => `http://127.0.0.1:${p}`;
  const taskQueue = `fuzz-${run}`;
  const config = testConfig({
    FILTRATION_URL: local(ports.filtration),
    ORCHESTRATION_URL: local(ports.orchestration),
    NOSANA_SIDECAR_URL: local(ports.sidecar),
    INFERENCE_URL: local(ports.inference),
    // CORS on, as with the dashboard: its hook runs before every other one.
    DASHBOARD_ORIGINS: 'http://127.0.0.1:3001',
    TEMPORAL_TASK_QUEUE: taskQueue,
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), `inferia-${run}-engines-`)),
    LOG_LEVEL: 'warn',
  });
  const services = connect(config, run);
  const { db, redis } = services;
  const closers: (() => Promise<unknown>)[] = [services.close];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  const options = (service: string, extra: Parameters<typeof serverOptions>[2] = {}) =>
    serverOptions(service, config, { logger: { ...loggerOptions(service, 'warn'), file: join(logDir, `${service}.log`) }, ...extra });

  try {
    const org = await seedOrg(db, config, { slug: `${run}-org`, name: run, adminEmail: `${run}@fuzz.test`, adminPassword: 'a long enough password' });
    const inferenceOrg = await seedOrg(db, config, { slug: `${run}-inf`, name: `${run} inference`, adminEmail: `${run}-inf@fuzz.test` });
    const otherOrg = await seedOrg(db, config, { slug: `${run}-other`, name: `${run} other`, adminEmail: `${run}-other@fuzz.test` });

    // A node of the fuzz org's pool, with its node token, for /inventory/*.
    const node = { provider: 'local', instanceId: `${run}-node` };
    const nodeToken = randomToken();
    await db.inventoryNode.create({
      data: { poolId: org.pool_id, provider: node.provider, providerInstanceId: node.instanceId, state: 'READY', nodeTokenHash: keyedHash(config.secrets.apiKeyPepper, nodeToken) },
    });
    // What reconciliation would have cached by now (the route answers 503 until it has).
    for (const provider of PROVIDERS) {
      await redis.set(providerResourcesKey(provider), JSON.stringify({ fetched_at: new Date().toISOString(), resources: [] }), 'EX', 3600, 'NX');
    }

    // Temporal worker on its own queue.
    const temporal = await createTemporalClient(config);
    closers.push(() => temporal.connection.close());
    const connection = await NativeConnection.connect({ address: config.temporal.address });
    closers.push(() => connection.close());
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
    const worker: Worker = await createOrchestrationWorker({ config, db, redis, connection, taskQueue, workflowBundle });
    const running = worker.run();
    closers.push(async () => {
      worker.shutdown();
      await running;
    });

    const listen = async (app: FastifyInstance, port: number) => {
      closers.push(() => app.close());
      await app.listen({ port, host: '127.0.0.1' });
      return local(port);
    };

    const served: FuzzStack['routes'] = { filtration: [], orchestration: [], inference: [], sidecar: [] };
    const recordRoutes = (g: keyof FuzzStack['routes'], app: FastifyInstance) =>
      app.addHook('onRoute', (r) => {
        for (const method of [r.method].flat()) served[g].push({ method, url: r.url, hidden: (r.schema as { hide?: boolean } | undefined)?.hide === true });
      });
    const responses = new Map<string, Recorded>();
    const record = async (req: FastifyRequest, reply: FastifyReply) => {
      responses.set(String(req.id), { status: reply.statusCode, method: req.method, url: req.url });
    };

    // Orchestration (main.ts, HTTP only).
    const orchestration = Fastify(options('orchestration'));
    recordRoutes('orchestration', orchestration);
    orchestration.addHook('onResponse', record);
    const sessions = new SessionRevocations(redis, config.jwt.accessTtlSeconds);
    await orchestration.register(orchestrationApp, {
      config,
      service: new OrchestrationService({ db, temporal, redis, config, log: orchestration.log }),
      streamRedis: () => createRedis(config.redisUrl, `${run}-logs`),
      sessions,
    });
    const orchestrationUrl = await listen(orchestration, ports.orchestration);

    // Filtration (main.ts), with its inference-log consumer on a stream of this run.
    const logStream = `inferia:test-inference-logs:${run}`;
    const filtration = Fastify(options('filtration'));
    recordRoutes('filtration', filtration);
    filtration.addHook('onResponse', record);
    await filtration.register(filtrationApp, createFiltrationServices({ db, redis, config }));
    const consumerRedis = createRedis(config.redisUrl, `${run}-consumer`);
    const consumer = new InferenceLogConsumer(consumerRedis, db, { stream: logStream, deadLetterStream: `${logStream}:dead`, group: `${run}-writers`, blockMs: 200 });
    consumer.start();
    closers.push(async () => {
      await consumer.stop();
      consumerRedis.disconnect();
      await redis.del(logStream, `${logStream}:dead`);
    });
    const filtrationUrl = await listen(filtration, ports.filtration);

    // Sidecar (main.ts, simulation mode; creating a job only records it).
    const engineDir = mkdtempSync(join(tmpdir(), `inferia-${run}-sidecar-`));
    const sidecar = Fastify(options('sidecar'));
    recordRoutes('sidecar', sidecar);
    await sidecar.register(sidecarApp, { config, nosana: recordingProvider('nosana', engineDir), akash: recordingProvider('akash', engineDir) });
    const sidecarUrl = await listen(sidecar, ports.sidecar);

    // Inference (main.ts), its org served by an upstream double through a RUNNING deployment.
    const upstream = upstreamDouble();
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise((r) => upstream.close(() => r(undefined))));
    const model = `fuzz-model`;
    const d = await db.deployment.create({
      data: {
        orgId: inferenceOrg.org_id,
        ownerId: inferenceOrg.user_id,
        modelName: model,
        modelVersion: '1',
        inferenceModel: model,
        poolId: inferenceOrg.pool_id,
        engine: 'mock',
        workflowId: `deployment:${run}-static`,
        status: 'RUNNING',
      },
    });
    await db.inventoryNode.create({
      data: {
        poolId: inferenceOrg.pool_id,
        provider: 'local',
        providerInstanceId: `${run}-upstream`,
        state: 'READY',
        exposeUrl: local((upstream.address() as AddressInfo).port),
        deploymentId: d.id,
      },
    });
    const subscriber = createRedis(config.redisUrl, `${run}-sub`);
    closers.push(async () => subscriber.disconnect());
    const contexts = new ContextCache({ filtrationUrl, serviceToken: config.secrets.internalServiceToken, ttlMs: config.contextCacheTtlMs });
    const routes = new RoutingTable(prismaRouteSource(db), config.routesRefreshMs, { encryptionKey: config.secrets.encryptionKey, outbound: { allow: config.outboundAllowlist } });
    const prompts = new PromptProcessor(db, routedEmbedder(routes, config.upstreamTimeoutMs));
    await contexts.subscribe(subscriber);
    await routes.start(subscriber);
    closers.push(async () => routes.stop());
    await prompts.subscribe(subscriber);
    const inference = Fastify(options('inference', { bodyLimit: 8 * 1024 * 1024, genReqId: newRequestId }));
    recordRoutes('inference', inference);
    await inference.register(inferenceApp, {
      contexts,
      routes,
      upstreamTimeoutMs: config.upstreamTimeoutMs,
      limiter: new Limiter(redis),
      clusters: (orgId) => poolClusters(db, orgId),
      prompts,
      logs: new InferenceLogWriter(redis, { stream: logStream }),
      limiterFailureMode: config.limiterFailureMode,
      filesBatches: {
        db,
        temporal: async () => temporal,
        taskQueue,
        maxFileBytes: config.batch.maxFileBytes,
        concurrency: config.batch.concurrency,
        chunkSize: config.batch.chunkSize,
      },
    });
    const inferenceUrl = await listen(inference, ports.inference);

    return {
      config,
      db,
      redis,
      urls: { filtration: filtrationUrl, orchestration: orchestrationUrl, inference: inferenceUrl, sidecar: sidecarUrl },
      org,
      inferenceOrg,
      tokens: {
        // Signed when read: a long run outlives one access token.
        get admin() {
          return signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
        },
        get otherOrgAdmin() {
          return signAccessToken(config, { sub: otherOrg.user_id, org: otherOrg.org_id, role: 'owner' });
        },
        service: config.secrets.internalServiceToken,
        node: nodeToken,
        apiKey: inferenceOrg.api_key,
        otherOrgApiKey: otherOrg.api_key,
      },
      node,
      model,
      logDir,
      responses,
      routes: served,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
