// /admin/* (users, roles, the organisation) and /audit/logs.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isoDateTime } from '../../lib/http/common.js';
import { callerOf } from './app.js';
import type { AuthService } from './auth-service.js';
import { Page, requestMeta } from './management-routes.js';
import type { ManagementService } from './management-service.js';

const RoleBody = z.object({ role: z.enum(['owner', 'admin', 'operator', 'viewer']) });
const OrgBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    allowed_email_domains: z
      .array(z.string().trim().toLowerCase().regex(/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/, 'must be a domain name'))
      .max(100)
      .optional(),
  })
  .refine((b) => b.name !== undefined || b.allowed_email_domains !== undefined, { message: 'nothing to change' });
const AuditQuery = Page.extend({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  resource_type: z.string().max(100).optional(),
  resource_id: z.string().max(200).optional(),
  from: isoDateTime().optional(),
  to: isoDateTime().optional(),
});

export async function adminRoutes(fastify: FastifyInstance, opts: { management: ManagementService; auth: AuthService }) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { management } = opts;

  app.get('/admin/users', async (req) => management.listUsers(callerOf(req)));
  app.patch('/admin/users/:id/role', { schema: { params: z.object({ id: z.uuid() }), body: RoleBody } }, async (req) =>
    management.setRole(callerOf(req), req.params.id, req.body.role, requestMeta(req)),
  );
  app.get('/admin/roles', async () => management.listRoles());
  app.get('/admin/orgs', async (req) => management.getOrg(callerOf(req)));
  app.patch('/admin/orgs', { schema: { body: OrgBody } }, async (req) => management.updateOrg(callerOf(req), req.body, requestMeta(req)));

  const GroupId = z.object({ id: z.uuid() });
  app.get('/admin/groups', async (req) => management.listGroups(callerOf(req)));
  app.post(
    '/admin/groups',
    { schema: { body: z.object({ name: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'), description: z.string().max(1000).default('') }) } },
    async (req, reply) => reply.status(201).send(await management.createGroup(callerOf(req), req.body, requestMeta(req))),
  );
  app.put('/admin/groups/:id/members', { schema: { params: GroupId, body: z.object({ user_ids: z.array(z.uuid()).max(10_000) }) } }, async (req) =>
    management.setGroupMembers(callerOf(req), req.params.id, req.body.user_ids, requestMeta(req)),
  );
  app.delete('/admin/groups/:id', { schema: { params: GroupId } }, async (req) => management.deleteGroup(callerOf(req), req.params.id, requestMeta(req)));

  app.get('/audit/logs', { schema: { querystring: AuditQuery } }, async (req) => management.auditLogs(callerOf(req), req.query));
}
