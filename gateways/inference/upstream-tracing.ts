// The client span around one upstream call (replica, provider or endpoint adapter). It covers the
// call up to the upstream's answer head (time to first byte; the request's server span covers the
// body relayed after). Off, the wrapped function is called as is: one boolean check per call.
import { SpanKind, SpanStatusCode, tracingEnabled, withSpan } from '../../lib/tracing.js';
import type { Replica } from './routing-table.js';

type Send<O, A extends { status: number }> = (target: Replica, path: string, body: Record<string, unknown>, opts: O) => Promise<A>;

export function withUpstreamSpan<O, A extends { status: number }>(send: Send<O, A>): Send<O, A> {
  return (target, path, body, opts) => {
    if (!tracingEnabled()) return send(target, path, body, opts);
    const url = target.adapter ? undefined : `${target.base}${path}`;
    return withSpan(
      `POST ${path}`,
      SpanKind.CLIENT,
      {
        'http.request.method': 'POST',
        ...(url ? { 'url.full': url, 'server.address': new URL(url).hostname } : {}),
        'gen_ai.request.model': target.upstreamModel ?? target.model,
        'inferia.target.kind': target.kind,
        'inferia.target.node_id': target.nodeId,
        ...(target.deploymentId ? { 'inferia.deployment_id': target.deploymentId } : {}),
      },
      () => send(target, path, body, opts),
      (answer, span) => {
        span.setAttribute('http.response.status_code', answer.status);
        if (answer.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      },
    );
  };
}
