// What the fuzz suite checks in the database: a fingerprint of everything one organisation owns
// (each table's rows of that org, counted and hashed), and invariants no request may break.
import type { Db } from '../../lib/db.js';
import { KEY_SCOPES } from '../../gateways/filtration/management-service.js';

const MEMBERS = 'SELECT user_id FROM memberships WHERE org_id = $1::uuid';
/** Each table, and which of its rows belong to the org. */
const ORG_ROWS: Record<string, string> = {
  organizations: 'id = $1::uuid',
  users: `id IN (${MEMBERS})`,
  memberships: 'org_id = $1::uuid',
  roles: 'org_id = $1::uuid',
  groups: 'org_id = $1::uuid',
  group_members: 'group_id IN (SELECT id FROM groups WHERE org_id = $1::uuid)',
  refresh_tokens: `user_id IN (${MEMBERS})`,
  api_keys: 'org_id = $1::uuid',
  provider_configs: 'org_id = $1::uuid',
  compute_pools: 'org_id = $1::uuid',
  inventory_nodes: 'pool_id IN (SELECT id FROM compute_pools WHERE org_id = $1::uuid)',
  registered_models: 'org_id = $1::uuid',
  deployments: 'org_id = $1::uuid',
  deployment_events: 'deployment_id IN (SELECT id FROM deployments WHERE org_id = $1::uuid)',
  guardrail_policies: 'org_id = $1::uuid',
  prompt_templates: 'org_id = $1::uuid',
  knowledge_bases: 'org_id = $1::uuid',
  knowledge_documents: 'knowledge_base_id IN (SELECT id FROM knowledge_bases WHERE org_id = $1::uuid)',
  knowledge_chunks: 'knowledge_base_id IN (SELECT id FROM knowledge_bases WHERE org_id = $1::uuid)',
  quotas: 'org_id = $1::uuid',
  usage_records: 'org_id = $1::uuid',
  inference_logs: 'org_id = $1::uuid',
  audit_logs: 'org_id = $1::uuid',
  files: 'org_id = $1::uuid',
  batches: 'org_id = $1::uuid',
};

export type Fingerprint = Record<string, { rows: number; digest: string }>;

