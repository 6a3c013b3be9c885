// Audit rows: who did what to which resource, from where, written in the same transaction as the
// change itself (so there is never a change without its row, nor a row without its change). The
// table is append-only in the database. Summaries name fields, never secrets.
import type { Prisma } from './generated/prisma/client.js';
import type { Caller } from './http/auth.js';

export interface AuditEntry {
  orgId: string | null;
  actor: Caller;
  action: string;
  resourceType: string;
  resourceId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  ip?: string | null;
  requestId?: string | null;
}

type AuditWriter = { auditLog: { create(args: { data: Prisma.AuditLogUncheckedCreateInput }): Promise<unknown> } };

export function audit(tx: AuditWriter, entry: AuditEntry) {
  return tx.auditLog.create({
    data: {
      orgId: entry.orgId,
      actorId: entry.actor.kind === 'user' ? entry.actor.userId : entry.actor.service,
      actorType: entry.actor.kind,
      action: entry.action,
      resourceType: entry.resourceType,
      resourceId: entry.resourceId ?? null,
      before: (entry.before ?? undefined) as Prisma.InputJsonValue | undefined,
      after: (entry.after ?? undefined) as Prisma.InputJsonValue | undefined,
      ip: entry.ip ?? null,
      requestId: entry.requestId ?? null,
    },
  });
}
