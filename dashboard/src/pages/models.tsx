// The model registry: what can be deployed (name, version, engine, artifact), with who may use it
// (`allowed_groups` / `allowed_domains` in its config restrict a model to members).
import { useState, type FormEvent } from 'react';
import { ENGINES } from '../../../lib/providers.js';
import { formatDateTime } from '../format';
import { useAction, useResource } from '../hooks';
import { useSession } from '../session';
import { DataTable, type Column } from '../table';
import type { Model } from '../types';
import { Button, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, useToast } from '../ui';
import { hasErrors, jsonObject, maxLength, modelName, required, splitList, validate } from '../validate';

const restriction = (m: Model) => {
  const groups = (m.config_json.allowed_groups as string[] | undefined) ?? [];
  const domains = (m.config_json.allowed_domains as string[] | undefined) ?? [];
  if (groups.length === 0 && domains.length === 0) return <span className="muted">everyone in the org</span>;
  return [...groups.map((g) => `group ${g}`), ...domains.map((d) => `@${d}`)].join(', ');
};

export function ModelsPage() {
  const { api, perms } = useSession();
  const toast = useToast();
  const [engine, setEngine] = useState('all');
  const [creating, setCreating] = useState(false);
  const models = useResource(async () => (await api.get<{ models: Model[] }>('/management/models')).models, []);
  const remove = useAction(async (m: Model) => {
    await api.del('/management/models', { model_name: m.model_name, model_version: m.model_version });
    toast(`${m.model_name}@${m.model_version} removed from the registry`);
    await models.reload();
    return true;
  });
  const mayWrite = perms.can('models:write');
  const columns: Column<Model>[] = [
    { header: 'Name', cell: (m) => <b>{m.model_name}</b> },
    { header: 'Version', cell: (m) => m.model_version },
    { header: 'Engine', cell: (m) => m.backend },
    { header: 'Artifact', cell: (m) => <code className="small">{m.artifact_uri}</code> },
    { header: 'Who may use it', cell: restriction },
    { header: 'Registered', cell: (m) => formatDateTime(m.created_at) },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (m) => <ConfirmButton label="Delete" confirm={`Remove ${m.model_name}@${m.model_version}?`} busy={remove.busy} onConfirm={() => void remove.run(m)} />,
    });
  }
  return (
    <>
      <PageHeader
        title="Model registry"
        subtitle="Registered models can be deployed on any pool of the organisation."
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setCreating(true)}>
              Register model
            </Button>
          ) : null
        }
      />
      <ErrorNote error={remove.error} onDismiss={remove.reset} />
      <ErrorNote error={models.error} />
      {!models.data && models.loading ? (
        <Loading what="models" />
      ) : (
        <DataTable
          label="models"
          rows={models.data ?? []}
          columns={columns}
          rowKey={(m) => m.model_id}
          text={(m) => `${m.model_name} ${m.model_version} ${m.backend} ${m.artifact_uri}`}
          filters={engine === 'all' ? [] : [(m) => m.backend === engine]}
          filterKey={engine}
          toolbar={
            <select aria-label="Engine" value={engine} onChange={(e) => setEngine(e.target.value)}>
              <option value="all">All engines</option>
              {ENGINES.map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          }
          empty="No models registered."
        />
      )}
      {creating ? <RegisterDialog onClose={() => setCreating(false)} onDone={() => void models.reload()} /> : null}
    </>
  );
}

function RegisterDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [values, setValues] = useState({ name: '', version: '1.0', backend: 'vllm', artifact: '', groups: '', domains: '', config: '' });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof values, string>>>({});
  const register = useAction(() => {
    const config = values.config.trim() ? (JSON.parse(values.config) as Record<string, unknown>) : {};
    const groups = splitList(values.groups);
    const domains = splitList(values.domains);
    return api.post<Model>('/management/models', {
      model_name: values.name.trim(),
      model_version: values.version.trim(),
      backend: values.backend,
      artifact_uri: values.artifact.trim(),
      config_json: { ...config, ...(groups.length ? { allowed_groups: groups } : {}), ...(domains.length ? { allowed_domains: domains } : {}) },
    });
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { name: [modelName], version: [required, maxLength(64)], artifact: [required, maxLength(2000)], config: [jsonObject] });
    setErrors(found);
    if (hasErrors(found)) return;
    const m = await register.run();
    if (m) {
      toast(`${m.model_name}@${m.model_version} registered`);
      onDone();
      onClose();
    }
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Modal title="Register a model" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div className="grid-2">
          <Field label="Name" htmlFor="model-name" error={errors.name} hint="As clients will ask for it, e.g. llama-3-8b.">
            <input id="model-name" value={values.name} onChange={set('name')} />
          </Field>
          <Field label="Version" htmlFor="model-version" error={errors.version}>
            <input id="model-version" value={values.version} onChange={set('version')} />
          </Field>
        </div>
        <div className="grid-2">
          <Field label="Engine" htmlFor="model-backend">
            <select id="model-backend" value={values.backend} onChange={set('backend')}>
              {ENGINES.map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Artifact" htmlFor="model-artifact" error={errors.artifact} hint="e.g. hf://meta-llama/Meta-Llama-3-8B-Instruct">
            <input id="model-artifact" value={values.artifact} onChange={set('artifact')} />
          </Field>
        </div>
        <div className="grid-2">
          <Field label="Only these groups" htmlFor="model-groups" hint="Comma-separated; empty: no group restriction.">
            <input id="model-groups" value={values.groups} onChange={set('groups')} />
          </Field>
          <Field label="Only these e-mail domains" htmlFor="model-domains" hint="e.g. example.com">
            <input id="model-domains" value={values.domains} onChange={set('domains')} />
          </Field>
        </div>
        <Field label="Engine settings (JSON)" htmlFor="model-config" error={errors.config} hint='Optional, e.g. {"max_model_len": 8192}'>
          <textarea id="model-config" rows={3} value={values.config} onChange={set('config')} />
        </Field>
        <ErrorNote error={register.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={register.busy}>
            Register
          </Button>
        </div>
      </form>
    </Modal>
  );
}
