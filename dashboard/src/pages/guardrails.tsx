// Guardrail policies: rules (PII, toxicity, prompt injection, an LLM judge) checked on input,
// output or both, each blocking, redacting or only logging; for every key of the org or some.
import { useState, type FormEvent } from 'react';
import { formatDateTime } from '../format';
import { useAction, useResource } from '../hooks';
import { useSession } from '../session';
import { DataTable, type Column } from '../table';
import type { ApiKey, GuardrailPolicy, GuardrailRule, Paged } from '../types';
import { Button, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, useToast } from '../ui';
import { hasErrors, jsonObject, maxLength, required, validate } from '../validate';

const TYPES: { type: GuardrailRule['type']; label: string; hint: string }[] = [
  { type: 'pii', label: 'PII', hint: 'e-mails, phones, cards, IBANs, national ids, secrets; options: {"types": ["email"], "allow": ["example.com"]}' },
  { type: 'toxicity', label: 'Toxicity', hint: 'options: {"threshold": 0.5, "terms": ["word"]}' },
  { type: 'prompt_injection', label: 'Prompt injection', hint: 'options: {"threshold": 0.5, "decode_base64": true}' },
  { type: 'llm_judge', label: 'LLM judge', hint: 'a guard model through routing; options: {"model": "guard", "prompt": "… {{input}} …", "timeout_ms": 2000}' },
];

interface RuleDraft {
  type: GuardrailRule['type'];
  stage: GuardrailRule['stage'];
  action: GuardrailRule['action'];
  options: string;
}

export const describeRule = (r: GuardrailRule) => `${TYPES.find((t) => t.type === r.type)?.label ?? r.type} on ${r.stage}: ${r.action}`;

export function GuardrailsPage() {
  const { api, perms } = useSession();
  const toast = useToast();
  const [editing, setEditing] = useState<GuardrailPolicy | 'new' | null>(null);
  const list = useResource(async () => (await api.get<{ data: GuardrailPolicy[] }>('/management/guardrails')).data, []);
  const save = useAction(async (p: GuardrailPolicy, enabled: boolean) => {
    await api.put(`/management/guardrails/${p.id}`, { name: p.name, config: p.config, enabled, api_key_ids: p.api_key_ids });
    toast(`${p.name} ${enabled ? 'enabled' : 'disabled'}`);
    await list.reload();
    return true;
  });
  const remove = useAction(async (p: GuardrailPolicy) => {
    await api.del(`/management/guardrails/${p.id}`);
    toast(`${p.name} deleted`);
    await list.reload();
    return true;
  });
  const mayWrite = perms.can('policies:write');
  const columns: Column<GuardrailPolicy>[] = [
    { header: 'Name', cell: (p) => <b>{p.name}</b> },
    { header: 'Rules', cell: (p) => (p.config.rules ?? []).map((r, i) => <div key={i}>{describeRule(r)}</div>) },
    { header: 'Applies to', cell: (p) => (p.api_key_ids.length ? `${p.api_key_ids.length} key(s)` : 'every key') },
    { header: 'State', cell: (p) => <span className={`badge badge-${p.enabled ? 'ok' : 'idle'}`}>{p.enabled ? 'enabled' : 'disabled'}</span> },
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
          <Button busy={save.busy} onClick={() => void save.run(p, !p.enabled)}>
            {p.enabled ? 'Disable' : 'Enable'}
          </Button>
          <ConfirmButton label="Delete" confirm={`Delete ${p.name}?`} busy={remove.busy} onConfirm={() => void remove.run(p)} />
        </span>
      ),
    });
  }
  return (
    <>
      <PageHeader
        title="Guardrails"
        subtitle="Checked on every request of the organisation's keys, before and after the model. A block answers 400 guardrail_violation."
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setEditing('new')}>
              New policy
            </Button>
          ) : null
        }
      />
      <ErrorNote
        error={save.error ?? remove.error}
        onDismiss={() => {
          save.reset();
          remove.reset();
        }}
      />
      <ErrorNote error={list.error} />
      {!list.data && list.loading ? (
        <Loading what="guardrail policies" />
      ) : (
        <DataTable
          label="policies"
          rows={list.data ?? []}
          columns={columns}
          rowKey={(p) => p.id}
          text={(p) => `${p.name} ${(p.config.rules ?? []).map(describeRule).join(' ')}`}
          empty="No guardrail policies: requests are not checked."
        />
      )}
      {editing ? <PolicyDialog policy={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={() => void list.reload()} /> : null}
    </>
  );
}

