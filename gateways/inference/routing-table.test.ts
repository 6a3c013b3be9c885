import { describe, expect, it } from 'vitest';
import { RoutingTable, type ProviderRow } from './routing-table.js';

/** A stand-in for the queries the table makes (the real ones run in the integration suite). */
function tableWith(nodes: string[], providers: ProviderRow[] = []) {
  return new RoutingTable(
    async () => ({ replicas: nodes.map((id) => ({ nodeId: id, url: `http://${id}`, deploymentId: 'd1', model: 'm', orgId: 'o', modelConfig: {} })), providers }),
    60_000,
  );
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
      async () => ({
        replicas: [{ nodeId: 'a', url: 'http://a/', deploymentId: 'd1', model: 'm', orgId: 'o', modelConfig: {} }],
        providers: [{ id: 'p1', orgId: 'o', baseUrl: 'https://api.example/v1/', settings: { models: ['m'] }, secretsEnc: null }],
      }),
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

  it('tells its listeners every HTTP target base URL after each load', async () => {
    const t = tableWith(['a', 'b'], [{ id: 'p1', orgId: 'o', baseUrl: 'https://api.example/v1', settings: { models: ['m'] }, secretsEnc: null }]);
    const seen: string[][] = [];
    t.onLoad((urls) => seen.push([...urls].sort()));
    await t.refresh();
    expect(seen).toEqual([['http://a/v1', 'http://b/v1', 'https://api.example/v1']]);
  });
});
