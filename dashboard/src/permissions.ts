// What the signed-in user may see and do, from the permissions /auth/me returns (lib/rbac.ts is
// the one table). The UI hides what the user cannot use; the gateways enforce it regardless.
import type { Permission } from '../../lib/rbac.js';

export type { Permission };

export interface NavItem {
  path: string;
  label: string;
  /** Needed to see the page at all. */
  needs: Permission | null;
  group: 'Operate' | 'Policy' | 'Organisation';
}

export const NAV: NavItem[] = [
  { path: '/deployments', label: 'Deployments', needs: 'deployments:read', group: 'Operate' },
  { path: '/pools', label: 'Compute pools', needs: 'pools:read', group: 'Operate' },
  { path: '/models', label: 'Model registry', needs: 'models:read', group: 'Operate' },
  { path: '/usage', label: 'Usage', needs: 'usage:read', group: 'Operate' },
  { path: '/api-keys', label: 'API keys', needs: 'api_keys:read', group: 'Policy' },
  { path: '/knowledge-bases', label: 'Knowledge bases', needs: 'knowledge:read', group: 'Policy' },
  { path: '/prompt-templates', label: 'Prompt templates', needs: 'policies:read', group: 'Policy' },
  { path: '/guardrails', label: 'Guardrails', needs: 'policies:read', group: 'Policy' },
  { path: '/providers', label: 'Providers', needs: 'providers:read', group: 'Policy' },
  { path: '/users', label: 'Users & roles', needs: 'users:read', group: 'Organisation' },
  { path: '/audit', label: 'Audit log', needs: 'audit:read', group: 'Organisation' },
  { path: '/account', label: 'Account & 2FA', needs: null, group: 'Organisation' },
];

export class Permissions {
  private readonly set: ReadonlySet<string>;
  constructor(granted: readonly string[]) {
    this.set = new Set(granted);
  }
  can(p: Permission): boolean {
    return this.set.has(p);
  }
  /** The pages this user may open, in menu order. */
  nav(): NavItem[] {
    return NAV.filter((n) => n.needs === null || this.can(n.needs));
  }
  /** Where to land after signing in: the first page the user may open. */
  home(): string {
    return this.nav()[0]?.path ?? '/account';
  }
  mayOpen(path: string): boolean {
    const item = NAV.find((n) => path === n.path || path.startsWith(`${n.path}/`));
    return !item || item.needs === null || this.can(item.needs);
  }
}

/** Roles from least to most powerful (as the gateway ranks them): nobody grants above their own. */
export const ROLE_ORDER = ['viewer', 'operator', 'admin', 'owner'] as const;

export function grantableRoles(myRole: string): string[] {
  const mine = ROLE_ORDER.indexOf(myRole as (typeof ROLE_ORDER)[number]);
  return ROLE_ORDER.filter((_, i) => i <= mine);
}

/** May I change this member's role? Never my own, never someone above me. */
export function mayChangeRole(myRole: string, myId: string, theirRole: string, theirId: string): boolean {
  if (myId === theirId) return false;
  return ROLE_ORDER.indexOf(theirRole as (typeof ROLE_ORDER)[number]) <= ROLE_ORDER.indexOf(myRole as (typeof ROLE_ORDER)[number]);
}
