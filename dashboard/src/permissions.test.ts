// The viewer must see no button it cannot use: the gating follows the role tables the gateway
// enforces (lib/rbac.ts), so each built-in role is checked against them here.
import { describe, expect, it } from 'vitest';
import { BUILTIN_ROLES } from '../../lib/rbac.js';
import { SCOPES, keyState } from './pages/api-keys';
import { canDelete, canStart, canTerminate, deploymentPoll } from './pages/deployments';
import { Permissions, grantableRoles, mayChangeRole } from './permissions';

const as = (role: keyof typeof BUILTIN_ROLES) => new Permissions(BUILTIN_ROLES[role]);

describe('what each role sees', () => {
  it('shows a viewer the read pages only, and no audit log or user admin', () => {
    const viewer = as('viewer');
    const pages = viewer.nav().map((n) => n.path);
    expect(pages).toEqual(expect.arrayContaining(['/deployments', '/pools', '/models', '/usage', '/api-keys', '/account']));
    expect(pages).not.toContain('/audit');
    expect(pages).not.toContain('/users');
    expect(viewer.mayOpen('/audit')).toBe(false);
    expect(viewer.mayOpen('/deployments/123')).toBe(true);
    for (const write of ['deployments:write', 'pools:write', 'models:write', 'api_keys:write', 'policies:write', 'providers:write', 'users:write'] as const) {
      expect(viewer.can(write), write).toBe(false);
    }
  });

  it('lets an operator act on deployments but not administer users', () => {
    const op = as('operator');
    expect(op.can('deployments:write')).toBe(true);
    expect(op.nav().map((n) => n.path)).not.toContain('/users');
  });

  it('lands everyone on the first page they may open', () => {
    expect(as('owner').home()).toBe('/deployments');
    expect(new Permissions([]).home()).toBe('/account');
  });

  it('offers only the key scopes the creator may grant', () => {
    const grantable = (role: keyof typeof BUILTIN_ROLES) => SCOPES.filter((s) => as(role).can(s.needs)).map((s) => s.scope);
    expect(grantable('viewer')).toEqual(['inference']);
    expect(grantable('operator')).toEqual(['inference', 'files', 'batches']);
  });

  it('never offers a role above one\'s own, nor a change of one\'s own role', () => {
    expect(grantableRoles('admin')).toEqual(['viewer', 'operator', 'admin']);
    expect(grantableRoles('viewer')).toEqual(['viewer']);
    expect(mayChangeRole('admin', 'me', 'operator', 'you')).toBe(true);
    expect(mayChangeRole('admin', 'me', 'owner', 'you')).toBe(false);
    expect(mayChangeRole('owner', 'me', 'owner', 'me')).toBe(false);
  });
});

describe('deployment actions follow the lifecycle', () => {
  it('offers start and delete when stopped or failed, terminate while it runs or comes up', () => {
    for (const status of ['STOPPED', 'FAILED'] as const) expect([canStart({ status }), canDelete({ status }), canTerminate({ status })]).toEqual([true, true, false]);
    for (const status of ['PENDING', 'DEPLOYING', 'RUNNING'] as const) expect([canStart({ status }), canTerminate({ status })]).toEqual([false, true]);
    expect([canStart({ status: 'STOPPING' }), canTerminate({ status: 'STOPPING' }), canDelete({ status: 'STOPPING' })]).toEqual([false, false, false]);
  });

  it('polls fast only while something is changing', () => {
    expect(deploymentPoll([{ status: 'RUNNING' }, { status: 'DEPLOYING' }])).toBe(2000);
    expect(deploymentPoll([{ status: 'RUNNING' }])).toBe(10_000);
  });

  it('tells an active key from a revoked or expired one', () => {
    const now = Date.parse('2031-01-01T00:00:00Z');
    expect(keyState({ revoked_at: null, expires_at: null }, now)).toBe('active');
    expect(keyState({ revoked_at: '2030-01-01T00:00:00Z', expires_at: null }, now)).toBe('revoked');
    expect(keyState({ revoked_at: null, expires_at: '2030-12-31T00:00:00Z' }, now)).toBe('expired');
  });
});
