// OpenTelemetry traces for every process, off unless OTEL_TRACES_EXPORTER names an exporter.
// Off, no SDK module is even loaded and each helper below is one boolean check: the inference
// hot path allocates no span, no header object, no closure. On, one tracer provider per process
// (W3C trace context, async-local context, batched OTLP/HTTP export) that the Temporal
// interceptors use too, so gateway → Temporal → activity spans land in one trace.
import { hostname } from 'node:os';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from './config.js';

let tracer: Tracer | undefined;

/** True while this process exports traces. Everything on a hot path checks this first. */
export const tracingEnabled = (): boolean => tracer !== undefined;

export interface Tracing {
  /** Also feeds the Temporal worker's workflow span sink. */
  processor: SpanProcessor;
  resource: Resource;
  /** Flushes what is buffered; call it on close. */
  shutdown(): Promise<void>;
}

/**
 * Installs the process-wide tracer provider when `config.tracing.exporter` is not `none`.
 * `service` becomes `service.name` = `inferia-<service>`. `exporter` replaces the configured one (tests).
 */
export async function startTracing(config: Config, service: string, exporter?: SpanExporter): Promise<Tracing | undefined> {
  if (config.tracing.exporter === 'none' && !exporter) return undefined;
  const [sdk, { Resource }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const out =
    exporter ?? (config.tracing.exporter === 'console' ? new sdk.ConsoleSpanExporter() : new OTLPTraceExporter({ url: config.tracing.endpoint }));
  const processor = new sdk.BatchSpanProcessor(out);
  const resource = new Resource({
    'service.name': `inferia-${service}`,
    'service.namespace': 'inferia',
    'service.instance.id': `${hostname()}:${process.pid}`,
  });
  const provider = new sdk.BasicTracerProvider({
    resource,
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(config.tracing.sampleRatio) }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  tracer = provider.getTracer('inferia');
  return {
    processor,
    resource,
    shutdown: async () => {
      tracer = undefined;
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The tracer, for code that only runs when `tracingEnabled()`. */
export function activeTracer(): Tracer {
  if (!tracer) throw new Error('tracing is off');
  return tracer;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** W3C `traceparent` (and `tracestate`) of the active span, to send with an outgoing request; empty when off. */
export function traceHeaders(): Readonly<Record<string, string>> {
  if (!tracer) return NO_HEADERS;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The context an incoming request's headers carry (its `traceparent`), for a server span. */
export function extractContext(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

/**
 * Runs `fn` inside a span (active for what `fn` starts, so `traceHeaders()` names it) and ends it
 * when `fn` settles; `describe` adds attributes from the result. Off: calls `fn` alone.
 */
export async function withSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: () => Promise<T>,
  describe?: (result: T, span: Span) => void,
): Promise<T> {
  if (!tracer) return fn();
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      const result = await fn();
      describe?.(result, span);
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind, SpanStatusCode };
