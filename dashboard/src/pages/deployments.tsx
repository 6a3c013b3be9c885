// Deployments: the org's deployments with their live status (polled fast while one is changing),
// a form to deploy a registered model on a pool, and start / terminate / delete per row.
import { useMemo, useState, type FormEvent } from 'react';
import type { Api } from '../api';
import { formatDateTime, shortId } from '../format';
import { useAction, useResource } from '../hooks';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { DataTable, type Column } from '../table';
import type { Deployment, Model, Pool } from '../types';
import { Button, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, StatusBadge, useToast } from '../ui';
import { hasErrors, integer, maxLength, modelName, validate } from '../validate';

export const TRANSITIONAL = new Set(['PENDING', 'DEPLOYING', 'STOPPING']);
export const canStart = (d: Pick<Deployment, 'status'>) => d.status === 'STOPPED' || d.status === 'FAILED';
export const canTerminate = (d: Pick<Deployment, 'status'>) => d.status === 'PENDING' || d.status === 'DEPLOYING' || d.status === 'RUNNING';
export const canDelete = canStart;

/** While anything is changing, look every 2 s; otherwise every 10 s (another operator may act). */
export const deploymentPoll = (rows: { status: string }[] | undefined) => (rows?.some((d) => TRANSITIONAL.has(d.status)) ? 2000 : 10_000);

export function useDeploymentActions(api: Api, after: () => Promise<void> | void) {
  const toast = useToast();
  return useAction(async (d: Pick<Deployment, 'deployment_id' | 'inference_model'>, action: 'start' | 'terminate' | 'delete') => {
    if (action === 'delete') await api.del(`/management/deployments/${d.deployment_id}`);
    else await api.post(`/management/deployments/${d.deployment_id}/${action}`);
    toast(`${d.inference_model}: ${action === 'start' ? 'starting' : action === 'terminate' ? 'terminating' : 'deleting'}`);
    await after();
    return true;
  });
}

export function DeploymentsPage() {
  const { api, perms } = useSession();
  const [status, setStatus] = useState('all');
  const [creating, setCreating] = useState(false);
  const list = useResource(async () => (await api.get<{ deployments: Deployment[] }>('/management/deployments')).deployments, [], { pollMs: deploymentPoll });
  const pools = useResource(async () => (perms.can('pools:read') ? (await api.get<{ pools: Pool[] }>('/management/pools')).pools : []), []);
  const poolName = useMemo(() => new Map((pools.data ?? []).map((p) => [p.pool_id, p.pool_name])), [pools.data]);
  const actions = useDeploymentActions(api, list.reload);
  const [acting, setActing] = useState<string | null>(null);
  const mayWrite = perms.can('deployments:write');

  const act = async (d: Deployment, action: 'start' | 'terminate' | 'delete') => {
    setActing(d.deployment_id);
    await actions.run(d, action);
    setActing(null);
  };

  const columns: Column<Deployment>[] = [
    {
      header: 'Model',
      cell: (d) => (
        <Link to={`/deployments/${d.deployment_id}`} title={d.deployment_id}>
          <b>{d.inference_model}</b> <span className="muted">{d.model_name}@{d.model_version}</span>
        </Link>
      ),
    },
    { header: 'Status', cell: (d) => <StatusBadge status={d.status} title={d.status_reason ?? undefined} /> },
    { header: 'Replicas', numeric: true, cell: (d) => d.replicas },
    { header: 'Pool', cell: (d) => poolName.get(d.pool_id) ?? shortId(d.pool_id) },
    { header: 'Engine', cell: (d) => d.engine },
    { header: 'Created', cell: (d) => formatDateTime(d.created_at) },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (d) => (
        <span className="row-actions">
          {canStart(d) ? (
            <Button busy={acting === d.deployment_id && actions.busy} onClick={() => void act(d, 'start')}>
              Start
            </Button>
          ) : null}
          {canTerminate(d) ? <ConfirmButton label="Terminate" confirm={`Stop ${d.inference_model}?`} busy={acting === d.deployment_id && actions.busy} onConfirm={() => void act(d, 'terminate')} /> : null}
          {canDelete(d) ? <ConfirmButton label="Delete" confirm={`Delete ${d.inference_model}?`} busy={acting === d.deployment_id && actions.busy} onConfirm={() => void act(d, 'delete')} /> : null}
        </span>
      ),
    });
  }
  const statusFilter = status === 'all' ? [] : [(d: Deployment) => (status === 'changing' ? TRANSITIONAL.has(d.status) : d.status === status)];

  return (
    <>
      <PageHeader
        title="Deployments"
        subtitle="Each deployment is a durable Temporal workflow; its status here updates by itself."
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setCreating(true)}>
              Deploy a model
            </Button>
          ) : null
        }
      />
      <ErrorNote error={actions.error} onDismiss={actions.reset} />
      <ErrorNote error={list.error} />
      {!list.data && list.loading ? (
        <Loading what="deployments" />
      ) : (
        <DataTable
          label="deployments"
          rows={list.data ?? []}
          columns={columns}
          rowKey={(d) => d.deployment_id}
          text={(d) => `${d.inference_model} ${d.model_name} ${d.status} ${d.engine} ${poolName.get(d.pool_id) ?? ''} ${d.deployment_id}`}
          filters={statusFilter}
          filterKey={status}
          toolbar={
            <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="all">All statuses</option>
              <option value="RUNNING">Running</option>
              <option value="changing">Changing</option>
              <option value="STOPPED">Stopped</option>
              <option value="FAILED">Failed</option>
            </select>
          }
          empty={mayWrite ? 'No deployments yet: deploy a registered model on a pool.' : 'No deployments yet.'}
        />
      )}
      {creating ? <DeployDialog onClose={() => setCreating(false)} /> : null}
    </>
  );
}

