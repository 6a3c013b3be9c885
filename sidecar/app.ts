// DePIN sidecar HTTP API: the same job routes for each network under /nosana/* and /akash/*,
// callable only with the internal service token. Thin: authenticate, validate, call the
// network's DepinProvider (simulation or live), answer in snake_case.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../lib/config.js';
import { constantTimeEqual } from '../lib/crypto.js';
import { AppError, notFound, unauthorized } from '../lib/errors.js';
import { bearerToken } from '../lib/http/auth.js';
import { commonPlugin } from '../lib/http/common.js';
import { DepinConfigError, JOB_STATES, type DepinJob, type DepinNetwork, type DepinProvider, type DepinResource } from './providers/types.js';

export interface SidecarAppOptions {
  config: Config;
  nosana: DepinProvider;
  akash: DepinProvider;
}

export const CreateJobBody = z.object({
  instance_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, 'letters, digits, dot, dash and underscore, starting with a letter or digit, at most 200'),
  model: z.string().trim().min(1).max(200),
  engine: z.string().trim().min(1).max(50),
  artifact_uri: z.string().trim().min(1).max(2000),
  gpu_per_replica: z.number().int().min(0).max(64),
  configuration: z.record(z.string(), z.unknown()).default({}),
  heartbeat: z.object({
    url: z.url(),
    token: z.string().min(1).max(500),
    interval_ms: z.number().int().min(100).max(3_600_000),
  }),
});

const JobParams = z.object({ job_id: z.string().min(1).max(300) });
const LogsQuery = z.object({ tail: z.coerce.number().int().min(1).max(10_000).default(200) });

const JobBody = z.object({
  job_id: z.string(),
  instance_id: z.string(),
  state: z.enum(JOB_STATES),
  expose_url: z.string().optional(),
  message: z.string().optional(),
  created_at: z.string().optional(),
});
const ResourceBody = z.object({
  name: z.string(),
  gpu_type: z.string().nullable(),
  gpu_count: z.number(),
  vcpu: z.number(),
  ram_gb: z.number(),
  price_per_hour: z.number().nullable(),
  available: z.boolean(),
});

const jobBody = (j: DepinJob): z.infer<typeof JobBody> => ({
  job_id: j.jobId,
  instance_id: j.instanceId,
  state: j.state,
  ...(j.exposeUrl ? { expose_url: j.exposeUrl } : {}),
  ...(j.message ? { message: j.message } : {}),
  ...(j.createdAt ? { created_at: j.createdAt } : {}),
});
const resourceBody = (r: DepinResource): z.infer<typeof ResourceBody> => ({
  name: r.name,
  gpu_type: r.gpuType,
  gpu_count: r.gpuCount,
  vcpu: r.vcpu,
  ram_gb: r.ramGb,
  price_per_hour: r.pricePerHour,
  available: r.available,
});

export async function sidecarApp(fastify: FastifyInstance, opts: SidecarAppOptions) {
  const { config } = opts;
  await fastify.register(commonPlugin, { service: 'sidecar', title: 'Inferia DePIN sidecar', isPublic: (_method, url) => url === '/status' });

  fastify.get('/status', async () => ({
    service: 'depin-sidecar',
    nosana_mode: config.nosanaMode,
    providers: [opts.nosana, opts.akash].map((p) => ({ name: p.network, mode: p.mode })),
  }));

  for (const provider of [opts.nosana, opts.akash]) {
    await fastify.register((scope) => providerRoutes(scope, config, provider), { prefix: `/${provider.network}` });
  }
}

async function providerRoutes(scope: FastifyInstance, config: Config, provider: DepinProvider) {
  const network: DepinNetwork = provider.network;
  scope.addHook('onRequest', async (req) => {
    const token = bearerToken(req);
    if (!token || !constantTimeEqual(token, config.secrets.internalServiceToken)) throw unauthorized('the internal service token is required');
  });

  /** A provider's own refusal is the caller's problem (400); anything else failed on the network side (502). */
  const call = async <T>(req: FastifyRequest, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof DepinConfigError) throw new AppError('bad_request', err.message);
      req.log.error({ err, network, mode: provider.mode }, `${network} ${what} failed`);
      throw new AppError('upstream_error', `${network} (${provider.mode}) could not ${what}; see the sidecar log`);
    }
  };
  const found = <T>(value: T | undefined, jobId: string): T => {
    if (value === undefined) throw notFound(`${network} job '${jobId}'`);
    return value;
  };

  // Creates for one instance run one after another, so a retry racing the original finds its job.
  const creating = new Map<string, Promise<unknown>>();
  const serialized = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const run = (creating.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    creating.set(key, run);
    void run.finally(() => creating.get(key) === run && creating.delete(key)).catch(() => undefined);
    return run;
  };

  const app = scope.withTypeProvider<ZodTypeProvider>();

  app.post('/jobs', { schema: { body: CreateJobBody, response: { 201: JobBody } } }, async (req, reply) => {
    const b = req.body;
    const job = await call(req, 'create the job', () =>
      serialized(b.instance_id, () =>
        provider.createJob({
          instanceId: b.instance_id,
          model: b.model,
          engine: b.engine,
          artifactUri: b.artifact_uri,
          gpuPerReplica: b.gpu_per_replica,
          configuration: b.configuration,
          heartbeat: { url: b.heartbeat.url, token: b.heartbeat.token, intervalMs: b.heartbeat.interval_ms },
        }),
      ),
    );
    return reply.status(201).send(jobBody(job));
  });

  app.get('/jobs', { schema: { response: { 200: z.object({ jobs: z.array(JobBody) }) } } }, async (req) => ({
    jobs: (await call(req, 'list jobs', () => provider.listJobs())).map(jobBody),
  }));

  app.get('/jobs/:job_id', { schema: { params: JobParams, response: { 200: JobBody } } }, async (req) =>
    jobBody(found(await call(req, 'read the job', () => provider.getJob(req.params.job_id)), req.params.job_id)),
  );

  app.post('/jobs/:job_id/stop', { schema: { params: JobParams, response: { 200: JobBody } } }, async (req) =>
    jobBody(found(await call(req, 'stop the job', () => provider.stopJob(req.params.job_id)), req.params.job_id)),
  );

  app.get(
    '/jobs/:job_id/logs',
    { schema: { params: JobParams, querystring: LogsQuery, response: { 200: z.object({ job_id: z.string(), lines: z.array(z.string()) }) } } },
    async (req) => ({
      job_id: req.params.job_id,
      lines: found(await call(req, 'read the logs', () => provider.jobLogs(req.params.job_id, req.query.tail)), req.params.job_id),
    }),
  );

  app.get('/resources', { schema: { response: { 200: z.object({ resources: z.array(ResourceBody) }) } } }, async (req) => ({
    resources: (await call(req, 'list resources', () => provider.resources())).map(resourceBody),
  }));
}
