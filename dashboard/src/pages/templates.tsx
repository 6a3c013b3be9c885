// Prompt templates: `{{name}}` placeholders filled from a request's `inferia.variables` (plain
// substitution, nothing evaluated). Saving under an existing name makes a new version.
import { useMemo, useState, type FormEvent } from 'react';
import { formatDateTime } from '../format';
import { useAction, useResource } from '../hooks';
import { useSession } from '../session';
import { DataTable, type Column } from '../table';
import type { PromptTemplate } from '../types';
import { Button, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, useToast } from '../ui';
import { hasErrors, maxLength, required, validate } from '../validate';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variables a template needs, in order of first use (as the gateway extracts them). */
export function templateVariables(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/** What the gateway would send: placeholders replaced, missing ones left visible. */
export function renderPreview(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (values[name] ? values[name] : whole));
}

export function TemplatesPage() {
  const { api, perms } = useSession();
  const toast = useToast();
  const [latestOnly, setLatestOnly] = useState(true);
  const [editing, setEditing] = useState<{ name: string; template: string } | null>(null);
  const list = useResource(async () => (await api.get<{ data: PromptTemplate[] }>('/management/prompt-templates')).data, []);
  const remove = useAction(async (t: PromptTemplate) => {
    await api.del(`/management/prompt-templates/${t.id}`);
    toast(`${t.name} v${t.version} deleted`);
    await list.reload();
    return true;
  });
  const mayWrite = perms.can('policies:write');
  const latest = useMemo(() => {
    const best = new Map<string, number>();
    for (const t of list.data ?? []) best.set(t.name, Math.max(best.get(t.name) ?? 0, t.version));
    return best;
  }, [list.data]);
  const columns: Column<PromptTemplate>[] = [
    { header: 'Name', cell: (t) => <b>{t.name}</b> },
    { header: 'Version', numeric: true, cell: (t) => (latest.get(t.name) === t.version ? <span>v{t.version} (latest)</span> : `v${t.version}`) },
    { header: 'Variables', cell: (t) => (t.variables.length ? t.variables.map((v) => <code key={v} className="tag">{v}</code>) : <span className="muted">none</span>) },
    { header: 'Template', cell: (t) => <div className="clip">{t.template}</div> },
    { header: 'Saved', cell: (t) => formatDateTime(t.created_at) },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (t) => (
        <span className="row-actions">
          <Button kind="ghost" onClick={() => setEditing({ name: t.name, template: t.template })}>
            New version
          </Button>
          <ConfirmButton label="Delete" confirm={`Delete v${t.version}?`} busy={remove.busy} onConfirm={() => void remove.run(t)} />
        </span>
      ),
    });
  }
  return (
    <>
      <PageHeader
        title="Prompt templates"
        subtitle={
          <>
            Requests use one with <code>{'"inferia": {"template": "name", "variables": {…}}'}</code>; <code>{'{{context}}'}</code> is where RAG passages go.
          </>
        }
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setEditing({ name: '', template: '' })}>
              New template
            </Button>
          ) : null
        }
      />
      <ErrorNote error={remove.error} onDismiss={remove.reset} />
      <ErrorNote error={list.error} />
      {!list.data && list.loading ? (
        <Loading what="templates" />
      ) : (
        <DataTable
          label="templates"
          rows={list.data ?? []}
          columns={columns}
          rowKey={(t) => t.id}
          text={(t) => `${t.name} ${t.template} ${t.variables.join(' ')}`}
          filters={latestOnly ? [(t) => latest.get(t.name) === t.version] : []}
          filterKey={String(latestOnly)}
          toolbar={
            <label className="check">
              <input type="checkbox" checked={latestOnly} onChange={(e) => setLatestOnly(e.target.checked)} /> Latest versions only
            </label>
          }
          empty="No templates yet."
        />
      )}
      {editing ? <TemplateDialog initial={editing} onClose={() => setEditing(null)} onSaved={() => void list.reload()} /> : null}
    </>
  );
}

function TemplateDialog({ initial, onClose, onSaved }: { initial: { name: string; template: string }; onClose: () => void; onSaved: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [values, setValues] = useState(initial);
  const [sample, setSample] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Partial<Record<'name' | 'template', string>>>({});
  const variables = templateVariables(values.template);
  const save = useAction(() => api.post<PromptTemplate>('/management/prompt-templates', { name: values.name.trim(), template: values.template }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { name: [required, maxLength(200)], template: [required, maxLength(100_000)] });
    setErrors(found);
    if (hasErrors(found)) return;
    const t = await save.run();
    if (t) {
      toast(`${t.name} saved as v${t.version}`);
      onSaved();
      onClose();
    }
  };
  return (
    <Modal title={initial.name ? `New version of ${initial.name}` : 'New template'} onClose={onClose} wide>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" htmlFor="tpl-name" error={errors.name}>
          <input id="tpl-name" value={values.name} readOnly={Boolean(initial.name)} onChange={(e) => setValues((v) => ({ ...v, name: e.target.value }))} />
        </Field>
        <Field label="Template" htmlFor="tpl-body" error={errors.template} hint="Use {{variable}}; {{context}} receives retrieved passages.">
          <textarea id="tpl-body" rows={8} value={values.template} onChange={(e) => setValues((v) => ({ ...v, template: e.target.value }))} />
        </Field>
        {variables.length ? (
          <div className="preview">
            <div className="muted">Preview with sample values</div>
            <div className="grid-3">
              {variables.map((v) => (
                <Field key={v} label={v} htmlFor={`tpl-var-${v}`}>
                  <input id={`tpl-var-${v}`} value={sample[v] ?? ''} onChange={(e) => setSample((s) => ({ ...s, [v]: e.target.value }))} />
                </Field>
              ))}
            </div>
            <pre className="code">{renderPreview(values.template, sample)}</pre>
          </div>
        ) : null}
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
