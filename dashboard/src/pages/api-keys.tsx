// API keys: create one with its scopes, models and limits — its secret is shown once, in a
// dialog that forgets it when closed — list them (the gateway pages and filters), and revoke.
import { useMemo, useState, type FormEvent } from 'react';
import { query } from '../api';
import { formatAge, formatDateTime } from '../format';
import { useAction, useDebounced, useResource } from '../hooks';
import type { Permission } from '../permissions';
import { useSession } from '../session';
import { Pager, Table, type Column } from '../table';
import type { ApiKey, Model, Paged } from '../types';
import { Button, ConfirmButton, CopyButton, ErrorNote, Field, Modal, PageHeader, useToast } from '../ui';
import { futureDate, hasErrors, integer, maxLength, required, splitList, validate } from '../validate';

/** What each scope lets a key do, and what its creator must hold to grant it (as the gateway checks). */
export const SCOPES: { scope: string; needs: Permission; what: string }[] = [
  { scope: 'inference', needs: 'deployments:read', what: 'chat, completions, embeddings, models' },
  { scope: 'files', needs: 'deployments:write', what: 'upload batch input files' },
  { scope: 'batches', needs: 'deployments:write', what: 'run batch jobs' },
];

export function keyState(k: Pick<ApiKey, 'revoked_at' | 'expires_at'>, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && new Date(k.expires_at).getTime() <= now) return 'expired';
  return 'active';
}

export function ApiKeysPage() {
  const { api, perms } = useSession();
  const toast = useToast();
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<'all' | 'active' | 'revoked'>('all');
  const [page, setPage] = useState(1);
  const [size, setSize] = useState(20);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<(ApiKey & { key: string }) | null>(null);
  const search = useDebounced(q.trim());
  const keys = useResource(
    () => api.get<Paged<ApiKey>>(`/management/api-keys${query({ limit: size, offset: (page - 1) * size, q: search || undefined, status })}`),
    [page, size, search, status],
  );
  const revoke = useAction(async (k: ApiKey) => {
    await api.del(`/management/api-keys/${k.id}`);
    toast(`Key ${k.name} revoked: it stops working within a second`);
    await keys.reload();
    return true;
  });
  const mayWrite = perms.can('api_keys:write');
  const columns: Column<ApiKey>[] = [
    { header: 'Name', cell: (k) => <b>{k.name}</b> },
    { header: 'Key', cell: (k) => <code className="small">{k.prefix}…</code> },
    { header: 'Scopes', cell: (k) => k.scopes.join(', ') },
    { header: 'Models', cell: (k) => (k.allowed_models.length ? k.allowed_models.join(', ') : <span className="muted">all</span>) },
    { header: 'Limits', cell: (k) => [k.rpm_limit ? `${k.rpm_limit} req/min` : '', k.tpm_limit ? `${k.tpm_limit} tok/min` : ''].filter(Boolean).join(', ') || <span className="muted">org's</span> },
    {
      header: 'State',
      cell: (k) => {
        const s = keyState(k);
        return <span className={`badge badge-${s === 'active' ? 'ok' : 'idle'}`}>{s}</span>;
      },
    },
    { header: 'Last used', cell: (k) => (k.last_used_at ? formatAge(k.last_used_at) : 'never') },
    { header: 'Created', cell: (k) => formatDateTime(k.created_at) },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (k) => (keyState(k) === 'revoked' ? null : <ConfirmButton label="Revoke" confirm={`Revoke ${k.name}?`} busy={revoke.busy} onConfirm={() => void revoke.run(k)} />),
    });
  }
  return (
    <>
      <PageHeader
        title="API keys"
        subtitle="Keys call the OpenAI-compatible API. A key's secret is shown once, when it is created."
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setCreating(true)}>
              Create key
            </Button>
          ) : null
        }
      />
      <ErrorNote error={revoke.error} onDismiss={revoke.reset} />
      <ErrorNote error={keys.error} />
      <div className="data-table">
        <div className="toolbar">
          <input
            type="search"
            placeholder="Filter by name or prefix…"
            aria-label="Filter keys"
            value={q}
            onChange={(e) => {
              setQ(e.target.value);
              setPage(1);
            }}
          />
          <select
            aria-label="Key state"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as typeof status);
              setPage(1);
            }}
          >
            <option value="all">All keys</option>
            <option value="active">Active</option>
            <option value="revoked">Revoked</option>
          </select>
        </div>
        <Table rows={keys.data?.data ?? []} columns={columns} rowKey={(k) => k.id} empty={keys.loading ? 'Loading…' : 'No keys.'} />
        <Pager page={page} size={size} total={keys.data?.total ?? 0} onPage={setPage} onSize={(s) => {
            setSize(s);
            setPage(1);
          }} />
      </div>
      {creating ? (
        <CreateKeyDialog
          onClose={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setSecret(k);
            void keys.reload();
          }}
        />
      ) : null}
      {secret ? <SecretOnce created={secret} onClose={() => setSecret(null)} /> : null}
    </>
  );
}