function DeployDialog({ onClose }: { onClose: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const models = useResource(async () => (await api.get<{ models: Model[] }>('/management/models')).models, []);
  const pools = useResource(async () => (await api.get<{ pools: Pool[] }>('/management/pools')).pools.filter((p) => p.status === 'ACTIVE'), []);
  const [values, setValues] = useState({ model: '', pool: '', replicas: '1', gpus: '0', served: '', workload: 'inference' });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof values, string>>>({});
  const deploy = useAction(async () => {
    const model = (models.data ?? []).find((m) => m.model_id === values.model)!;
    return api.post<{ deployment_id: string }>('/management/deployments', {
      model_name: model.model_name,
      model_version: model.model_version,
      pool_id: values.pool,
      replicas: Number(values.replicas),
      gpu_per_replica: Number(values.gpus),
      workload_type: values.workload,
      ...(values.served.trim() ? { inference_model: values.served.trim() } : {}),
    });
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, {
      model: [(v) => (v ? null : 'Choose a registered model.')],
      pool: [(v) => (v ? null : 'Choose an active pool.')],
      replicas: [integer(1, 64)],
      gpus: [integer(0, 16)],
      served: [maxLength(200), (v) => (v.trim() ? modelName(v) : null)],
    });
    setErrors(found);
    if (hasErrors(found)) return;
    const out = await deploy.run();
    if (out) {
      toast('Deployment started');
      onClose();
      navigate(`/deployments/${out.deployment_id}`);
    }
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Modal title="Deploy a model" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <ErrorNote error={models.error ?? pools.error} />
        <Field label="Model" htmlFor="deploy-model" error={errors.model} hint="From the model registry.">
          <select id="deploy-model" value={values.model} onChange={set('model')}>
            <option value="">{models.data ? 'Choose…' : 'Loading…'}</option>
            {(models.data ?? []).map((m) => (
              <option key={m.model_id} value={m.model_id}>
                {m.model_name}@{m.model_version} ({m.backend})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Compute pool" htmlFor="deploy-pool" error={errors.pool}>
          <select id="deploy-pool" value={values.pool} onChange={set('pool')}>
            <option value="">{pools.data ? 'Choose…' : 'Loading…'}</option>
            {(pools.data ?? []).map((p) => (
              <option key={p.pool_id} value={p.pool_id}>
                {p.pool_name} ({p.provider})
              </option>
            ))}
          </select>
        </Field>
        <div className="grid-2">
          <Field label="Replicas" htmlFor="deploy-replicas" error={errors.replicas}>
            <input id="deploy-replicas" inputMode="numeric" value={values.replicas} onChange={set('replicas')} />
          </Field>
          <Field label="GPUs per replica" htmlFor="deploy-gpus" error={errors.gpus}>
            <input id="deploy-gpus" inputMode="numeric" value={values.gpus} onChange={set('gpus')} />
          </Field>
        </div>
        <div className="grid-2">
          <Field label="Served as (model name in /v1)" htmlFor="deploy-served" error={errors.served} hint="Empty: the model's name.">
            <input id="deploy-served" value={values.served} onChange={set('served')} />
          </Field>
          <Field label="Workload" htmlFor="deploy-workload">
            <select id="deploy-workload" value={values.workload} onChange={set('workload')}>
              <option value="inference">inference</option>
              <option value="embedding">embedding</option>
            </select>
          </Field>
        </div>
        <ErrorNote error={deploy.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={deploy.busy}>
            Deploy
          </Button>
        </div>
      </form>
    </Modal>
  );
}
