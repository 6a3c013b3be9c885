// Fastify server options every process shares: structured logs with secrets redacted, one log
// line per request (written by the common plugin), body limits, proxy trust, timeouts.
import { randomUUID } from 'node:crypto';
import { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { loggerOptions } from '../logger.js';
import type { Tracing } from '../tracing.js';

export function serverOptions(service: string, config: Config, extra: Partial<FastifyServerOptions> = {}): FastifyServerOptions {
  return {
    logger: loggerOptions(service, config.logLevel),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // Unique across processes and instances (Fastify's default counts from req-1 in each): audit
    // rows and logs name their request, and two gateways must not both have a `req-1`.
    genReqId: () => `req_${randomUUID().replace(/-/g, '')}`,
    // Path parameters as long as the schemas allow (names up to 200 characters, URL-encoded): the default 100 answers 414 first.
    routerOptions: { maxParamLength: 1000 },
    trustProxy: config.trustProxy,
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    ...extra,
  };
}

/** Listens, and closes the server (running its onClose hooks, then flushing traces) on SIGINT or SIGTERM. */
export async function serve(app: FastifyInstance, port: number, host: string, tracing?: Tracing): Promise<void> {
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await app.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', close);
  process.on('SIGTERM', close);
  await app.listen({ port, host });
}

/** A /readyz check: true when the promise resolves. */
export const reachable = (probe: () => Promise<unknown>): Promise<boolean> => probe().then(() => true, () => false);
