// One typed configuration for every Inferia process, parsed from the environment by a pure
// function so it can be tested. Secrets have development defaults only when INFERIA_ENV is
// `development` or `test`; anywhere else a missing or default secret refuses to start.
import { z } from 'zod';
import { ORCHESTRATION_TASK_QUEUE } from './temporal-names.js';

const DEV_ENVS = new Set(['development', 'test']);
export const DEV_SECRET_MARKER = 'insecure-dev-';

/** A strict boolean: only true/false/1/0/yes/no, so a typo is an error rather than `true`. */
const envBoolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v === 'true' || v === '1' || v === 'yes'));

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const EnvSchema = z.object({
  INFERIA_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INFERIA_HOST: z.string().default('127.0.0.1'),
  INFERIA_DATA_DIR: z.string().default('.inferia'),

  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:54320/inferia'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:63790'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default(ORCHESTRATION_TASK_QUEUE),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),

  FILTRATION_PORT: port(8000),
  INFERENCE_PORT: port(8001),
  ORCHESTRATION_PORT: port(8080),
  ORCHESTRATION_GRPC_PORT: port(50051),
  SIDECAR_PORT: port(3000),
  DASHBOARD_PORT: port(3001),

  FILTRATION_URL: z.string().url().optional(),
  /** Where the worker sends batch items (each goes through the inference gateway's whole policy chain). */
  INFERENCE_URL: z.string().url().optional(),
  ORCHESTRATION_URL: z.string().url().optional(),
  /** Browser origins allowed to call the filtration and orchestration gateways (CORS): the dashboard's. Comma-separated. */
  DASHBOARD_ORIGINS: z.string().optional(),
  NOSANA_SIDECAR_URL: z.string().url().optional(),
  NOSANA_MODE: z.enum(['simulation', 'live']).default('simulation'),
  /** Live Nosana: base58 secret key of the paying wallet, the market to post to, the Solana RPC. */
  NOSANA_WALLET_KEY: z.string().optional(),
  NOSANA_MARKET: z.string().optional(),
  NOSANA_NETWORK: z.enum(['mainnet', 'devnet']).default('mainnet'),
  SOLANA_RPC_URL: z.string().url().optional(),
  /** Live Akash: the deployer's mnemonic and the chain RPC. */
  AKASH_MNEMONIC: z.string().optional(),
  AKASH_RPC_URL: z.string().url().optional(),

  /** Kubernetes provider: a kubeconfig file (else in-cluster config), namespace and GPU node label. */
  KUBECONFIG: z.string().optional(),
  KUBERNETES_NAMESPACE: z.string().default('inferia'),
  KUBERNETES_GPU_NODE_LABEL: z.string().default('nvidia.com/gpu.present=true'),
  /** SkyPilot provider: the SkyPilot API server. */
  SKYPILOT_API_URL: z.string().url().default('http://127.0.0.1:46580'),
  SKYPILOT_API_TOKEN: z.string().optional(),

  JWT_SECRET: z.string().optional(),
  JWT_ISSUER: z.string().default('inferia'),
  JWT_AUDIENCE: z.string().default('inferia-api'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(900).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).default(30 * 24 * 3600),
  /** 32 bytes, base64 or hex: AES-256-GCM key for secrets at rest. */
  ENCRYPTION_KEY: z.string().optional(),
  /** Token services present to each other (`/internal/*`, orchestration calls). */
  INTERNAL_SERVICE_TOKEN: z.string().optional(),
  /** Keyed-hash pepper for API keys and node tokens. */
  API_KEY_PEPPER: z.string().optional(),

  /** Where the local provider keeps engine pid and log files. */
  LOCAL_ENGINE_DIR: z.string().optional(),
  ENGINE_READY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(120),
  ENGINE_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
  /** How often each provider is reconciled (a Temporal Schedule per provider). */
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(30),
  /** A READY node silent for this long is probed and, if its provider does not vouch for it, marked UNHEALTHY. */
  STALE_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).default(20),
  ROUTES_REFRESH_MS: z.coerce.number().int().min(100).default(5000),
  /** Folder of endpoints.json and clusters.json (static endpoint and cluster adapters; both optional). */
  INFERIA_CONFIG_DIR: z.string().min(1).default('config'),
  /** Internal addresses user-set URLs may reach (CIDRs, addresses, host names; comma-separated). Default: none. */
  OUTBOUND_ALLOWLIST: z.string().default(''),
  /** host:port where the worker serves Prometheus metrics (Temporal SDK: task latencies, slots, activity and workflow counts). Empty: off. */
  WORKER_METRICS_ADDRESS: z.string().regex(/^[^:]+:\d{1,5}$/).optional(),
  /** OpenTelemetry traces (standard OTel names): `none` (default) loads no SDK at all; `otlp` exports OTLP/HTTP JSON; `console` prints spans. */
  OTEL_TRACES_EXPORTER: z.enum(['none', 'otlp', 'console']).default('none'),
  /** OTLP/HTTP collector base URL; traces go to `<endpoint>/v1/traces` unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT names the full URL. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().default('http://127.0.0.1:4318'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  /** Share of new traces sampled (0..1); a request that arrives with a sampled `traceparent` is always traced. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  CONTEXT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(60_000),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
  TRUST_PROXY: envBoolean(false),
  /** Redis unreachable while counting a request: `closed` answers 503, `open` serves it unmetered. */
  LIMITER_FAILURE_MODE: z.enum(['closed', 'open']).default('closed'),
  /** How long a gateway may admit from a lease of a large limit's counter before giving back what is left (0: no leases). */
  LIMITER_LEASE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** Batch API: requests of one batch in flight at once, and lines per activity (a chunk). */
  BATCH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  BATCH_CHUNK_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Largest file `POST /v1/files` accepts (413 above), and most request lines in one batch. */
  BATCH_MAX_FILE_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024 * 1024).default(100 * 1024 * 1024),
  BATCH_MAX_REQUESTS: z.coerce.number().int().min(1).max(1_000_000).default(50_000),
});

