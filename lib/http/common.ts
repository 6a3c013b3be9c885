// What every Inferia HTTP service has: zod validation, one error handler that names the bad
// field and hides 5xx details, /healthz, /readyz, /metrics (Prometheus), /openapi.json (with who
// may call each route), and JSON input Postgres and the rest of the stack can take: no NUL
// characters or lone surrogates, no nesting that would blow a recursive stack.
import fastifyCors from '@fastify/cors';
import fastifySwagger from '@fastify/swagger';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { tracingEnabled } from '../tracing.js';
import { HotCounter, HotHistogram } from './hot-metrics.js';
import { traceRequests } from './request-tracing.js';

export interface CommonOptions {
  service: string;
  title: string;
  /** Dependency checks for /readyz: name → reachable. */
  ready?: () => Promise<Record<string, boolean>>;
  /** Replaces the `{error:{code,message,details}}` shape (the inference gateway answers in OpenAI's). */
  errorHandler?: (err: unknown, req: FastifyRequest, reply: FastifyReply) => unknown;
  notFoundHandler?: (req: FastifyRequest, reply: FastifyReply) => unknown;
  /**
   * Browser origins allowed to call this service (the dashboard, served on its own port). Its
   * hook answers preflights and marks every answer, errors included, so register this plugin
   * before any hook that may refuse a request.
   */
  corsOrigins?: string[];
  /** Routes anyone may call (documented without `security` in /openapi.json); every other one takes a bearer token. */
  isPublic?: (method: string, url: string) => boolean;
}

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Whether an info line would be written (pino's loggers and ours say; an unknown one is asked to write). */
const logsInfo = (log: FastifyBaseLogger) => (log as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true;

export interface ErrorBody {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  /** Set when the database, not validation, refused the input: a check is missing (logged, never sent). */
  refusedByDatabase?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

/** The largest value of a Postgres `integer` column. */
export const PG_INT_MAX = 2_147_483_647;

const EARLIEST = Date.parse('0001-01-02T00:00:00Z');
const LATEST = Date.parse('9999-12-30T00:00:00Z');
/**
 * An ISO 8601 instant with an offset, within years 1 to 9999 in UTC: Postgres has no year 0, and
 * an instant past 9999 is stored but cannot be read back as a Date.
 */
export const isoDateTime = () =>
  z.iso.datetime({ offset: true }).refine((v) => {
    const t = Date.parse(v);
    return t >= EARLIEST && t <= LATEST;
  }, 'must be between the years 0001 and 9999');

/** JSON nested deeper than this is refused: recursive code downstream (JSON.stringify, Prisma, loggers) would overflow. */
export const MAX_JSON_DEPTH = 64;

/** Why a string cannot be accepted: Postgres refuses NUL in text and jsonb; a lone surrogate has no UTF-8 form. */
function badText(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) return 'must be valid Unicode (it has a lone surrogate)';
  return undefined;
}

interface Visit {
  value: unknown;
  depth: number;
  key: string;
  parent: Visit | undefined;
}
const pathOf = (v: Visit | undefined): string[] => {
  const keys: string[] = [];
  for (let at = v; at?.parent; at = at.parent) keys.push(at.key);
  return keys.reverse();
};

/**
 * The first problem in a parsed JSON value, with where it is: nesting deeper than `maxDepth`, or
 * (when `checkText`) a string or key that cannot be stored. Iterative, so any depth is safe.
 */
export function inspectJson(value: unknown, opts: { maxDepth?: number; checkText?: boolean } = {}): { path: string[]; reason: string } | undefined {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  const checkText = opts.checkText ?? true;
  // The usual case, nothing to find: one allocation-free pass (its recursion stops past maxDepth).
  if (!checkText && !deeperThan(value, maxDepth, 0)) return undefined;
  const stack: Visit[] = [{ value, depth: 0, key: '', parent: undefined }];
  while (stack.length > 0) {
    const at = stack.pop()!;
    const v = at.value;
    if (typeof v === 'string') {
      const why = checkText ? badText(v) : undefined;
      if (why) return { path: pathOf(at), reason: why };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (at.depth >= maxDepth) return { path: pathOf(at).slice(0, 6), reason: `is nested more than ${maxDepth} levels deep` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: at.depth + 1, key: String(i), parent: at });
      continue;
    }
    for (const k of Object.keys(v)) {
      const why = checkText ? badText(k) : undefined;
      if (why) return { path: [...pathOf(at), k], reason: `key ${why}` };
      stack.push({ value: (v as Record<string, unknown>)[k], depth: at.depth + 1, key: k, parent: at });
    }
  }
  return undefined;
}

/** Whether `value` nests more than `maxDepth` levels (looks no deeper than that). */
function deeperThan(value: unknown, maxDepth: number, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth >= maxDepth) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (deeperThan(value[i], maxDepth, depth + 1)) return true;
    return false;
  }
  for (const k in value) if (Object.hasOwn(value, k) && deeperThan((value as Record<string, unknown>)[k], maxDepth, depth + 1)) return true;
  return false;
}

const fieldName = (context: string, path: string[]) => (path.length > 0 ? `${context}.${path.join('.')}` : context);
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

const isEmpty = (values: unknown) => {
  if (values === null || values === undefined) return true;
  if (typeof values !== 'object') return false;
  for (const k in values) if (Object.hasOwn(values, k)) return false;
  return true;
};

