import { describe, expect, it } from 'vitest';
import type { Db } from '../../lib/db.js';
import { RoutingTable } from './routing-table.js';

/** A stand-in for the one query the table makes (the real one runs in the integration suite). */
function tableWith(nodes: string[], providers: unknown[] = []) {
  const db = {
    inventoryNode: {
      findMany: async () =>
        nodes.map((id) => ({ id, exposeUrl: `http://${id}`, deploymentId: 'd1', deployment: { inferenceModel: 'm', orgId: 'o', model: { configJson: {} } } })),
    },
    providerConfig: { findMany: async () => providers },
  } as unknown as Db;
  return new RoutingTable(db, 60_000);
}

describe('routing table', () => {
  it('prefers the replica with the fewest requests in flight', async () => {
    const t = tableWith(['a', 'b']);
    await t.refresh();
    const [a] = t.replicas('o', 'm');
    a!.inflight = 3;
    expect(t.pick('o', 'm')?.nodeId).toBe('b');
  });

  it('leaves out a replica after three failures in a row, and comes back to it when all are open', async () => {
    const t = tableWith(['a', 'b']);
    await t.refresh();
    for (let i = 0; i < 3; i++) t.reportFailure('a');
    for (let i = 0; i < 20; i++) expect(t.pick('o', 'm')?.nodeId).toBe('b');
    for (let i = 0; i < 3; i++) t.reportFailure('b');
    expect(t.pick('o', 'm')).toBeDefined(); // half-open: something is still tried
    t.reportSuccess('a');
    expect(t.isOpen('a')).toBe(false);
  });

  it('scopes replicas to the organisation', async () => {
    const t = tableWith(['a']);
    await t.refresh();
    expect(t.pick('other-org', 'm')).toBeUndefined();
    expect(t.models('o')).toEqual(['m']);
  });

  it('prefers deployments, then providers, then static endpoints, and moves on when a tier is failing', async () => {
    const t = new RoutingTable(
      {
        inventoryNode: {
          findMany: async () => [{ id: 'a', exposeUrl: 'http://a/', deploymentId: 'd1', deployment: { inferenceModel: 'm', orgId: 'o', model: { configJson: {} } } }],
        },
        providerConfig: { findMany: async () => [{ id: 'p1', orgId: 'o', baseUrl: 'https://api.example/v1/', settings: { models: ['m'] }, secretsEnc: null }] },
      } as unknown as Db,
      60_000,
      { staticEndpoints: [{ definition: { id: 's1', model: 'm', allowed_globus_groups: [], allowed_domains: [] } as never, adapter: {} as never }] },
    );
    await t.refresh();
    expect(t.replicas('o', 'm').map((r) => [r.kind, r.base])).toEqual([
      ['replica', 'http://a/v1'],
      ['provider', 'https://api.example/v1'],
      ['endpoint', ''],
    ]);
    expect(t.pick('o', 'm')?.kind).toBe('replica');
    for (let i = 0; i < 3; i++) t.reportFailure('a');
    expect(t.pick('o', 'm')?.kind).toBe('provider');
    expect(t.pick('o', 'm', new Set(['a', 'provider:p1']))?.kind).toBe('endpoint');
    // Static endpoints serve every organisation; providers only their own.
    expect(t.replicas('other', 'm').map((r) => r.kind)).toEqual(['endpoint']);
  });
});