function SecretOnce({ created, onClose }: { created: ApiKey & { key: string }; onClose: () => void }) {
  const { config } = useSession();
  const example = `curl ${config.inference_url}/chat/completions \\\n  -H "Authorization: Bearer ${created.key}" -H "Content-Type: application/json" \\\n  -d '{"model":"${created.allowed_models[0] ?? 'mock'}","messages":[{"role":"user","content":"Hello"}]}'`;
  return (
    <Modal title={`Key "${created.name}" created`} onClose={onClose} wide>
      <div className="note note-warn">Copy the secret now: it is shown this once and cannot be read again. Closing this dialog forgets it.</div>
      <div className="secret-row">
        <code className="secret" data-testid="new-key-secret">
          {created.key}
        </code>
        <CopyButton text={created.key} />
      </div>
      <p className="muted">Try it:</p>
      <pre className="code">{example}</pre>
      <div className="form-actions">
        <Button kind="primary" onClick={onClose}>
          I have stored it
        </Button>
      </div>
    </Modal>
  );
}

function CreateKeyDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (k: ApiKey & { key: string }) => void }) {
  const { api, perms } = useSession();
  const grantable = SCOPES.filter((s) => perms.can(s.needs));
  const models = useResource(async () => (perms.can('models:read') ? (await api.get<{ models: Model[] }>('/management/models')).models : []), []);
  const modelNames = useMemo(() => [...new Set((models.data ?? []).map((m) => m.model_name))], [models.data]);
  const [values, setValues] = useState({ name: '', models: '', fallback: '', rpm: '', tpm: '', expires: '' });
  const [scopes, setScopes] = useState<string[]>(['inference']);
  const [errors, setErrors] = useState<Partial<Record<keyof typeof values | 'scopes', string>>>({});
  const create = useAction(() =>
    api.post<ApiKey & { key: string }>('/management/api-keys', {
      name: values.name.trim(),
      scopes,
      allowed_models: splitList(values.models),
      fallback_models: splitList(values.fallback),
      ...(values.rpm.trim() ? { rpm_limit: Number(values.rpm) } : {}),
      ...(values.tpm.trim() ? { tpm_limit: Number(values.tpm) } : {}),
      ...(values.expires.trim() ? { expires_at: new Date(values.expires).toISOString() } : {}),
    }),
  );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: Partial<Record<keyof typeof values | 'scopes', string>> = validate(values, {
      name: [required, maxLength(200)],
      rpm: [integer(1, 1_000_000, true)],
      tpm: [integer(1, 1_000_000_000, true)],
      expires: [futureDate],
      models: [(v) => (splitList(v).length > 200 ? 'At most 200 models.' : null)],
      fallback: [(v) => (splitList(v).length > 10 ? 'At most 10 fallback models.' : null)],
    });
    if (scopes.length === 0) found.scopes = 'Choose at least one scope.';
    setErrors(found);
    if (hasErrors(found)) return;
    const k = await create.run();
    if (k) onCreated(k);
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Modal title="Create an API key" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" htmlFor="key-name" error={errors.name} hint="Who or what uses it, e.g. support-bot.">
          <input id="key-name" value={values.name} onChange={set('name')} />
        </Field>
        <Field label="Scopes" error={errors.scopes}>
          <div className="checks">
            {grantable.map((s) => (
              <label key={s.scope} className="check">
                <input
                  type="checkbox"
                  name="scope"
                  value={s.scope}
                  checked={scopes.includes(s.scope)}
                  onChange={(e) => setScopes((cur) => (e.target.checked ? [...cur, s.scope] : cur.filter((x) => x !== s.scope)))}
                />
                <b>{s.scope}</b> <span className="muted">{s.what}</span>
              </label>
            ))}
          </div>
        </Field>
        <Field label="Allowed models" htmlFor="key-models" error={errors.models} hint={modelNames.length ? `Comma-separated; empty: every model. Registered: ${modelNames.join(', ')}` : 'Comma-separated; empty: every model.'}>
          <input id="key-models" value={values.models} onChange={set('models')} list="model-names" />
          <datalist id="model-names">
            {modelNames.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        </Field>
        <Field label="Fallback models" htmlFor="key-fallback" error={errors.fallback} hint="Tried in order when the requested model has nothing healthy.">
          <input id="key-fallback" value={values.fallback} onChange={set('fallback')} />
        </Field>
        <div className="grid-2">
          <Field label="Requests per minute" htmlFor="key-rpm" error={errors.rpm} hint="Empty: the org's limits only.">
            <input id="key-rpm" inputMode="numeric" value={values.rpm} onChange={set('rpm')} />
          </Field>
          <Field label="Tokens per minute" htmlFor="key-tpm" error={errors.tpm}>
            <input id="key-tpm" inputMode="numeric" value={values.tpm} onChange={set('tpm')} />
          </Field>
        </div>
        <Field label="Expires" htmlFor="key-expires" error={errors.expires} hint="Empty: never.">
          <input id="key-expires" type="datetime-local" value={values.expires} onChange={set('expires')} />
        </Field>
        <ErrorNote error={create.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={create.busy}>
            Create key
          </Button>
        </div>
      </form>
    </Modal>
  );
}
