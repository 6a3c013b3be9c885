// `inferia pools`: compute pools with a summary of their inventory (/management/pools).
import type { InferiaApi } from '../api-client.js';
import { EXIT, GLOBAL_HELP, Output, UsageError, age, expectPositionals, parse, shortId, statusText, type Command } from '../cli/cli.js';
import { listPools, resolvePool, type NodeView, type PoolView } from '../cli/resources.js';
import { Session } from '../cli/session.js';

const USAGE = `usage: inferia pools [list]
       inferia pools show POOL [--all]

list   every pool with its provider, status and nodes (ready / all, GPUs allocated)
show   one pool and its nodes (--all: terminated ones too); POOL is an id, a unique id prefix
       or the pool's name

${GLOBAL_HELP}
`;

interface InventorySummary {
  nodes: number;
  ready: number;
  gpu_allocated: number;
  by_state: Record<string, number>;
}

const inventoryOf = async (api: InferiaApi, poolId: string) =>
  (await api.filtration<{ nodes: NodeView[] }>('GET', `/management/pools/${poolId}/inventory`)).nodes;

function summarize(nodes: NodeView[]): InventorySummary {
  const live = nodes.filter((n) => n.state !== 'TERMINATED');
  const byState: Record<string, number> = {};
  for (const n of live) byState[n.state] = (byState[n.state] ?? 0) + 1;
  return {
    nodes: live.length,
    ready: live.filter((n) => n.state === 'READY' || n.state === 'BUSY').length,
    gpu_allocated: live.reduce((sum, n) => sum + n.gpu_allocated, 0),
    by_state: byState,
  };
}

export const pools: Command = {
  summary: 'list compute pools with an inventory summary (pools show POOL for its nodes)',
  usage: USAGE,
  async run(argv) {
    const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'list';
    const rest = sub === argv[0] ? argv.slice(1) : argv;
    switch (sub) {
      case 'list':
      case 'ls':
        return list(rest);
      case 'show':
        return show(rest);
      default:
        throw new UsageError(`unknown subcommand 'pools ${sub}' (list, show)`);
    }
  },
};

async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  expectPositionals(positionals, []);
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const all = await listPools(api);
  // Inventory needs its own permission: without it the pools are still listed.
  const inventories = await Promise.all(all.map((p) => inventoryOf(api, p.pool_id).then(summarize, () => null)));
  const rows: (PoolView & { inventory: InventorySummary | null })[] = all.map((p, i) => ({ ...p, inventory: inventories[i] ?? null }));
  if (out.json) {
    out.document({ pools: rows });
    return EXIT.ok;
  }
  out.table(
    ['ID', 'NAME', 'PROVIDER', 'STATUS', 'NODES', 'READY', 'GPUS', 'CREATED'],
    rows.map((p) => [
      shortId(p.pool_id),
      p.pool_name,
      p.provider,
      statusText(p.status),
      p.inventory ? String(p.inventory.nodes) : '?',
      p.inventory ? String(p.inventory.ready) : '?',
      p.inventory ? String(p.inventory.gpu_allocated) : '?',
      age(p.created_at),
    ]),
    'No pools.',
  );
  return EXIT.ok;
}

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { all: { type: 'boolean' } });
  const [ref] = expectPositionals(positionals, ['POOL']);
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const pool = await resolvePool(api, ref!);
  const nodes = await inventoryOf(api, pool.pool_id);
  if (out.json) {
    out.document({ ...pool, inventory: summarize(nodes), nodes });
    return EXIT.ok;
  }
  out.print(`${'Pool'.padEnd(10)} ${pool.pool_name} (${pool.pool_id})`);
  out.print(`${'Provider'.padEnd(10)} ${pool.provider}${pool.allowed_gpu_types.length ? `, GPUs: ${pool.allowed_gpu_types.join(', ')}` : ''}`);
  out.print(`${'Status'.padEnd(10)} ${statusText(pool.status)}`);
  out.print();
  out.table(
    ['NODE', 'STATE', 'DEPLOYMENT', 'REPLICA', 'GPUS', 'URL', 'HEARTBEAT'],
    nodes
      .filter((n) => values.all || n.state !== 'TERMINATED')
      .map((n) => [
      shortId(n.node_id),
      statusText(n.state),
      n.deployment_id ? shortId(n.deployment_id) : '-',
      String(n.replica_index ?? '-'),
      String(n.gpu_allocated),
      n.expose_url ?? '-',
      age(n.last_heartbeat_at),
    ]),
    'No nodes.',
  );
  return EXIT.ok;
}