/** SQLSTATE classes a malformed value causes (22: data exception; 54000: an index row too large), as a client error. */
function describeDbError(err: unknown): ErrorBody | undefined {
  const e = err as { name?: string; code?: unknown; meta?: { target?: unknown; column_name?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  if (typeof e?.code !== 'string' || !/^PrismaClient/.test(e.constructor?.name ?? '')) return undefined;
  const sqlState = String(e.meta?.driverAdapterError?.cause?.originalCode ?? '');
  const column = typeof e.meta?.column_name === 'string' ? e.meta.column_name : undefined;
  const bad = (message: string): ErrorBody => ({ status: 400, code: 'bad_request', message, details: column ? { field: column } : {}, refusedByDatabase: true });
  switch (e.code) {
    case 'P2000':
      return bad(`${column ?? 'a value'}: is too long`);
    case 'P2020':
    case 'P2033':
      return bad(`${column ?? 'a number'}: is out of range`);
    case 'P2023':
      return bad(`${column ?? 'a value'}: has the wrong format`);
    case 'P2002':
      return { status: 409, code: 'conflict', message: 'conflicts with an existing record', details: Array.isArray(e.meta?.target) ? { fields: e.meta.target } : {} };
    case 'P2025':
      return { status: 404, code: 'not_found', message: 'not found (it may have just been removed)' };
  }
  if (sqlState === '22021' || sqlState === '22P05') return bad('text must not contain NUL (\\u0000) characters');
  if (sqlState === '22003') return bad('a number is out of range');
  if (sqlState === '22001') return bad('a value is too long');
  if (sqlState === '54000') return bad('a value is too long to be indexed; shorten it');
  if (sqlState.startsWith('22')) return bad('a value has the wrong format or is out of range');
  return undefined;
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
  return describeDbError(err) ?? { status: 500, code: 'internal', message: 'internal server error' };
}

export function sendInferiaError(req: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = describeError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  else if (e.refusedByDatabase) req.log.warn({ err }, 'input refused by the database: its validation is missing');
  if (typeof e.details?.retry_after === 'number') reply.header('retry-after', String(e.details.retry_after));
  return reply.status(e.status).send({ error: { code: e.code, message: e.message, details: e.details ?? {} } });
}

export const commonPlugin = fp<CommonOptions>(
  async (app: FastifyInstance, opts) => {
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    // Before any route is added: the span wraps each handler. Off, no hook is added at all.
    if (tracingEnabled()) traceRequests(app, QUIET_ROUTES);

    if (opts.corsOrigins && opts.corsOrigins.length > 0) {
      // Bearer tokens travel in a header, never in cookies: no credentials mode is needed.
      await app.register(fastifyCors, {
        origin: opts.corsOrigins,
        methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
        exposedHeaders: ['x-request-id', 'retry-after'],
        maxAge: 600,
      });
    }

    await app.register(fastifySwagger, {
      openapi: {
        info: { title: opts.title, version: '0.1.0' },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      },
      transform: (input) => {
        const out = jsonSchemaTransform(input);
        if ((out.schema as { hide?: boolean } | undefined)?.hide) return out;
        const method = [input.route.method].flat()[0] ?? 'GET';
        const open = opts.isPublic?.(method, input.route.url) ?? false;
        return { ...out, schema: { ...(out.schema ?? {}), security: open ? [] : [{ bearerAuth: [] }] } };
      },
    });

    // JSON bodies: Fastify's own parser (prototype-poisoning checks included), then the checks
    // above. Strings are only walked when the raw text holds an escape that could be bad.
    const parseJson = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      void parseJson(req, body as string, (err, value) => {
        if (err) return done(err, undefined);
        const raw = body as string;
        const problem = inspectJson(value, { checkText: raw.includes('\\u0000') || LONE_SURROGATE_ESCAPE.test(raw) });
        if (!problem) return done(null, value);
        const field = fieldName('body', problem.path);
        done(new AppError('bad_request', `${field}: ${problem.reason}`, { field }), undefined);
      });
    });
    // Path and query strings reach queries too.
    // Callback hooks (no promise per request): these run on every request of every service.
    app.addHook('preValidation', (req, _reply, done) => {
      if (isEmpty(req.params) && isEmpty(req.query)) return done(); // the inference routes': nothing to read
      for (const [context, values] of [['params', req.params], ['querystring', req.query]] as const) {
        const problem = values && typeof values === 'object' ? inspectJson(values, { maxDepth: 4 }) : undefined;
        if (problem) {
          const field = fieldName(context, problem.path.slice(0, 1));
          return done(new AppError('bad_request', `${field}: ${problem.reason}`, { field }));
        }
      }
      done();
    });

    const registry = new Registry();
    registry.setDefaultLabels({ service: opts.service });
    collectDefaultMetrics({ register: registry });
    const requests = new HotCounter({
      name: 'inferia_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    const latency = new HotHistogram({
      name: 'inferia_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
    app.decorate('metrics', registry);
    app.addHook('onResponse', (req, reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched';
      requests.labels(req.method, route, String(reply.statusCode)).inc();
      latency.labels(req.method, route).observe(reply.elapsedTime / 1000);
      // One line per request (Fastify's own request logging is off): method, route, status, time.
      if (!QUIET_ROUTES.has(route) && logsInfo(req.log)) {
        req.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
      }
      done();
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
