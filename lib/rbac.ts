// Roles and permissions: the single table every management route is checked against.
export const PERMISSIONS = [
  'deployments:read',
  'deployments:write',
  'pools:read',
  'pools:write',
  'models:read',
  'models:write',
  'inventory:read',
  'api_keys:read',
  'api_keys:write',
  'providers:read',
  'providers:write',
  'policies:read',
  'policies:write',
  'knowledge:read',
  'knowledge:write',
  'users:read',
  'users:write',
  'roles:write',
  'audit:read',
  'usage:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const read = PERMISSIONS.filter((p) => p.endsWith(':read'));
const operatorWrites: Permission[] = ['deployments:write', 'pools:write', 'models:write', 'api_keys:write', 'knowledge:write', 'policies:write'];

export const BUILTIN_ROLES = {
  owner: [...PERMISSIONS],
  admin: PERMISSIONS.filter((p) => p !== 'roles:write'),
  operator: [...read.filter((p) => p !== 'audit:read' && p !== 'users:read'), ...operatorWrites],
  viewer: read.filter((p) => p !== 'audit:read' && p !== 'users:read'),
} satisfies Record<string, Permission[]>;
export type BuiltinRole = keyof typeof BUILTIN_ROLES;

export function permissionsFor(role: string): ReadonlySet<Permission> {
  return new Set((BUILTIN_ROLES as Record<string, Permission[]>)[role] ?? []);
}
