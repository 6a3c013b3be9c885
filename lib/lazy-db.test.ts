import { describe, expect, it, vi } from 'vitest';
import type { Db } from './db.js';
import { lazyDb } from './lazy-db.js';

function fakeClient() {
  const calls: unknown[][] = [];
  const client = {
    file: { findFirst: vi.fn(async (args: unknown) => ({ found: args })) },
    $queryRaw: vi.fn(async (strings: TemplateStringsArray, ...values: unknown[]) => [{ sql: strings.join('?'), values }]),
    $transaction: vi.fn(async (fn: (tx: unknown) => Promise<unknown>) => fn(client)),
    $disconnect: vi.fn(async () => undefined),
  };
  return { client, calls };
}

describe('lazyDb', () => {
  it('loads the client on the first query, once, and forwards model calls, raw queries and transactions', async () => {
    const { client } = fakeClient();
    const load = vi.fn(async () => client as unknown as Db);
    const db = lazyDb(load);
    const delegate = db.file;
    expect(load).not.toHaveBeenCalled();
    await expect(delegate.findFirst({ where: { id: 'f1' } })).resolves.toEqual({ found: { where: { id: 'f1' } } });
    const id = 'kb1';
    await expect(db.$queryRaw`SELECT * FROM t WHERE id = ${id}`).resolves.toEqual([{ sql: 'SELECT * FROM t WHERE id = ?', values: ['kb1'] }]);
    await expect(db.$transaction(async (tx) => (tx as unknown as typeof client).file.findFirst(1))).resolves.toEqual({ found: 1 });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('never loads the client to disconnect it, and refuses the array form of $transaction', async () => {
    const load = vi.fn(async () => fakeClient().client as unknown as Db);
    const db = lazyDb(load);
    await db.$disconnect();
    expect(load).not.toHaveBeenCalled();
    expect(() => db.$transaction([] as never)).toThrow(/interactive form/);
  });

  it('is not mistaken for a promise', async () => {
    const db = lazyDb(async () => fakeClient().client as unknown as Db);
    expect(await Promise.resolve(db)).toBe(db);
  });
});
