// Model name → where it is served, in order of preference: RUNNING replicas of the org's own
// deployments (as the deployment workflows publish them), then the org's external OpenAI-compatible
// providers (`/management/providers`, kind `openai`), then the static endpoints of
// `config/endpoints.json`. Loaded from Postgres on change notices over Redis and held in memory:
// the hot path never queries the database.
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { EndpointAdapter } from '../../adapters/endpoints/types.js';
import type { Db } from '../../lib/db.js';
import { restrictionOf, type ModelRestriction } from '../../lib/api-key-context.js';
import { decryptSecret } from '../../lib/crypto.js';
import { checkOutboundUrl, type OutboundPolicy } from '../../lib/net/outbound.js';
import { channels } from '../../lib/redis.js';
import type { StaticEndpoint } from './static-config.js';

/** Deployments first; then providers; then static endpoints (a tier is tried when the one before has nothing healthy). */
export type TargetKind = 'replica' | 'provider' | 'endpoint';
const TIERS: readonly TargetKind[] = ['replica', 'provider', 'endpoint'];

export interface Replica {
  kind: TargetKind;
  /** OpenAI base URL, up to and including `/v1` (replicas and providers). */
  base: string;
  /** Sent with each request (a provider's credentials). */
  headers?: Record<string, string>;
  /** The name the upstream knows the model by, when it differs from the one clients use. */
  upstreamModel?: string;
  /** Static endpoints: the adapter that submits the task. */
  adapter?: EndpointAdapter;
  deploymentId: string | null;
  /** Unique per target: the inventory node id, `provider:<id>` or `endpoint:<id>` (breakers and logs use it). */
  nodeId: string;
  model: string;
  /** Empty for static endpoints: they serve every organisation their groups and domains admit. */
  orgId: string;
  /** Requests in flight to this replica from this gateway (least-outstanding routing). */
  inflight: number;
  /** Who may use the model (ALCF groups and domains), from its registration's config_json. */
  restriction: ModelRestriction;
}

const key = (orgId: string, model: string) => `${orgId}\u0000${model}`;

export interface RoutingTableOptions {
  /** Decrypts provider credentials (the filtration gateway seals them with this key). */
  encryptionKey?: Buffer;
  staticEndpoints?: StaticEndpoint[];
  /**
   * Provider base URLs are checked again at each load (names can be re-pointed after creation):
   * one that now reaches an internal address is left out. Absent: not checked (tests of the table).
   */
  outbound?: OutboundPolicy;
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 256) : []);

/** One READY replica of a RUNNING deployment, as the table loads it. */
export interface RouteRow {
  nodeId: string;
  url: string;
  deploymentId: string;
  model: string;
  orgId: string;
  /** The registered model's config_json (who may use it). */
  modelConfig: unknown;
}

/** One enabled external OpenAI-compatible provider (credentials still sealed). */
export interface ProviderRow {
  id: string;
  orgId: string;
  baseUrl: string;
  settings: unknown;
  secretsEnc: string | null;
}

export interface RouteRows {
  replicas: RouteRow[];
  providers: ProviderRow[];
}

/** Reads every routable replica and provider. */
export type RouteSource = () => Promise<RouteRows>;

/**
 * The queries over the pg driver directly. The inference gateway uses this one: the Prisma client
 * (its Wasm query compiler) would be loaded for these queries and cost about 70 MiB of memory.
 */
export function pgRouteSource(pool: Pool): RouteSource {
  return async () => {
    const [replicas, providers] = await Promise.all([
      pool.query<{ node_id: string; url: string; deployment_id: string; model: string; org_id: string; model_config: unknown }>(
        `SELECT n.id AS node_id, n.expose_url AS url, n.deployment_id, d.inference_model AS model, d.org_id, m.config_json AS model_config
           FROM inventory_nodes n
           JOIN deployments d ON d.id = n.deployment_id
           LEFT JOIN registered_models m ON m.id = d.model_id
          WHERE n.state = 'READY' AND n.expose_url IS NOT NULL AND d.status = 'RUNNING'`,
      ),
      pool.query<{ id: string; org_id: string; base_url: string; settings: unknown; secrets_enc: string | null }>(
        `SELECT id, org_id, base_url, settings, secrets_enc
           FROM provider_configs
          WHERE provider = 'openai' AND enabled AND base_url IS NOT NULL`,
      ),
    ]);
    return {
      replicas: replicas.rows.map((r) => ({ nodeId: r.node_id, url: r.url, deploymentId: r.deployment_id, model: r.model, orgId: r.org_id, modelConfig: r.model_config })),
      providers: providers.rows.map((p) => ({ id: p.id, orgId: p.org_id, baseUrl: p.base_url, settings: p.settings, secretsEnc: p.secrets_enc })),
    };
  };
}

