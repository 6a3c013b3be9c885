// Fastify server options every process shares: structured logs with secrets redacted, one log
// line per request (written by the common plugin), body limits, proxy trust, timeouts.
import { LogController, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { loggerOptions } from '../logger.js';

export function serverOptions(service: string, config: Config, extra: Partial<FastifyServerOptions> = {}): FastifyServerOptions {
  return {
    logger: loggerOptions(service, config.logLevel),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    trustProxy: config.trustProxy,
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    ...extra,
  };
}
