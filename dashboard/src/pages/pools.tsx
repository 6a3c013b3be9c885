// Compute pools and their inventory: every node with its state, GPU, provider and how long ago
// it last reported (a heartbeat going stale is what a failing node looks like first).
import { useState, type FormEvent } from 'react';
import { PROVIDERS } from '../../../lib/providers.js';
import { formatAge, formatDateTime, heartbeatHealth, shortId } from '../format';
import { useAction, useNow, useResource } from '../hooks';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { DataTable, type Column } from '../table';
import type { InventoryNode, Pool } from '../types';
import { Button, Card, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, StatusBadge, useToast } from '../ui';
import { decimal, hasErrors, maxLength, required, splitList, validate } from '../validate';

export function PoolsPage({ selected }: { selected?: string }) {
  const { api, perms } = useSession();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const pools = useResource(async () => (await api.get<{ pools: Pool[] }>('/management/pools')).pools, [], {
    pollMs: (rows) => (rows?.some((p) => p.status !== 'ACTIVE') ? 3000 : 30_000),
  });
  const remove = useAction(async (p: Pool) => {
    await api.del(`/management/pools/${p.pool_id}`);
    toast(`Pool ${p.pool_name} deleted`);
    if (selected === p.pool_id) navigate('/pools');
    await pools.reload();
    return true;
  });
  const mayWrite = perms.can('pools:write');
  const columns: Column<Pool>[] = [
    { header: 'Name', cell: (p) => <b>{p.pool_name}</b> },
    { header: 'Provider', cell: (p) => p.provider },
    { header: 'Status', cell: (p) => <StatusBadge status={p.status} /> },
    { header: 'GPU types', cell: (p) => (p.allowed_gpu_types.length ? p.allowed_gpu_types.join(', ') : <span className="muted">any</span>) },
    { header: 'Max $/h', numeric: true, cell: (p) => p.max_cost_per_hour ?? '—' },
    { header: 'Created', cell: (p) => formatDateTime(p.created_at) },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (p) => (
        <span className="row-actions" onClick={(e) => e.stopPropagation()}>
          <ConfirmButton label="Delete" confirm={`Delete pool ${p.pool_name}?`} busy={remove.busy} onConfirm={() => void remove.run(p)} />
        </span>
      ),
    });
  }
  const current = pools.data?.find((p) => p.pool_id === selected);
  return (
    <>
      <PageHeader
        title="Compute pools"
        subtitle="Where deployments run: this host, Kubernetes, SkyPilot clouds, Nosana and Akash. Select a pool to see its nodes."
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setCreating(true)}>
              Create pool
            </Button>
          ) : null
        }
      />
      <ErrorNote error={remove.error} onDismiss={remove.reset} />
      <ErrorNote error={pools.error} />
      {!pools.data && pools.loading ? (
        <Loading what="pools" />
      ) : (
        <DataTable
          label="pools"
          rows={pools.data ?? []}
          columns={columns}
          rowKey={(p) => p.pool_id}
          text={(p) => `${p.pool_name} ${p.provider} ${p.status} ${p.allowed_gpu_types.join(' ')}`}
          onRowClick={(p) => navigate(`/pools/${p.pool_id}`)}
          selected={selected ?? null}
          empty="No pools yet."
        />
      )}
      {current && perms.can('inventory:read') ? <Inventory pool={current} /> : null}
      {creating ? <CreatePoolDialog onClose={() => setCreating(false)} onCreated={() => void pools.reload()} /> : null}
    </>
  );
}