export type RawEnv = z.input<typeof EnvSchema>;

/** Every variable the config reads (deploy files are checked against it). */
export const ENV_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);

export interface Secrets {
  jwtSecret: string;
  encryptionKey: Buffer;
  internalServiceToken: string;
  apiKeyPepper: string;
}

export interface Config {
  env: 'development' | 'test' | 'production';
  isDev: boolean;
  logLevel: string;
  host: string;
  dataDir: string;
  databaseUrl: string;
  redisUrl: string;
  temporal: { address: string; namespace: string; taskQueue: string; uiUrl: string };
  ports: { filtration: number; inference: number; orchestration: number; orchestrationGrpc: number; sidecar: number; dashboard: number };
  urls: { filtration: string; inference: string; orchestration: string; sidecar: string };
  /** Origins the gateways answer cross-origin requests from (the dashboard is served on its own port). */
  dashboardOrigins: string[];
  nosanaMode: 'simulation' | 'live';
  providers: {
    kubernetes: { kubeconfig?: string; namespace: string; gpuNodeLabel: string };
    skypilot: { apiUrl: string; apiToken?: string };
    nosana: { walletKey?: string; market?: string; network: 'mainnet' | 'devnet'; rpcUrl?: string };
    akash: { mnemonic?: string; rpcUrl?: string };
  };
  jwt: { issuer: string; audience: string; accessTtlSeconds: number; refreshTtlSeconds: number };
  secrets: Secrets;
  localEngineDir: string;
  engineReadyTimeoutSeconds: number;
  engineHeartbeatIntervalMs: number;
  reconcileIntervalSeconds: number;
  staleHeartbeatSeconds: number;
  routesRefreshMs: number;
  configDir: string;
  /** Operator allow-list for user-supplied outbound URLs (SSRF guard, lib/net/outbound.ts). */
  outboundAllowlist: string[];
  workerMetricsAddress: string | undefined;
  /** OpenTelemetry: `endpoint` is the full OTLP/HTTP traces URL. */
  tracing: { exporter: 'none' | 'otlp' | 'console'; endpoint: string; sampleRatio: number };
  contextCacheTtlMs: number;
  upstreamTimeoutMs: number;
  trustProxy: boolean;
  limiterFailureMode: 'closed' | 'open';
  limiterLeaseMs: number;
  batch: { concurrency: number; chunkSize: number; maxFileBytes: number; maxRequests: number };
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function parseKey(raw: string): Buffer | undefined {
  const hex = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : undefined;
  const key = hex ?? Buffer.from(raw, 'base64');
  return key.length === 32 ? key : undefined;
}

/** Pure: the same environment always yields the same config (or the same ConfigError). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const isDev = DEV_ENVS.has(e.INFERIA_ENV);
  const issues: string[] = [];

  const secret = (name: string, value: string | undefined, minLength: number): string => {
    if (value && !value.startsWith(DEV_SECRET_MARKER)) {
      if (value.length < minLength) issues.push(`${name}: must be at least ${minLength} characters`);
      return value;
    }
    if (isDev) return value ?? `${DEV_SECRET_MARKER}${name.toLowerCase()}-change-me-000000000000`;
    issues.push(`${name}: required outside development (a development default is refused)`);
    return '';
  };

  const jwtSecret = secret('JWT_SECRET', e.JWT_SECRET, 32);
  const internalServiceToken = secret('INTERNAL_SERVICE_TOKEN', e.INTERNAL_SERVICE_TOKEN, 32);
  const apiKeyPepper = secret('API_KEY_PEPPER', e.API_KEY_PEPPER, 32);
  let encryptionKey: Buffer;
  if (e.ENCRYPTION_KEY) {
    const key = parseKey(e.ENCRYPTION_KEY);
    if (!key) issues.push('ENCRYPTION_KEY: must be 32 bytes as 64 hex characters or base64');
    encryptionKey = key ?? Buffer.alloc(32);
  } else if (isDev) {
    encryptionKey = Buffer.alloc(32, 7); // development only; production requires a real key
  } else {
    issues.push('ENCRYPTION_KEY: required outside development');
    encryptionKey = Buffer.alloc(32);
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const local = (p: number) => `http://127.0.0.1:${p}`;
  const dashboardOrigins = e.DASHBOARD_ORIGINS
    ? e.DASHBOARD_ORIGINS.split(',').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean)
    : [local(e.DASHBOARD_PORT), `http://localhost:${e.DASHBOARD_PORT}`];
  const badOrigin = dashboardOrigins.find((o) => !/^https?:\/\/[^/\s]+$/.test(o));
  if (badOrigin) throw new ConfigError([`DASHBOARD_ORIGINS: '${badOrigin}' is not an origin (scheme://host[:port])`]);
  return {
    env: e.INFERIA_ENV,
    isDev,
    logLevel: e.LOG_LEVEL,
    host: e.INFERIA_HOST,
    dataDir: e.INFERIA_DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL.replace(/\/$/, ''),
    },
    ports: {
      filtration: e.FILTRATION_PORT,
      inference: e.INFERENCE_PORT,
      orchestration: e.ORCHESTRATION_PORT,
      orchestrationGrpc: e.ORCHESTRATION_GRPC_PORT,
      sidecar: e.SIDECAR_PORT,
      dashboard: e.DASHBOARD_PORT,
    },
    urls: {
      filtration: e.FILTRATION_URL ?? local(e.FILTRATION_PORT),
      inference: e.INFERENCE_URL ?? local(e.INFERENCE_PORT),
      orchestration: e.ORCHESTRATION_URL ?? local(e.ORCHESTRATION_PORT),
      sidecar: e.NOSANA_SIDECAR_URL ?? local(e.SIDECAR_PORT),
    },
    dashboardOrigins,
    nosanaMode: e.NOSANA_MODE,
    providers: {
      kubernetes: { kubeconfig: e.KUBECONFIG, namespace: e.KUBERNETES_NAMESPACE, gpuNodeLabel: e.KUBERNETES_GPU_NODE_LABEL },
      skypilot: { apiUrl: e.SKYPILOT_API_URL.replace(/\/$/, ''), apiToken: e.SKYPILOT_API_TOKEN },
      nosana: { walletKey: e.NOSANA_WALLET_KEY, market: e.NOSANA_MARKET, network: e.NOSANA_NETWORK, rpcUrl: e.SOLANA_RPC_URL },
      akash: { mnemonic: e.AKASH_MNEMONIC, rpcUrl: e.AKASH_RPC_URL },
    },
    jwt: {
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
    },
    secrets: { jwtSecret, encryptionKey, internalServiceToken, apiKeyPepper },
    localEngineDir: e.LOCAL_ENGINE_DIR ?? `${e.INFERIA_DATA_DIR}/engines`,
    engineReadyTimeoutSeconds: e.ENGINE_READY_TIMEOUT_SECONDS,
    engineHeartbeatIntervalMs: e.ENGINE_HEARTBEAT_INTERVAL_MS,
    reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
    staleHeartbeatSeconds: e.STALE_HEARTBEAT_SECONDS,
    routesRefreshMs: e.ROUTES_REFRESH_MS,
    configDir: e.INFERIA_CONFIG_DIR,
    workerMetricsAddress: e.WORKER_METRICS_ADDRESS,
    tracing: {
      exporter: e.OTEL_TRACES_EXPORTER,
      endpoint: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces`,
      sampleRatio: e.OTEL_TRACES_SAMPLER_ARG,
    },
    outboundAllowlist: e.OUTBOUND_ALLOWLIST.split(',').map((s) => s.trim()).filter(Boolean),
    contextCacheTtlMs: e.CONTEXT_CACHE_TTL_MS,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    trustProxy: e.TRUST_PROXY,
    limiterFailureMode: e.LIMITER_FAILURE_MODE,
    limiterLeaseMs: e.LIMITER_LEASE_MS,
    batch: {
      concurrency: e.BATCH_CONCURRENCY,
      chunkSize: e.BATCH_CHUNK_SIZE,
      maxFileBytes: e.BATCH_MAX_FILE_BYTES,
      maxRequests: e.BATCH_MAX_REQUESTS,
    },
  };
}
