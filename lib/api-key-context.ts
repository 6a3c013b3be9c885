// What an API key resolves to: the contract between the filtration gateway (which answers
// POST /internal/context) and the inference gateway (which caches it on its hot path).
export interface ApiKeyContext {
  org_id: string;
  api_key_id: string;
  key_prefix: string;
  scopes: string[];
  allowed_models: string[];
  rpm_limit: number | null;
  tpm_limit: number | null;
  expires_at: string | null;
}