function PolicyDialog({ policy, onClose, onSaved }: { policy: GuardrailPolicy | null; onClose: () => void; onSaved: () => void }) {
  const { api, perms } = useSession();
  const toast = useToast();
  const keys = useResource(async () => (perms.can('api_keys:read') ? (await api.get<Paged<ApiKey>>('/management/api-keys?limit=200&status=active')).data : []), []);
  const [name, setName] = useState(policy?.name ?? '');
  const [enabled, setEnabled] = useState(policy?.enabled ?? true);
  const [keyIds, setKeyIds] = useState<string[]>(policy?.api_key_ids ?? []);
  const [rules, setRules] = useState<RuleDraft[]>(
    (policy?.config.rules ?? [{ type: 'pii', stage: 'input', action: 'redact', options: {} }]).map((r) => ({ ...r, options: Object.keys(r.options ?? {}).length ? JSON.stringify(r.options) : '' })),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const save = useAction(() => {
    const body = {
      name: name.trim(),
      enabled,
      api_key_ids: keyIds,
      config: { rules: rules.map((r) => ({ type: r.type, stage: r.stage, action: r.action, options: r.options.trim() ? (JSON.parse(r.options) as Record<string, unknown>) : {} })) },
    };
    return policy ? api.put<GuardrailPolicy>(`/management/guardrails/${policy.id}`, body) : api.post<GuardrailPolicy>('/management/guardrails', body);
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: Record<string, string> = validate({ name }, { name: [required, maxLength(200)] });
    if (rules.length === 0) found.rules = 'Add at least one rule.';
    rules.forEach((r, i) => {
      const err = jsonObject(r.options);
      if (err) found[`options${i}`] = err;
    });
    setErrors(found);
    if (hasErrors(found)) return;
    const saved = await save.run();
    if (saved) {
      toast(`${saved.name} saved`);
      onSaved();
      onClose();
    }
  };
  const update = (i: number, patch: Partial<RuleDraft>) => setRules((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <Modal title={policy ? `Edit ${policy.name}` : 'New guardrail policy'} onClose={onClose} wide>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div className="grid-2">
          <Field label="Name" htmlFor="gr-name" error={errors.name}>
            <input id="gr-name" value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field label="State" htmlFor="gr-enabled">
            <select id="gr-enabled" value={enabled ? 'on' : 'off'} onChange={(e) => setEnabled(e.target.value === 'on')}>
              <option value="on">enabled</option>
              <option value="off">disabled</option>
            </select>
          </Field>
        </div>
        <Field label="Rules" error={errors.rules}>
          <div className="rules">
            {rules.map((r, i) => (
              <div key={i} className="rule">
                <select aria-label="Check" value={r.type} onChange={(e) => update(i, { type: e.target.value as RuleDraft['type'] })}>
                  {TYPES.map((t) => (
                    <option key={t.type} value={t.type}>
                      {t.label}
                    </option>
                  ))}
                </select>
                <select aria-label="Stage" value={r.stage} onChange={(e) => update(i, { stage: e.target.value as RuleDraft['stage'] })}>
                  <option value="input">input</option>
                  <option value="output">output</option>
                  <option value="both">both</option>
                </select>
                <select aria-label="Action" value={r.action} onChange={(e) => update(i, { action: e.target.value as RuleDraft['action'] })}>
                  <option value="block">block</option>
                  <option value="redact">redact</option>
                  <option value="log">log only</option>
                </select>
                <input aria-label="Options (JSON)" placeholder="options (JSON)" value={r.options} onChange={(e) => update(i, { options: e.target.value })} />
                <Button kind="ghost" aria-label="Remove rule" onClick={() => setRules((rs) => rs.filter((_, j) => j !== i))}>
                  ×
                </Button>
                <div className="field-hint rule-hint">{errors[`options${i}`] ? <span className="field-error">{errors[`options${i}`]}</span> : TYPES.find((t) => t.type === r.type)?.hint}</div>
              </div>
            ))}
            <Button kind="ghost" onClick={() => setRules((rs) => [...rs, { type: 'prompt_injection', stage: 'input', action: 'block', options: '' }])}>
              + Add rule
            </Button>
          </div>
        </Field>
        <Field label="Applies to" hint="No key chosen: every key of the organisation.">
          <div className="checks checks-scroll">
            {(keys.data ?? []).map((k) => (
              <label key={k.id} className="check">
                <input type="checkbox" checked={keyIds.includes(k.id)} onChange={(e) => setKeyIds((ids) => (e.target.checked ? [...ids, k.id] : ids.filter((x) => x !== k.id)))} />
                {k.name} <code className="small">{k.prefix}</code>
              </label>
            ))}
          </div>
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
