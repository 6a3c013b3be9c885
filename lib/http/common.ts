// What every Inferia HTTP service has: zod validation, one error handler that names the bad
// field and hides 5xx details, /healthz, /readyz, /metrics (Prometheus), /openapi.json.
import fastifySwagger from '@fastify/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AppError } from '../errors.js';
import { labelled } from './labelled.js';

export interface CommonOptions {
  service: string;
  title: string;
  /** Dependency checks for /readyz: name → reachable. */
  ready?: () => Promise<Record<string, boolean>>;
  /** Replaces the `{error:{code,message,details}}` shape (the inference gateway answers in OpenAI's). */
  errorHandler?: (err: unknown, req: FastifyRequest, reply: FastifyReply) => unknown;
  notFoundHandler?: (req: FastifyRequest, reply: FastifyReply) => unknown;
}

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export interface ErrorBody {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

/** Turns any thrown error into a status, a stable code and a message safe to show the client. */
export function describeError(err: unknown): ErrorBody {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, details: err.details };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    const issue = first?.params?.issue as { path?: PropertyKey[]; message?: string } | undefined;
    const where = first?.instancePath?.replace(/^\//, '').replace(/\//g, '.') || issue?.path?.map(String).join('.') || '';
    const context = (err as { validationContext?: string }).validationContext ?? 'body';
    const field = where ? `${context}.${where}` : context;
    return {
      status: 400,
      code: 'bad_request',
      message: `${field}: ${issue?.message ?? first?.message ?? 'invalid value'}`,
      details: { field, issues: err.validation.map((v) => ({ path: v.instancePath, message: v.message })) },
    };
  }
  const fe = err as FastifyError;
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : 'bad_request';
    return { status: fe.statusCode, code, message: fe.message };
  }
  return { status: 500, code: 'internal', message: 'internal server error' };
}

export function sendInferiaError(req: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = describeError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  if (typeof e.details?.retry_after === 'number') reply.header('retry-after', String(e.details.retry_after));
  return reply.status(e.status).send({ error: { code: e.code, message: e.message, details: e.details ?? {} } });
}

export const commonPlugin = fp<CommonOptions>(
  async (app: FastifyInstance, opts) => {
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);

    await app.register(fastifySwagger, {
      openapi: { info: { title: opts.title, version: '0.1.0' } },
      transform: jsonSchemaTransform,
    });

    const registry = new Registry();
    registry.setDefaultLabels({ service: opts.service });
    collectDefaultMetrics({ register: registry });
    const requests = new Counter({
      name: 'inferia_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'inferia_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
    const [requestsOf, latencyOf] = [labelled(requests), labelled(latency)];
    app.decorate('metrics', registry);
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      requestsOf(req.method, route, String(reply.statusCode)).inc();
      latencyOf(req.method, route).observe(reply.elapsedTime / 1000);
      // One line per request (Fastify's own request logging is off): method, route, status, time.
      if (!QUIET_ROUTES.has(route)) {
        req.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
      }
    });

    app.setErrorHandler(opts.errorHandler ?? ((err, req, reply) => sendInferiaError(req, reply, err)));
    app.setNotFoundHandler(
      opts.notFoundHandler ??
        ((req, reply) =>
          reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, details: {} } })),
    );

    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok', service: opts.service }));
    app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      const checks = opts.ready ? await opts.ready().catch(() => ({ checks: false })) : {};
      const ok = Object.values(checks).every(Boolean);
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
    });
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
      reply.header('content-type', registry.contentType).send(await registry.metrics()),
    );
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'inferia-common', fastify: '5.x' },
);
