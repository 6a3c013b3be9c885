// A server span per HTTP request, continuing the caller's `traceparent`. Registered by the common
// plugin only when tracing is on. The span is made active around the route handler (wrapped at
// route registration), so what the handler starts — an upstream call, a Temporal workflow — is
// its child; the request's log lines carry its trace id.
import { context, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { activeTracer, extractContext, SpanKind, SpanStatusCode } from '../tracing.js';

interface Traced {
  span: Span;
  ctx: Context;
}
const spans = new WeakMap<FastifyRequest, Traced>();

function finish(req: FastifyRequest, status: number | undefined) {
  const t = spans.get(req);
  if (!t) return;
  spans.delete(req);
  if (status !== undefined) {
    t.span.setAttribute('http.response.status_code', status);
    if (status >= 500) t.span.setStatus({ code: SpanStatusCode.ERROR });
  } else {
    t.span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted' });
  }
  t.span.end();
}

/** `untraced`: routes that get no span (health checks, metrics scrapes). */
export function traceRequests(app: FastifyInstance, untraced: ReadonlySet<string>) {
  const tracer = activeTracer();
  app.addHook('onRoute', (route) => {
    if (untraced.has(route.url ?? '')) return;
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function (this: FastifyInstance, req, reply) {
      const t = spans.get(req);
      return t ? context.with(t.ctx, handler, this, req, reply) : handler.call(this, req, reply);
    } as RouteHandlerMethod;
  });
  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url;
    if (route !== undefined && untraced.has(route)) return;
    const parent = extractContext(req.headers);
    const span = tracer.startSpan(
      route ? `${req.method} ${route}` : req.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'url.path': req.url.split('?')[0],
          ...(route ? { 'http.route': route } : {}),
          'inferia.request_id': String(req.id),
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    spans.set(req, { span, ctx });
    req.log = req.log.child({ trace_id: span.spanContext().traceId });
  });
  app.addHook('onError', async (req, _reply, err) => {
    spans.get(req)?.span.recordException(err);
  });
  app.addHook('onResponse', async (req, reply) => finish(req, reply.statusCode));
  app.addHook('onRequestAbort', async (req) => finish(req, undefined));
}
