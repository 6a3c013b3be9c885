import { describe, expect, it } from 'vitest';
import { RoutingTable } from './routing-table.js';

/** A stand-in for the one query the table makes (the real ones run in the integration suite). */
function tableWith(nodes: string[]) {
  return new RoutingTable(async () => nodes.map((id) => ({ nodeId: id, url: `http://${id}`, deploymentId: 'd1', model: 'm', orgId: 'o', modelConfig: {} })), 60_000);
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

  it('tells its listeners every replica URL after each load', async () => {
    const t = tableWith(['a', 'b']);
    const seen: string[][] = [];
    t.onLoad((urls) => seen.push([...urls].sort()));
    await t.refresh();
    expect(seen).toEqual([['http://a', 'http://b']]);
  });
});
