// Model name → where it is served, in order of preference: RUNNING replicas of the org's own
// deployments (as the deployment workflows publish them), then the org's external OpenAI-compatible
// providers (`/management/providers`, kind `openai`), then the static endpoints of
// `config/endpoints.json`. Loaded from Postgres on change notices over Redis and held in memory:
// the hot path never queries the database.
import type { Redis } from 'ioredis';
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
  loadedAt = 0;

  private readonly statics = new Map<string, Replica[]>();

  constructor(
    private readonly db: Db,
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
    const rows = await this.db.inventoryNode.findMany({
      where: { state: 'READY', exposeUrl: { not: null }, deployment: { status: 'RUNNING' } },
      select: {
        id: true,
        exposeUrl: true,
        deploymentId: true,
        deployment: { select: { inferenceModel: true, orgId: true, model: { select: { configJson: true } } } },
      },
    });
    const providers = await this.db.providerConfig.findMany({
      where: { provider: 'openai', enabled: true, baseUrl: { not: null } },
      select: { id: true, orgId: true, baseUrl: true, settings: true, secretsEnc: true },
    });
    const previous = new Map<string, number>();
    for (const list of this.routes.values()) for (const r of list) previous.set(r.nodeId, r.inflight);
    const next = new Map<string, Replica[]>();
    for (const row of rows) {
      if (!row.deployment || !row.exposeUrl || !row.deploymentId) continue;
      const k = key(row.deployment.orgId, row.deployment.inferenceModel);
      const list = next.get(k) ?? [];
      list.push({
        kind: 'replica',
        base: `${row.exposeUrl.replace(/\/+$/, '')}/v1`,
        deploymentId: row.deploymentId,
        nodeId: row.id,
        model: row.deployment.inferenceModel,
        orgId: row.deployment.orgId,
        inflight: previous.get(row.id) ?? 0,
        restriction: restrictionOf(row.deployment.model?.configJson),
      });
      next.set(k, list);
    }
    for (const p of providers) {
      if (this.opts.outbound && !(await checkOutboundUrl(p.baseUrl!, this.opts.outbound).then(() => true, () => false))) continue;
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
          base: p.baseUrl!.replace(/\/+$/, ''),
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
