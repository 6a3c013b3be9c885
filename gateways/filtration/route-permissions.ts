// The one declarative table of who may call which filtration route. Every registered route must
// be listed (the app refuses to start otherwise, and a test walks them): a new route cannot slip
// in unchecked.
import type { Permission } from '../../lib/rbac.js';

/** `public`: anyone; `user`: any signed-in user; `service`: the internal service token; else a permission. */
export type RouteAccess = 'public' | 'user' | 'service' | Permission;

export const ROUTE_PERMISSIONS: Record<string, RouteAccess> = {
  'POST /auth/register': 'public',
  'POST /auth/login': 'public',
  'POST /auth/refresh': 'public',
  'POST /auth/logout': 'user',
  'GET /auth/me': 'user',
  'POST /auth/password': 'user',
  'POST /auth/2fa/setup': 'user',
  'POST /auth/2fa/enable': 'user',
  'POST /auth/2fa/disable': 'user',

  'GET /management/api-keys': 'api_keys:read',
  'POST /management/api-keys': 'api_keys:write',
  'DELETE /management/api-keys/:id': 'api_keys:write',

  'GET /management/providers': 'providers:read',
  'POST /management/providers': 'providers:write',
  'GET /management/providers/:id': 'providers:read',
  'PATCH /management/providers/:id': 'providers:write',
  'DELETE /management/providers/:id': 'providers:write',
  'GET /management/guardrails': 'policies:read',
  'POST /management/guardrails': 'policies:write',
  'PUT /management/guardrails/:id': 'policies:write',
  'DELETE /management/guardrails/:id': 'policies:write',
  'GET /management/prompt-templates': 'policies:read',
  'POST /management/prompt-templates': 'policies:write',
  'DELETE /management/prompt-templates/:id': 'policies:write',
  'GET /management/knowledge-bases': 'knowledge:read',
  'POST /management/knowledge-bases': 'knowledge:write',
  'DELETE /management/knowledge-bases/:id': 'knowledge:write',
  'GET /management/knowledge-bases/:id/documents': 'knowledge:read',
  'POST /management/knowledge-bases/:id/documents': 'knowledge:write',
  'GET /management/knowledge-bases/:id/documents/:document_id/chunks': 'knowledge:read',
  'DELETE /management/knowledge-bases/:id/documents/:document_id': 'knowledge:write',
  'POST /management/knowledge-bases/:id/query': 'knowledge:read',
  'GET /management/usage': 'usage:read',
  'GET /management/quotas': 'policies:read',
  'PUT /management/quotas': 'policies:write',

  'GET /management/deployments': 'deployments:read',
  'POST /management/deployments': 'deployments:write',
  'GET /management/deployments/:id': 'deployments:read',
  'GET /management/deployments/:id/logs': 'deployments:read',
  'POST /management/deployments/:id/start': 'deployments:write',
  'POST /management/deployments/:id/terminate': 'deployments:write',
  'POST /management/deployments/:id/scale': 'deployments:write',
  'DELETE /management/deployments/:id': 'deployments:write',
  'GET /management/pools': 'pools:read',
  'POST /management/pools': 'pools:write',
  'GET /management/pools/:id/inventory': 'inventory:read',
  'DELETE /management/pools/:id': 'pools:write',
  'GET /management/models': 'models:read',
  'POST /management/models': 'models:write',
  'DELETE /management/models': 'models:write',

  'GET /admin/users': 'users:read',
  'PATCH /admin/users/:id/role': 'users:write',
  'GET /admin/roles': 'users:read',
  'GET /admin/groups': 'users:read',
  'POST /admin/groups': 'users:write',
  'PUT /admin/groups/:id/members': 'users:write',
  'DELETE /admin/groups/:id': 'users:write',
  'GET /admin/orgs': 'users:read',
  'PATCH /admin/orgs': 'roles:write',

  'GET /audit/logs': 'audit:read',

  'POST /internal/context': 'service',
  'POST /internal/logs': 'service',
};

/** Routes that need no entry: health, metrics, the OpenAPI document and CORS preflights (answered before any route runs). */
export const UNLISTED_ROUTES = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'HEAD /healthz',
  'HEAD /readyz',
  'HEAD /metrics',
  'HEAD /openapi.json',
  'OPTIONS *',
]);

export const routeKey = (method: string, url: string) => `${method.toUpperCase()} ${url}`;
