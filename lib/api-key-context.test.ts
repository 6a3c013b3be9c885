import { describe, expect, it } from 'vitest';
import { mayUseModel, restrictionOf } from './api-key-context.js';

describe('model restrictions (groups and e-mail domains)', () => {
  const member = { groups: ['research'], email_domain: 'lab.example' };
  it('lets everyone in when nothing is listed', () => {
    expect(mayUseModel({ groups: [], email_domain: null }, restrictionOf({}))).toBe(true);
  });
  it('lets in members of a listed group or users of a listed domain, nobody else', () => {
    expect(mayUseModel(member, restrictionOf({ allowed_groups: ['Research'] }))).toBe(true);
    expect(mayUseModel(member, restrictionOf({ allowed_domains: ['lab.example'] }))).toBe(true);
    expect(mayUseModel(member, restrictionOf({ allowed_groups: ['ops'], allowed_domains: ['corp.example'] }))).toBe(false);
    expect(mayUseModel({ groups: [], email_domain: null }, restrictionOf({ allowed_groups: ['ops'] }))).toBe(false);
  });
  it('closes the model when a list is malformed, rather than opening it', () => {
    expect(mayUseModel(member, restrictionOf({ allowed_groups: 'research' }))).toBe(false);
    expect(mayUseModel(member, restrictionOf({ allowed_domains: [1, 'lab.example'] }))).toBe(false);
  });
});
