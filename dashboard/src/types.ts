// The shapes the gateways answer with (see ../shared/API.md and the gateways' views).

export interface Me {
  user_id: string;
  email: string;
  name: string | null;
  org_id: string;
  role: string;
  permissions: string[];
  totp_enabled: boolean;
}

export type DeploymentStatus = 'PENDING' | 'DEPLOYING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED' | 'DELETED';

export interface Deployment {
  deployment_id: string;
  org_id: string;
  model_name: string;
  model_version: string;
  inference_model: string;
  replicas: number;
  gpu_per_replica: number;
  pool_id: string;
  workload_type: string;
  engine: string;
  status: DeploymentStatus;
  status_reason: string | null;
  workflow_id: string;
  temporal_ui_url: string;
  created_at: string;
  updated_at: string;
}

export interface InventoryNode {
  node_id: string;
  pool_id: string;
  provider: string;
  provider_instance_id: string;
  state: string;
  gpu_type: string | null;
  gpu_allocated: number;
  vcpu_allocated: number;
  ram_gb_allocated: number;
  health_score: number;
  expose_url: string | null;
  deployment_id: string | null;
  replica_index: number | null;
  last_heartbeat_at: string | null;
}

export interface DeploymentDetail extends Deployment {
  nodes: InventoryNode[];
  events: { at: string; kind: string; message: string }[];
  workflow_state?: Record<string, unknown> | null;
}

export interface Pool {
  pool_id: string;
  pool_name: string;
  owner_type: string;
  owner_id: string;
  provider: string;
  allowed_gpu_types: string[];
  max_cost_per_hour: number | null;
  is_dedicated: boolean;
  status: string;
  created_at: string;
}

export interface Model {
  model_id: string;
  model_name: string;
  model_version: string;
  backend: string;
  artifact_uri: string;
  config_json: Record<string, unknown>;
  created_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowed_models: string[];
  fallback_models: string[];
  rpm_limit: number | null;
  tpm_limit: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface Paged<T> {
  data: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface KnowledgeBase {
  id: string;
  name: string;
  description: string;
  embedding_model: string | null;
  documents: number;
  chunks: number;
  created_at: string;
}

export interface KnowledgeDocument {
  id: string;
  filename: string;
  content_type: string;
  bytes: number;
  status: string;
  chunks: number;
  created_at: string;
}

export interface RetrievedChunk {
  rank: number;
  knowledge_base: string;
  document_id: string;
  filename: string;
  chunk_id: string;
  ordinal: number;
  score: number;
  method: string;
  content: string;
}

export interface PromptTemplate {
  id: string;
  name: string;
  version: number;
  template: string;
  variables: string[];
  created_at: string;
}

export interface GuardrailRule {
  type: 'pii' | 'toxicity' | 'prompt_injection' | 'llm_judge';
  stage: 'input' | 'output' | 'both';
  action: 'block' | 'redact' | 'log';
  options: Record<string, unknown>;
}

export interface GuardrailPolicy {
  id: string;
  name: string;
  config: { rules?: GuardrailRule[] };
  enabled: boolean;
  api_key_ids: string[];
  updated_at: string;
}

export interface Provider {
  id: string;
  name: string;
  provider: string;
  base_url: string | null;
  settings: Record<string, unknown>;
  has_credentials: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface OrgUser {
  user_id: string;
  email: string;
  name: string | null;
  role: string;
  totp_enabled: boolean;
  active: boolean;
}

export interface Group {
  id: string;
  name: string;
  description: string;
  member_ids: string[];
}

export interface AuditEntry {
  id: string;
  at: string;
  actor_id: string | null;
  actor_type: string;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  request_id: string | null;
}

export interface UsageFigures {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
}

export interface Usage {
  from: string;
  to: string;
  bucket: 'hour' | 'day';
  group_by: 'model' | 'api_key';
  buckets: string[];
  series: { key: string | null; label: string; total: UsageFigures; points: ({ t: string } & UsageFigures)[] }[];
  truncated: boolean;
  total: UsageFigures;
}

export interface LogLine {
  id: string;
  ts: string | null;
  replica: number;
  instance: string | null;
  line: string;
}