/** The same queries through the Prisma client. */
export function prismaRouteSource(db: Db): RouteSource {
  return async () => {
    const rows = await db.inventoryNode.findMany({
      where: { state: 'READY', exposeUrl: { not: null }, deployment: { status: 'RUNNING' } },
      select: {
        id: true,
        exposeUrl: true,
        deploymentId: true,
        deployment: { select: { inferenceModel: true, orgId: true, model: { select: { configJson: true } } } },
      },
    });
    const providers = await db.providerConfig.findMany({
      where: { provider: 'openai', enabled: true, baseUrl: { not: null } },
      select: { id: true, orgId: true, baseUrl: true, settings: true, secretsEnc: true },
    });
    const replicas: RouteRow[] = [];
    for (const row of rows) {
      if (!row.deployment || !row.exposeUrl || !row.deploymentId) continue;
      replicas.push({
        nodeId: row.id,
        url: row.exposeUrl,
        deploymentId: row.deploymentId,
        model: row.deployment.inferenceModel,
        orgId: row.deployment.orgId,
        modelConfig: row.deployment.model?.configJson,
      });
    }
    return { replicas, providers: providers.map((p) => ({ ...p, baseUrl: p.baseUrl ?? '' })) };
  };
}

/** Consecutive failures after which a replica is left out, and for how long before it is tried again. */
const BREAKER_THRESHOLD = 3;
const BREAKER_OPEN_MS = 15_000;

export class RoutingTable {
  private routes = new Map<string, Replica[]>();
  /** Circuit breakers by node: a replica that keeps failing is skipped for a while (this gateway's view). */
  private readonly breakers = new Map<string, { failures: number; openUntil: number }>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private dirty = false;
  private readonly loadListeners: ((urls: ReadonlySet<string>) => void)[] = [];
  loadedAt = 0;

  private readonly statics = new Map<string, Replica[]>();

  constructor(
    private readonly source: RouteSource,
    private readonly refreshMs: number,
    private readonly opts: RoutingTableOptions = {},
  ) {
    for (const { definition: d, adapter } of opts.staticEndpoints ?? []) {
      const list = this.statics.get(d.model) ?? [];
      list.push({
        kind: 'endpoint',
        base: '',
        adapter,
        deploymentId: null,
        nodeId: `endpoint:${d.id}`,
        model: d.model,
        orgId: '',
        inflight: 0,
        restriction: { allowed_groups: d.allowed_globus_groups, allowed_domains: d.allowed_domains },
      });
      this.statics.set(d.model, list);
    }
  }

