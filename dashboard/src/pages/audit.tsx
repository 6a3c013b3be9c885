// The audit log: who did what to which resource, when and from where. Filtered and paged by the
// gateway (the log only grows); each row opens to its before/after summary.
import { Fragment, useMemo, useState } from 'react';
import { query } from '../api';
import { formatDateTime, shortId } from '../format';
import { useDebounced, useResource } from '../hooks';
import { useSession } from '../session';
import { Pager } from '../table';
import type { AuditEntry, OrgUser, Paged } from '../types';
import { Button, ErrorNote, PageHeader } from '../ui';

export const KNOWN_ACTIONS = [
  'auth.register',
  'auth.password_change',
  'auth.2fa_enable',
  'auth.2fa_disable',
  'api_key.create',
  'api_key.revoke',
  'deployment.deploy',
  'deployment.start',
  'deployment.terminate',
  'deployment.scale',
  'deployment.delete',
  'pool.create',
  'pool.delete',
  'model.register',
  'model.delete',
  'provider.create',
  'provider.update',
  'provider.delete',
  'guardrail.create',
  'guardrail.update',
  'guardrail.delete',
  'prompt_template.save',
  'prompt_template.delete',
  'knowledge_base.create',
  'knowledge_base.delete',
  'knowledge_document.add',
  'knowledge_document.delete',
  'quota.set',
  'user.role_change',
  'group.create',
  'group.members_set',
  'group.delete',
  'org.update',
];

/** A `datetime-local` value (browser time) as the ISO instant the gateway filters on. */
export const toInstant = (local: string) => (local ? new Date(local).toISOString() : undefined);

export function AuditPage() {
  const { api, perms } = useSession();
  const [filters, setFilters] = useState({ actor: '', action: '', resource_type: '', resource_id: '', from: '', to: '' });
  const [page, setPage] = useState(1);
  const [size, setSize] = useState(50);
  const [open, setOpen] = useState<string | null>(null);
  const settled = useDebounced(filters);
  const users = useResource(async () => (perms.can('users:read') ? (await api.get<{ data: OrgUser[] }>('/admin/users')).data : []), []);
  const email = useMemo(() => new Map((users.data ?? []).map((u) => [u.user_id, u.email])), [users.data]);
  const log = useResource(
    () =>
      api.get<Paged<AuditEntry>>(
        `/audit/logs${query({
          limit: size,
          offset: (page - 1) * size,
          actor: settled.actor,
          action: settled.action.trim(),
          resource_type: settled.resource_type.trim(),
          resource_id: settled.resource_id.trim(),
          from: toInstant(settled.from),
          to: toInstant(settled.to),
        })}`,
      ),
    [settled, page, size],
    { pollMs: page === 1 ? 10_000 : undefined },
  );
  const set = (k: keyof typeof filters) => (e: { target: { value: string } }) => {
    setFilters((f) => ({ ...f, [k]: e.target.value }));
    setPage(1);
  };
  const rows = log.data?.data ?? [];
  return (
    <>
      <PageHeader title="Audit log" subtitle="Every change to the organisation, written in the same transaction as the change (or once a workflow accepted it)." />
      <div className="filters">
        <select aria-label="Actor" value={filters.actor} onChange={set('actor')}>
          <option value="">Anyone</option>
          {(users.data ?? []).map((u) => (
            <option key={u.user_id} value={u.user_id}>
              {u.email}
            </option>
          ))}
        </select>
        <input aria-label="Action" placeholder="Action, e.g. api_key.create" list="audit-actions" value={filters.action} onChange={set('action')} />
        <datalist id="audit-actions">
          {KNOWN_ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        <input aria-label="Resource type" placeholder="Resource type, e.g. deployment" value={filters.resource_type} onChange={set('resource_type')} />
        <input aria-label="Resource id" placeholder="Resource id" value={filters.resource_id} onChange={set('resource_id')} />
        <label className="inline-label">
          From <input aria-label="From" type="datetime-local" value={filters.from} onChange={set('from')} />
        </label>
        <label className="inline-label">
          To <input aria-label="To" type="datetime-local" value={filters.to} onChange={set('to')} />
        </label>
        <Button
          kind="ghost"
          onClick={() => {
            setFilters({ actor: '', action: '', resource_type: '', resource_id: '', from: '', to: '' });
            setPage(1);
          }}
        >
          Clear
        </Button>
      </div>
      <ErrorNote error={log.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Resource</th>
              <th>From</th>
              <th>Request</th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <tr>
                <td colSpan={6} className="empty">
                  {log.loading ? 'Loading…' : 'No entries match.'}
                </td>
              </tr>
            ) : null}
            {rows.map((r) => (
              <Fragment key={r.id}>
                <tr className="clickable" data-action={r.action} onClick={() => setOpen(open === r.id ? null : r.id)}>
                  <td>{formatDateTime(r.at)}</td>
                  <td title={r.actor_id ?? ''}>{r.actor_id ? (email.get(r.actor_id) ?? `${r.actor_type} ${shortId(r.actor_id)}`) : r.actor_type}</td>
                  <td>
                    <code className="small">{r.action}</code>
                  </td>
                  <td title={r.resource_id ?? ''}>
                    {r.resource_type} {shortId(r.resource_id)}
                  </td>
                  <td>{r.ip ?? '—'}</td>
                  <td className="muted small">{r.request_id ?? '—'}</td>
                </tr>
                {open === r.id ? (
                  <tr className="detail-row">
                    <td colSpan={6}>
                      <div className="grid-2">
                        <div>
                          <div className="muted">Before</div>
                          <pre className="code">{r.before === null || r.before === undefined ? '—' : JSON.stringify(r.before, null, 2)}</pre>
                        </div>
                        <div>
                          <div className="muted">After</div>
                          <pre className="code">{r.after === null || r.after === undefined ? '—' : JSON.stringify(r.after, null, 2)}</pre>
                        </div>
                      </div>
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <Pager
        page={page}
        size={size}
        total={log.data?.total ?? 0}
        onPage={setPage}
        onSize={(s) => {
          setSize(s);
          setPage(1);
        }}
      />
    </>
  );
}
