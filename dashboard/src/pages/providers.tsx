// Provider settings and credentials. Credentials are write-only: they are encrypted by the
// gateway and never returned, so the page only says whether some are stored and lets you replace them.
import { useState, type FormEvent } from 'react';
import { PROVIDERS } from '../../../lib/providers.js';
import { formatDateTime } from '../format';
import { useAction, useResource } from '../hooks';
import { useSession } from '../session';
import { DataTable, type Column } from '../table';
import type { Provider } from '../types';
import { Button, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, useToast } from '../ui';
import { hasErrors, httpUrl, jsonObject, maxLength, required, validate } from '../validate';

const KINDS = ['openai', ...PROVIDERS] as const;

export function ProvidersPage() {
  const { api, perms } = useSession();
  const toast = useToast();
  const [editing, setEditing] = useState<Provider | 'new' | null>(null);
  const [kind, setKind] = useState('all');
  const list = useResource(async () => (await api.get<{ data: Provider[] }>('/management/providers')).data, []);
  const remove = useAction(async (p: Provider) => {
    await api.del(`/management/providers/${p.id}`);
    toast(`${p.name} deleted`);
    await list.reload();
    return true;
  });
  const mayWrite = perms.can('providers:write');
  const columns: Column<Provider>[] = [
    { header: 'Name', cell: (p) => <b>{p.name}</b> },
    { header: 'Kind', cell: (p) => p.provider },
    { header: 'Base URL', cell: (p) => p.base_url ?? <span className="muted">—</span> },
    { header: 'Settings', cell: (p) => <code className="small clip">{JSON.stringify(p.settings)}</code> },
    { header: 'Credentials', cell: (p) => (p.has_credentials ? <span className="badge badge-ok">stored</span> : <span className="badge badge-idle">none</span>) },
    { header: 'State', cell: (p) => (p.enabled ? 'enabled' : 'disabled') },
    { header: 'Updated', cell: (p) => formatDateTime(p.updated_at) },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (p) => (
        <span className="row-actions">
          <Button kind="ghost" onClick={() => setEditing(p)}>
            Edit
          </Button>
          <ConfirmButton label="Delete" confirm={`Delete ${p.name}?`} busy={remove.busy} onConfirm={() => void remove.run(p)} />
        </span>
      ),
    });
  }
  return (
    <>
      <PageHeader
        title="Providers"
        subtitle="External OpenAI-compatible providers serve models beside your deployments; infrastructure providers hold their settings here."
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setEditing('new')}>
              Add provider
            </Button>
          ) : null
        }
      />
      <ErrorNote error={remove.error} onDismiss={remove.reset} />
      <ErrorNote error={list.error} />
      {!list.data && list.loading ? (
        <Loading what="providers" />
      ) : (
        <DataTable
          label="providers"
          rows={list.data ?? []}
          columns={columns}
          rowKey={(p) => p.id}
          text={(p) => `${p.name} ${p.provider} ${p.base_url ?? ''}`}
          filters={kind === 'all' ? [] : [(p) => p.provider === kind]}
          filterKey={kind}
          toolbar={
            <select aria-label="Kind" value={kind} onChange={(e) => setKind(e.target.value)}>
              <option value="all">All kinds</option>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          }
          empty="No providers configured."
        />
      )}
      {editing ? <ProviderDialog provider={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={() => void list.reload()} /> : null}
    </>
  );
}

function ProviderDialog({ provider, onClose, onSaved }: { provider: Provider | null; onClose: () => void; onSaved: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [values, setValues] = useState({
    name: provider?.name ?? '',
    kind: provider?.provider ?? 'openai',
    baseUrl: provider?.base_url ?? '',
    settings: provider ? JSON.stringify(provider.settings, null, 2) : '{\n  "models": []\n}',
    enabled: provider?.enabled === false ? 'off' : 'on',
  });
  // Never prefilled: what is stored cannot be read back.
  const [secrets, setSecrets] = useState<{ key: string; value: string }[]>([{ key: 'api_key', value: '' }]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const save = useAction(() => {
    const filled = secrets.filter((s) => s.key.trim() && s.value);
    const credentials = filled.length ? Object.fromEntries(filled.map((s) => [s.key.trim(), s.value])) : undefined;
    const settings = values.settings.trim() ? (JSON.parse(values.settings) as Record<string, unknown>) : {};
    const base = { base_url: values.baseUrl.trim() || null, settings, enabled: values.enabled === 'on', ...(credentials ? { credentials } : {}) };
    return provider ? api.patch<Provider>(`/management/providers/${provider.id}`, base) : api.post<Provider>('/management/providers', { name: values.name.trim(), provider: values.kind, ...base });
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: Record<string, string> = validate(values, { name: [required, maxLength(200)], baseUrl: [httpUrl(values.kind !== 'openai')], settings: [jsonObject] });
    setErrors(found);
    if (hasErrors(found)) return;
    const saved = await save.run();
    setSecrets([{ key: 'api_key', value: '' }]);
    if (saved) {
      toast(`${saved.name} saved`);
      onSaved();
      onClose();
    }
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Modal title={provider ? `Edit ${provider.name}` : 'Add a provider'} onClose={onClose} wide>
      <form onSubmit={(e) => void submit(e)} noValidate autoComplete="off">
        <div className="grid-2">
          <Field label="Name" htmlFor="prov-name" error={errors.name}>
            <input id="prov-name" value={values.name} readOnly={Boolean(provider)} onChange={set('name')} />
          </Field>
          <Field label="Kind" htmlFor="prov-kind">
            <select id="prov-kind" value={values.kind} disabled={Boolean(provider)} onChange={set('kind')}>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field label="Base URL" htmlFor="prov-url" error={errors.baseUrl} hint={values.kind === 'openai' ? 'e.g. https://api.openai.com/v1' : 'Optional.'}>
          <input id="prov-url" value={values.baseUrl} onChange={set('baseUrl')} />
        </Field>
        <Field label="Settings (JSON)" htmlFor="prov-settings" error={errors.settings} hint='For openai: {"models": ["gpt-4o-mini"]} or {"model_map": {"fast": "gpt-4o-mini"}}'>
          <textarea id="prov-settings" rows={4} value={values.settings} onChange={set('settings')} />
        </Field>
        <Field label="Credentials" hint={provider?.has_credentials ? 'Stored credentials are kept unless you enter new ones (new ones replace them all).' : 'Encrypted at rest; never shown again.'}>
          <div className="rules">
            {secrets.map((s, i) => (
              <div key={i} className="rule rule-secret">
                <input aria-label="Credential name" value={s.key} onChange={(e) => setSecrets((xs) => xs.map((x, j) => (j === i ? { ...x, key: e.target.value } : x)))} />
                <input
                  aria-label="Credential value"
                  type="password"
                  autoComplete="new-password"
                  placeholder={provider?.has_credentials ? '(unchanged)' : ''}
                  value={s.value}
                  onChange={(e) => setSecrets((xs) => xs.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))}
                />
              </div>
            ))}
            <Button kind="ghost" onClick={() => setSecrets((xs) => [...xs, { key: '', value: '' }])}>
              + Add credential
            </Button>
          </div>
        </Field>
        <Field label="State" htmlFor="prov-enabled">
          <select id="prov-enabled" value={values.enabled} onChange={set('enabled')}>
            <option value="on">enabled</option>
            <option value="off">disabled</option>
          </select>
        </Field>
        <ErrorNote error={save.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={save.busy}>
            Save
          </Button>
        </div>
      </form>
    </Modal>
  );
}