  async start(subscriber: Redis): Promise<void> {
    await this.refresh();
    await subscriber.subscribe(channels.routes);
    subscriber.on('message', (channel: string) => {
      if (channel === channels.routes) void this.refresh();
    });
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** Called after every load with the URLs of all replicas in the table (pools of the others can go). */
  onLoad(listener: (urls: ReadonlySet<string>) => void): void {
    this.loadListeners.push(listener);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Coalesces bursts of notices into at most one query in flight plus one after it. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.dirty = true;
      return this.refreshing;
    }
    this.refreshing = this.load()
      .catch(() => undefined) // keep serving the last good table if Postgres blips
      .finally(() => {
        this.refreshing = undefined;
        if (this.dirty) {
          this.dirty = false;
          void this.refresh();
        }
      });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const { replicas: rows, providers } = await this.source();
    const previous = new Map<string, number>();
    for (const list of this.routes.values()) for (const r of list) previous.set(r.nodeId, r.inflight);
    const next = new Map<string, Replica[]>();
    for (const row of rows) {
      const k = key(row.orgId, row.model);
      const list = next.get(k) ?? [];
      list.push({
        kind: 'replica',
        base: `${row.url.replace(/\/+$/, '')}/v1`,
        deploymentId: row.deploymentId,
        nodeId: row.nodeId,
        model: row.model,
        orgId: row.orgId,
        inflight: previous.get(row.nodeId) ?? 0,
        restriction: restrictionOf(row.modelConfig),
      });
      next.set(k, list);
    }
    for (const p of providers) {
      if (this.opts.outbound && !(await checkOutboundUrl(p.baseUrl, this.opts.outbound).then(() => true, () => false))) continue;
      const settings = (p.settings && typeof p.settings === 'object' ? p.settings : {}) as Record<string, unknown>;
      const modelMap = (settings.model_map && typeof settings.model_map === 'object' ? settings.model_map : {}) as Record<string, unknown>;
      let headers: Record<string, string> = {};
      if (p.secretsEnc && this.opts.encryptionKey) {
        try {
          const secrets = JSON.parse(decryptSecret(this.opts.encryptionKey, p.secretsEnc, `provider:${p.id}`)) as Record<string, string>;
          if (secrets.api_key) headers = { authorization: `Bearer ${secrets.api_key}` };
        } catch {
          continue; // sealed with another key: unusable, and never sent anywhere unauthenticated
        }
      }
      for (const model of new Set([...stringList(settings.models), ...Object.keys(modelMap)])) {
        const k = key(p.orgId, model);
        const list = next.get(k) ?? [];
        const mapped = modelMap[model];
        list.push({
          kind: 'provider',
          base: p.baseUrl.replace(/\/+$/, ''),
          headers,
          ...(typeof mapped === 'string' && mapped.length > 0 ? { upstreamModel: mapped } : {}),
          deploymentId: null,
          nodeId: `provider:${p.id}`,
          model,
          orgId: p.orgId,
          inflight: previous.get(`provider:${p.id}`) ?? 0,
          restriction: restrictionOf(settings),
        });
        next.set(k, list);
      }
    }
    this.routes = next;
    this.loadedAt = Date.now();
    if (this.loadListeners.length > 0) {
      const urls = new Set<string>();
      for (const list of next.values()) for (const r of list) if (r.base) urls.add(r.base);
      for (const listener of this.loadListeners) listener(urls);
    }
  }

  /** Every target of a model for an org, deployments first, then providers, then static endpoints. */
  replicas(orgId: string, model: string): Replica[] {
    const own = this.routes.get(key(orgId, model)) ?? [];
    const statics = this.statics.get(model);
    return statics ? [...own, ...statics] : own;
  }

  models(orgId: string): string[] {
    const out = new Set<string>();
    for (const [k, list] of this.routes) if (k.startsWith(`${orgId}\u0000`) && list.length > 0) out.add(list[0]!.model);
    for (const model of this.statics.keys()) out.add(model);
    return [...out].sort();
  }

  reportFailure(nodeId: string): void {
    const b = this.breakers.get(nodeId) ?? { failures: 0, openUntil: 0 };
    b.failures += 1;
    if (b.failures >= BREAKER_THRESHOLD) b.openUntil = Date.now() + BREAKER_OPEN_MS;
    this.breakers.set(nodeId, b);
  }

  reportSuccess(nodeId: string): void {
    this.breakers.delete(nodeId);
  }

  isOpen(nodeId: string, now = Date.now()): boolean {
    const b = this.breakers.get(nodeId);
    return b !== undefined && b.openUntil > now;
  }

  /**
   * Least outstanding requests among replicas whose breaker is closed; ties broken at random so
   * load spreads. When every breaker is open, the least recently failed replica is tried anyway
   * (half-open), so a recovered model is found again.
   */
  pick(orgId: string, model: string, exclude: ReadonlySet<string> = new Set(), admits: (r: Replica) => boolean = () => true): Replica | undefined {
    let best: Replica[] = [];
    let min = Infinity;
    const candidates = this.replicas(orgId, model).filter((r) => !exclude.has(r.nodeId) && admits(r));
    const now = Date.now();
    // The first tier with a closed breaker serves; when every breaker is open, half-open in tier order.
    let pool: Replica[] = [];
    for (const tier of TIERS) {
      pool = candidates.filter((r) => r.kind === tier && !this.isOpen(r.nodeId, now));
      if (pool.length > 0) break;
    }
    if (pool.length === 0) {
      pool = candidates.sort((a, b) => (this.breakers.get(a.nodeId)?.openUntil ?? 0) - (this.breakers.get(b.nodeId)?.openUntil ?? 0)).slice(0, 1);
    }
    for (const r of pool) {
      if (r.inflight < min) {
        min = r.inflight;
        best = [r];
      } else if (r.inflight === min) best.push(r);
    }
    return best.length ? best[Math.floor(Math.random() * best.length)] : undefined;
  }
}
