// A Prisma client loaded on its first query. The inference gateway's hot path never queries
// through Prisma (its routing table reads Postgres over `pg`), yet prompt templates, RAG, files,
// batches and /v1/clusters do: deferring the client's modules keeps them out of a gateway that never
// serves those routes (about 20 MiB of its memory).
//
// What works through it: `db.<model>.<method>(…)`, `db.$queryRaw`…``, `db.$executeRaw`…``,
// interactive `db.$transaction(async (tx) => …)` (inside it, `tx` is the real client) and
// `db.$disconnect()` (nothing to do when never loaded). Every call returns a plain Promise, so the
// array form of `$transaction([…])`, which needs Prisma's own lazy promises, is refused.
import type { Db } from './db.js';

export function lazyDb(load: () => Promise<Db>): Db {
  let loaded: Promise<Db> | undefined;
  let client: Db | undefined;
  const real = () =>
    (loaded ??= load().then((db) => (client = db)));
  const delegates = new Map<string, object>();
  const delegate = (model: string) => {
    let d = delegates.get(model);
    if (!d) {
      d = new Proxy(
        {},
        {
          get: (_t, method) =>
            typeof method === 'string'
              ? (...args: unknown[]) =>
                  real().then((db) => (db as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>)[model]![method]!(...args))
              : undefined,
        },
      );
      delegates.set(model, d);
    }
    return d;
  };
  return new Proxy({} as Db, {
    get: (_t, prop) => {
      if (typeof prop !== 'string') return undefined;
      if (prop === 'then') return undefined; // not a thenable: `await lazyDb(…)` is the proxy itself
      if (prop === '$disconnect') return async () => (client ? client.$disconnect() : undefined);
      if (prop === '$transaction') {
        return (arg: unknown, ...rest: unknown[]) => {
          if (typeof arg !== 'function') throw new TypeError('lazyDb: use the interactive form, $transaction(async (tx) => …)');
          return real().then((db) => (db.$transaction as (...a: unknown[]) => unknown)(arg, ...rest));
        };
      }
      if (prop.startsWith('$')) return (...args: unknown[]) => real().then((db) => (db as unknown as Record<string, (...a: unknown[]) => unknown>)[prop]!(...args));
      return delegate(prop);
    },
  });
}
