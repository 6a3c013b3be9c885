// Users, roles and groups of the organisation. A role change ends that user's sessions; nobody
// changes their own role or grants one above their own. Groups restrict models to their members.
import { useState, type FormEvent } from 'react';
import { PERMISSIONS } from '../../../lib/rbac.js';
import { useAction, useResource } from '../hooks';
import { grantableRoles, mayChangeRole } from '../permissions';
import { useSession } from '../session';
import { DataTable, Table, type Column } from '../table';
import type { Group, OrgUser } from '../types';
import { Button, Card, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, useToast } from '../ui';
import { groupName, hasErrors, maxLength, validate } from '../validate';

export function UsersPage() {
  const { api } = useSession();
  const users = useResource(async () => (await api.get<{ data: OrgUser[] }>('/admin/users')).data, []);
  return (
    <>
      <PageHeader title="Users, roles and groups" subtitle="Who is in the organisation and what each may do." />
      <ErrorNote error={users.error} />
      <UsersCard users={users.data} reload={users.reload} />
      <div className="grid-2">
        <RolesCard />
        <GroupsCard users={users.data ?? []} />
      </div>
    </>
  );
}

function UsersCard({ users, reload }: { users: OrgUser[] | undefined; reload: () => Promise<void> }) {
  const { api, me, perms } = useSession();
  const toast = useToast();
  const [role, setRole] = useState('all');
  const change = useAction(async (u: OrgUser, next: string) => {
    await api.patch(`/admin/users/${u.user_id}/role`, { role: next });
    toast(`${u.email} is now ${next}; their sessions were ended`);
    await reload();
    return true;
  });
  const mayWrite = perms.can('users:write');
  const columns: Column<OrgUser>[] = [
    { header: 'E-mail', cell: (u) => <b>{u.email}</b> },
    { header: 'Name', cell: (u) => u.name ?? '—' },
    {
      header: 'Role',
      cell: (u) =>
        mayWrite && me && mayChangeRole(me.role, me.user_id, u.role, u.user_id) ? (
          <select aria-label={`Role of ${u.email}`} value={u.role} disabled={change.busy} onChange={(e) => void change.run(u, e.target.value)}>
            {grantableRoles(me.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          u.role
        ),
    },
    { header: '2FA', cell: (u) => (u.totp_enabled ? <span className="badge badge-ok">on</span> : <span className="badge badge-idle">off</span>) },
    { header: 'Active', cell: (u) => (u.active ? 'yes' : 'no') },
  ];
  return (
    <Card title="Users">
      <ErrorNote error={change.error} onDismiss={change.reset} />
      {!users ? (
        <Loading what="users" />
      ) : (
        <DataTable
          label="users"
          rows={users}
          columns={columns}
          rowKey={(u) => u.user_id}
          text={(u) => `${u.email} ${u.name ?? ''} ${u.role}`}
          filters={role === 'all' ? [] : [(u) => u.role === role]}
          filterKey={role}
          toolbar={
            <select aria-label="Role filter" value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="all">All roles</option>
              {['owner', 'admin', 'operator', 'viewer'].map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          }
        />
      )}
    </Card>
  );
}

function RolesCard() {
  const { api } = useSession();
  const roles = useResource(async () => (await api.get<{ data: { name: string; permissions: string[] }[] }>('/admin/roles')).data, []);
  return (
    <Card title="Roles">
      <ErrorNote error={roles.error} />
      {!roles.data ? (
        <Loading what="roles" />
      ) : (
        <Table
          rows={[...PERMISSIONS]}
          rowKey={(p) => p}
          columns={[
            { header: 'Permission', cell: (p) => <code className="small">{p}</code> },
            ...roles.data.map((r) => ({ header: r.name, cell: (p: string) => (r.permissions.includes(p) ? '✓' : ''), numeric: false })),
          ]}
        />
      )}
    </Card>
  );
}

function GroupsCard({ users }: { users: OrgUser[] }) {
  const { api, perms } = useSession();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [members, setMembers] = useState<Group | null>(null);
  const groups = useResource(async () => (await api.get<{ data: Group[] }>('/admin/groups')).data, []);
  const remove = useAction(async (g: Group) => {
    await api.del(`/admin/groups/${g.id}`);
    toast(`Group ${g.name} deleted`);
    await groups.reload();
    return true;
  });
  const mayWrite = perms.can('users:write');
  const columns: Column<Group>[] = [
    { header: 'Group', cell: (g) => <b>{g.name}</b> },
    { header: 'Description', cell: (g) => g.description || '—' },
    { header: 'Members', numeric: true, cell: (g) => g.member_ids.length },
  ];
  if (mayWrite) {
    columns.push({
      header: 'Actions',
      className: 'actions',
      cell: (g) => (
        <span className="row-actions">
          <Button kind="ghost" onClick={() => setMembers(g)}>
            Members
          </Button>
          <ConfirmButton label="Delete" confirm={`Delete ${g.name}?`} busy={remove.busy} onConfirm={() => void remove.run(g)} />
        </span>
      ),
    });
  }
  return (
    <Card
      title="Groups"
      actions={
        mayWrite ? (
          <Button kind="primary" onClick={() => setCreating(true)}>
            New group
          </Button>
        ) : null
      }
    >
      <ErrorNote error={remove.error ?? groups.error} onDismiss={remove.reset} />
      {!groups.data ? (
        <Loading what="groups" />
      ) : (
        <DataTable label="groups" rows={groups.data} columns={columns} rowKey={(g) => g.id} text={(g) => `${g.name} ${g.description}`} pageSize={10} empty="No groups." />
      )}
      {creating ? <CreateGroupDialog onClose={() => setCreating(false)} onDone={() => void groups.reload()} /> : null}
      {members ? <MembersDialog group={members} users={users} onClose={() => setMembers(null)} onDone={() => void groups.reload()} /> : null}
    </Card>
  );
}

function CreateGroupDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const { api } = useSession();
  const [values, setValues] = useState({ name: '', description: '' });
  const [errors, setErrors] = useState<Partial<Record<'name' | 'description', string>>>({});
  const create = useAction(() => api.post<Group>('/admin/groups', { name: values.name.trim(), description: values.description.trim() }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { name: [groupName, maxLength(100)], description: [maxLength(1000)] });
    setErrors(found);
    if (hasErrors(found)) return;
    if (await create.run()) {
      onDone();
      onClose();
    }
  };
  return (
    <Modal title="New group" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" htmlFor="group-name" error={errors.name} hint="Models name it in allowed_groups.">
          <input id="group-name" value={values.name} onChange={(e) => setValues((v) => ({ ...v, name: e.target.value }))} />
        </Field>
        <Field label="Description" htmlFor="group-description" error={errors.description}>
          <input id="group-description" value={values.description} onChange={(e) => setValues((v) => ({ ...v, description: e.target.value }))} />
        </Field>
        <ErrorNote error={create.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={create.busy}>
            Create
          </Button>
        </div>
      </form>
    </Modal>
  );
}

function MembersDialog({ group, users, onClose, onDone }: { group: Group; users: OrgUser[]; onClose: () => void; onDone: () => void }) {
  const { api } = useSession();
  const [ids, setIds] = useState(group.member_ids);
  const save = useAction(() => api.put(`/admin/groups/${group.id}/members`, { user_ids: ids }));
  return (
    <Modal title={`Members of ${group.name}`} onClose={onClose}>
      <div className="checks checks-scroll">
        {users.map((u) => (
          <label key={u.user_id} className="check">
            <input type="checkbox" checked={ids.includes(u.user_id)} onChange={(e) => setIds((cur) => (e.target.checked ? [...cur, u.user_id] : cur.filter((x) => x !== u.user_id)))} />
            {u.email}
          </label>
        ))}
      </div>
      <ErrorNote error={save.error} />
      <div className="form-actions">
        <Button kind="ghost" onClick={onClose}>
          Cancel
        </Button>
        <Button
          kind="primary"
          busy={save.busy}
          onClick={() =>
            void save.run().then((ok) => {
              if (ok) {
                onDone();
                onClose();
              }
            })
          }
        >
          Save members
        </Button>
      </div>
    </Modal>
  );
}
