// A dependency that cannot be reached (Postgres stopped or restarting, Redis down) is an outage the
// caller can wait out: the gateway answers 503 `unavailable`, not a 500 that reads as a bug.
import { isRedisUnavailable } from '../../lib/redis.js';

const CONNECTION_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

interface AdapterCause {
  kind?: unknown;
  originalCode?: unknown;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: AdapterCause } } } | undefined;
  if (e?.name === 'PrismaClientInitializationError') return true;
  const cause = e?.meta?.driverAdapterError?.cause;
  if (cause && typeof cause.kind === 'string' && CONNECTION_KINDS.has(cause.kind)) return true;
  // SQLSTATE 08: connection exception; 57P01-57P03: shutting down, crashed, starting up.
  if (cause && typeof cause.originalCode === 'string' && /^(08|57P0[123])/.test(cause.originalCode)) return true;
  // pg's own errors for a connection that died mid-query carry no code.
  return typeof e?.message === 'string' && /Connection terminated|connection error|Can't reach database server/i.test(e.message);
}

/** Which dependency the error says is unreachable, if any. */
export function unavailableDependency(err: unknown): 'database' | 'redis' | undefined {
  if (isDatabaseUnavailable(err)) return 'database';
  if (isRedisUnavailable(err)) return 'redis';
  return undefined;
}