function Inventory({ pool }: { pool: Pool }) {
  const { api } = useSession();
  const now = useNow();
  const [state, setState] = useState('all');
  const inv = useResource(() => api.get<{ nodes: InventoryNode[] }>(`/management/pools/${pool.pool_id}/inventory`), [pool.pool_id], { pollMs: 5000 });
  const columns: Column<InventoryNode>[] = [
    {
      header: 'Instance',
      cell: (n) => (
        <code className="small ellipsis" title={n.provider_instance_id}>
          {n.provider_instance_id}
        </code>
      ),
    },
    { header: 'State', cell: (n) => <StatusBadge status={n.state} /> },
    { header: 'Provider', cell: (n) => n.provider },
    { header: 'GPU', cell: (n) => `${n.gpu_allocated} × ${n.gpu_type ?? 'none'}` },
    { header: 'vCPU', numeric: true, cell: (n) => n.vcpu_allocated },
    { header: 'RAM GB', numeric: true, cell: (n) => n.ram_gb_allocated },
    { header: 'Health', numeric: true, cell: (n) => n.health_score },
    { header: 'Heartbeat', cell: (n) => <span className={`hb hb-${heartbeatHealth(n.last_heartbeat_at, now, 20, n.state)}`}>{formatAge(n.last_heartbeat_at, now)}</span> },
    { header: 'Deployment', cell: (n) => (n.deployment_id ? <Link to={`/deployments/${n.deployment_id}`}>{shortId(n.deployment_id)}</Link> : '—') },
  ];
  return (
    <Card title={`Inventory of ${pool.pool_name}`}>
      <ErrorNote error={inv.error} />
      {!inv.data ? (
        <Loading what="nodes" />
      ) : (
        <DataTable
          label="nodes"
          rows={inv.data.nodes}
          columns={columns}
          rowKey={(n) => n.node_id}
          text={(n) => `${n.provider_instance_id} ${n.state} ${n.gpu_type ?? ''} ${n.provider} ${n.deployment_id ?? ''}`}
          filters={state === 'all' ? [] : [(n) => n.state === state]}
          filterKey={state}
          toolbar={
            <select aria-label="Node state" value={state} onChange={(e) => setState(e.target.value)}>
              <option value="all">All states</option>
              {['PROVISIONING', 'READY', 'BUSY', 'UNHEALTHY', 'TERMINATED'].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          }
          empty="No nodes in this pool yet: they appear when a deployment places replicas."
        />
      )}
    </Card>
  );
}

function CreatePoolDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [values, setValues] = useState({ name: '', provider: 'local', gpus: '', cost: '', dedicated: 'no' });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof values, string>>>({});
  const create = useAction(() =>
    api.post<Pool>('/management/pools', {
      pool_name: values.name.trim(),
      provider: values.provider,
      allowed_gpu_types: splitList(values.gpus),
      is_dedicated: values.dedicated === 'yes',
      ...(values.cost.trim() ? { max_cost_per_hour: Number(values.cost) } : {}),
    }),
  );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { name: [required, maxLength(200)], cost: [decimal(0, 1_000_000, true)] });
    setErrors(found);
    if (hasErrors(found)) return;
    const pool = await create.run();
    if (pool) {
      toast(`Pool ${pool.pool_name} is ${pool.status}`);
      onCreated();
      onClose();
    }
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Modal title="Create a compute pool" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" htmlFor="pool-name" error={errors.name}>
          <input id="pool-name" value={values.name} onChange={set('name')} />
        </Field>
        <Field label="Provider" htmlFor="pool-provider">
          <select id="pool-provider" value={values.provider} onChange={set('provider')}>
            {PROVIDERS.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Allowed GPU types" htmlFor="pool-gpus" hint="Comma-separated, e.g. A100, H100. Empty: any.">
          <input id="pool-gpus" value={values.gpus} onChange={set('gpus')} />
        </Field>
        <div className="grid-2">
          <Field label="Max cost per hour (USD)" htmlFor="pool-cost" error={errors.cost}>
            <input id="pool-cost" inputMode="decimal" value={values.cost} onChange={set('cost')} />
          </Field>
          <Field label="Dedicated" htmlFor="pool-dedicated">
            <select id="pool-dedicated" value={values.dedicated} onChange={set('dedicated')}>
              <option value="no">no</option>
              <option value="yes">yes</option>
            </select>
          </Field>
        </div>
        <ErrorNote error={create.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={create.busy}>
            Create pool
          </Button>
        </div>
      </form>
    </Modal>
  );
}
