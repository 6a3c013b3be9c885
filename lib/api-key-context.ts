// What an API key resolves to: the contract between the filtration gateway (which answers
// POST /internal/context) and the inference gateway (which caches it on its hot path).
export interface ApiKeyContext {
  org_id: string;
  api_key_id: string;
  key_prefix: string;
  scopes: string[];
  allowed_models: string[];
  /** Tried in order when the requested model has nothing healthy to serve it. */
  fallback_models: string[];
  rpm_limit: number | null;
  tpm_limit: number | null;
  expires_at: string | null;
  /** Groups of the key's owner, and their e-mail domain: what model restrictions are checked against. */
  groups: string[];
  email_domain: string | null;
  /** Guardrail policies that apply to this key (the org's, and the ones naming the key). */
  guardrails: { id: string; name: string; config: Record<string, unknown> }[];
  /** Limits for this key and its org: `minute` ones are rate limits, `day`/`month` quotas. */
  limits: { scope: 'key' | 'org'; period: string; token_limit: number | null; request_limit: number | null }[];
}

/**
 * A service calling `/v1` for an API key without holding it (the batch worker): the header names
 * the key's id, and the inference gateway accepts it only with the internal service token.
 */
export const ON_BEHALF_OF_HEADER = 'x-inferia-on-behalf-of';

/** Who may use a model: members of any listed group, or users of any listed e-mail domain. Both empty: everyone in the org. */
export interface ModelRestriction {
  allowed_groups: string[];
  allowed_domains: string[];
}

export function mayUseModel(ctx: Pick<ApiKeyContext, 'groups' | 'email_domain'>, restriction: ModelRestriction): boolean {
  if (restriction.allowed_groups.length === 0 && restriction.allowed_domains.length === 0) return true;
  if (ctx.groups.some((g) => restriction.allowed_groups.includes(g))) return true;
  return ctx.email_domain !== null && restriction.allowed_domains.includes(ctx.email_domain);
}

/** Reads `allowed_groups` / `allowed_domains` from a registered model's config_json. */
export function restrictionOf(config: unknown): ModelRestriction {
  const c = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  // A present but malformed list closes the model (fails closed) rather than opening it.
  const CLOSED = ['\u0000malformed'];
  const list = (v: unknown) =>
    v === undefined || v === null ? [] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.map((x: string) => x.toLowerCase()) : CLOSED;
  return { allowed_groups: list(c.allowed_groups), allowed_domains: list(c.allowed_domains) };
}