/** Every row the org owns, per table: how many, and a hash of their whole content. */
export async function orgFingerprint(db: Db, orgId: string): Promise<Fingerprint> {
  const existing = new Set(
    (await db.$queryRawUnsafe<{ table_name: string }[]>(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)).map((r) => r.table_name),
  );
  const out: Fingerprint = {};
  for (const [table, where] of Object.entries(ORG_ROWS)) {
    if (!existing.has(table)) continue;
    const [r] = await db.$queryRawUnsafe<{ rows: number; digest: string }[]>(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM ${table} t WHERE ${where}`,
      orgId,
    );
    out[table] = r!;
  }
  return out;
}

/** The tables whose rows differ between two fingerprints. */
export function changedTables(before: Fingerprint, after: Fingerprint): string[] {
  return Object.keys({ ...before, ...after }).filter((t) => before[t]?.rows !== after[t]?.rows || before[t]?.digest !== after[t]?.digest);
}

export interface Recorded {
  status: number;
  method: string;
  url: string;
}

/**
 * Invariants of an org's data after a fuzz run, each cheap to check. `responses` maps the
 * filtration gateway's request ids to what it answered, so audit rows can be matched to requests.
 */
export async function invariantViolations(
  db: Db,
  org: { org_id: string; pool_id: string; user_id: string },
  since: Date,
  responses: Map<string, Recorded>,
): Promise<string[]> {
  const problems: string[] = [];
  const q = <T>(sql: string, ...args: unknown[]) => db.$queryRawUnsafe<T[]>(sql, org.org_id, ...args);

  for (const d of await q<{ id: string; workflow_id: string; status: string; replicas: number }>(
    `SELECT id, workflow_id, status, replicas FROM deployments WHERE org_id = $1::uuid`,
  )) {
    if (!d.workflow_id) problems.push(`deployment ${d.id} has no workflow id`);
    if (!['PENDING', 'DEPLOYING', 'RUNNING', 'STOPPING', 'STOPPED', 'FAILED', 'DELETED'].includes(d.status)) problems.push(`deployment ${d.id} has status ${d.status}`);
    if (d.replicas < 1 || d.replicas > 64) problems.push(`deployment ${d.id} has ${d.replicas} replicas`);
  }
  for (const p of await q<{ id: string; workflow_id: string | null; status: string }>(`SELECT id, workflow_id, status FROM compute_pools WHERE org_id = $1::uuid`)) {
    if (p.id !== org.pool_id && !p.workflow_id) problems.push(`pool ${p.id} was created without a workflow`);
    if (!['PROVISIONING', 'ACTIVE', 'DELETING', 'DELETED', 'FAILED'].includes(p.status)) problems.push(`pool ${p.id} has status ${p.status}`);
  }
  for (const k of await q<{ id: string; scopes: string[]; rpm_limit: number | null; tpm_limit: number | null; expires_at: Date | null; created_at: Date }>(
    `SELECT id, scopes, rpm_limit, tpm_limit, expires_at, created_at FROM api_keys WHERE org_id = $1::uuid`,
  )) {
    const unknown = k.scopes.filter((s) => !(s in KEY_SCOPES));
    if (unknown.length > 0) problems.push(`api key ${k.id} has unknown scopes ${unknown.join(', ')}`);
    if ((k.rpm_limit !== null && k.rpm_limit < 1) || (k.tpm_limit !== null && k.tpm_limit < 1)) problems.push(`api key ${k.id} has a limit below 1`);
    if (k.expires_at && k.expires_at <= k.created_at) problems.push(`api key ${k.id} expired when it was created`);
  }
  for (const g of await q<{ id: string; ok: boolean }>(`SELECT id, jsonb_typeof(config -> 'rules') = 'array' AS ok FROM guardrail_policies WHERE org_id = $1::uuid`)) {
    if (!g.ok) problems.push(`guardrail policy ${g.id} has no rules array`);
  }
  for (const x of await q<{ id: string }>(
    `SELECT id FROM quotas WHERE org_id = $1::uuid AND (token_limit < 0 OR request_limit < 0 OR period NOT IN ('minute', 'day', 'month'))`,
  )) {
    problems.push(`quota ${x.id} is out of range`);
  }
  for (const c of await q<{ id: string }>(
    `SELECT c.id FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id
      WHERE c.knowledge_base_id IN (SELECT id FROM knowledge_bases WHERE org_id = $1::uuid) AND d.knowledge_base_id <> c.knowledge_base_id`,
  )) {
    problems.push(`chunk ${c.id} is filed under another knowledge base than its document`);
  }
  // An audit row is written with its change, in one transaction: only requests that succeeded have one, at most one each.
  const audits = await q<{ id: string; request_id: string | null; action: string; actor_id: string | null }>(
    `SELECT id::text, request_id, action, actor_id FROM audit_logs WHERE org_id = $1::uuid AND created_at >= $2`,
    since,
  );
  const perRequest = new Map<string, number>();
  for (const a of audits) {
    if (a.actor_id !== org.user_id) problems.push(`audit row ${a.id} (${a.action}) names actor ${a.actor_id}, not the fuzzing user`);
    const answered = a.request_id ? responses.get(a.request_id) : undefined;
    if (!answered) {
      problems.push(`audit row ${a.id} (${a.action}) belongs to no request the gateway answered (${a.request_id})`);
      continue;
    }
    if (answered.status >= 300) problems.push(`audit row ${a.id} (${a.action}) for ${answered.method} ${answered.url}, which failed with ${answered.status}`);
    perRequest.set(a.request_id!, (perRequest.get(a.request_id!) ?? 0) + 1);
  }
  for (const [id, n] of perRequest) if (n > 1) problems.push(`request ${id} wrote ${n} audit rows`);
  return problems;
}
