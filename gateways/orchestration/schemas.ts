// Request bodies of the orchestration API, field for field as in seed 001. The same schemas
// validate HTTP bodies and gRPC messages, so both transports reject the same input.
import { z } from 'zod';
import { inspectJson } from '../../lib/http/common.js';
import { ENGINES, NODE_STATE_VALUES, PROVIDERS } from '../../lib/providers.js';

const name = z.string().trim().min(1).max(200);
const uuid = z.uuid();
const jsonObject = z.record(z.string(), z.unknown());

const accessList = z.array(z.string().trim().min(1).max(253)).max(500).optional();

export const RegisterModelBody = z.object({
  model_name: name.regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'letters, digits and . _ : / - only'),
  model_version: z.string().trim().min(1).max(64).default('1.0'),
  backend: z.enum(ENGINES),
  artifact_uri: z.string().trim().min(1).max(2000),
  /** Free-form engine settings; `allowed_groups` / `allowed_domains` restrict who may use the model. */
  config_json: z.looseObject({ allowed_groups: accessList, allowed_domains: accessList }).default({}),
  org_id: uuid.optional(),
});

export const DeleteModelBody = z.object({
  model_name: name,
  model_version: z.string().trim().min(1).max(64),
  org_id: uuid.optional(),
});

export const CreatePoolBody = z.object({
  pool_name: name,
  owner_type: z.enum(['org', 'user']).default('org'),
  owner_id: z.string().trim().min(1).max(200).optional(),
  provider: z.enum(PROVIDERS),
  allowed_gpu_types: z.array(z.string().trim().min(1).max(100)).max(50).default([]),
  max_cost_per_hour: z.number().nonnegative().max(1_000_000).optional(),
  is_dedicated: z.boolean().default(false),
  provider_pool_id: z.string().trim().max(500).optional(),
  scheduling_policy_json: z
    .union([z.string().max(10_000), jsonObject])
    .default({})
    .transform((v, ctx) => {
      if (typeof v !== 'string') return v;
      try {
        const parsed: unknown = JSON.parse(v || '{}');
        const problem = inspectJson(parsed);
        if (problem) {
          ctx.addIssue({ code: 'custom', message: `${problem.path.join('.')} ${problem.reason}`.trim() });
          return z.NEVER;
        }
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
      } catch {
        /* reported below */
      }
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object (or a string holding one)' });
      return z.NEVER;
    }),
  org_id: uuid.optional(),
});

export const DeployBody = z.object({
  model_name: name,
  model_version: z.string().trim().min(1).max(64).default('1.0'),
  replicas: z.number().int().min(1).max(64).default(1),
  gpu_per_replica: z.number().int().min(0).max(16).default(0),
  pool_id: uuid,
  workload_type: z.enum(['inference', 'embedding']).default('inference'),
  engine: z.enum(ENGINES).optional(),
  configuration: jsonObject.default({}),
  owner_id: z.string().trim().min(1).max(200).optional(),
  org_id: uuid.optional(),
  inference_model: name.optional(),
});

export const DeploymentIdBody = z.object({ deployment_id: uuid });
export const ScaleBody = z.object({ deployment_id: uuid, replicas: z.number().int().min(1).max(64) });
export const DeploymentIdParams = z.object({ deployment_id: uuid });
export const PoolIdParams = z.object({ pool_id: uuid });
export const OwnerIdParams = z.object({ owner_id: z.string().trim().min(1).max(200) });
export const ModelParams = z.object({ name: name, version: z.string().trim().min(1).max(64) });
export const ModelNameParams = z.object({ model_name: name });
export const OrgQuery = z.object({ org_id: uuid.optional() });
/** Seed 001: `provider` defaults to nosana. */
export const ProviderQuery = z.object({ provider: z.enum(PROVIDERS).default('nosana') });
export const StatusQuery = z.object({
  live: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
});

export const HeartbeatBody = z.object({
  provider: z.enum(PROVIDERS),
  provider_instance_id: z.string().trim().min(1).max(300),
  gpu_allocated: z.number().int().min(0).max(1024).default(0),
  vcpu_allocated: z.number().int().min(0).max(100_000).default(0),
  ram_gb_allocated: z.number().min(0).max(1_000_000).default(0),
  health_score: z.number().min(0).max(100).default(100),
  state: z.enum(NODE_STATE_VALUES),
  expose_url: z.url({ protocol: /^https?$/ }).max(2000).nullish(),
});

export const LogsBody = z.object({
  provider: z.enum(PROVIDERS),
  provider_instance_id: z.string().trim().min(1).max(300),
  lines: z
    .array(z.object({ ts: z.string().max(40), line: z.string().max(8192) }))
    .max(1000),
});
export const LogsQuery = z.object({ tail: z.coerce.number().int().min(1).max(5000).default(200) });
export const TicketQuery = z.object({ ticket: z.string().max(2000).optional() });

export type LogsInput = z.output<typeof LogsBody>;
export type RegisterModelInput = z.output<typeof RegisterModelBody>;
export type DeleteModelInput = z.output<typeof DeleteModelBody>;
export type CreatePoolInput = z.output<typeof CreatePoolBody>;
export type DeployInput = z.output<typeof DeployBody>;
export type HeartbeatInput = z.output<typeof HeartbeatBody>;
