// Model name → RUNNING replicas, as the deployment workflows publish them (Postgres projection,
// change notices over Redis). Held in memory: the hot path never queries the database.
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Db } from '../../lib/db.js';
import { restrictionOf, type ModelRestriction } from '../../lib/api-key-context.js';
import { channels } from '../../lib/redis.js';

export interface Replica {
  url: string;
  deploymentId: string;
  nodeId: string;
  model: string;
  orgId: string;
  /** Requests in flight to this replica from this gateway (least-outstanding routing). */
  inflight: number;
  /** Who may use the model (ALCF groups and domains), from its registration's config_json. */
  restriction: ModelRestriction;
}

const key = (orgId: string, model: string) => `${orgId}\u0000${model}`;

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

/** Reads every routable replica. */
export type RouteSource = () => Promise<RouteRow[]>;

/**
 * The query over the pg driver directly. The inference gateway uses this one: the Prisma client
 * (its Wasm query compiler) would be loaded for this one query and cost about 70 MiB of memory.
 */
export function pgRouteSource(pool: Pool): RouteSource {
  return async () => {
    const { rows } = await pool.query<{ node_id: string; url: string; deployment_id: string; model: string; org_id: string; model_config: unknown }>(
      `SELECT n.id AS node_id, n.expose_url AS url, n.deployment_id, d.inference_model AS model, d.org_id, m.config_json AS model_config
         FROM inventory_nodes n
         JOIN deployments d ON d.id = n.deployment_id
         LEFT JOIN registered_models m ON m.id = d.model_id
        WHERE n.state = 'READY' AND n.expose_url IS NOT NULL AND d.status = 'RUNNING'`,
    );
    return rows.map((r) => ({ nodeId: r.node_id, url: r.url, deploymentId: r.deployment_id, model: r.model, orgId: r.org_id, modelConfig: r.model_config }));
  };
}

/** The same query through the Prisma client. */
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
    const out: RouteRow[] = [];
    for (const row of rows) {
      if (!row.deployment || !row.exposeUrl || !row.deploymentId) continue;
      out.push({
        nodeId: row.id,
        url: row.exposeUrl,
        deploymentId: row.deploymentId,
        model: row.deployment.inferenceModel,
        orgId: row.deployment.orgId,
        modelConfig: row.deployment.model?.configJson,
      });
    }
    return out;
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

  constructor(
    private readonly source: RouteSource,
    private readonly refreshMs: number,
  ) {}

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
    const rows = await this.source();
    const previous = new Map<string, number>();
    for (const list of this.routes.values()) for (const r of list) previous.set(r.nodeId, r.inflight);
    const next = new Map<string, Replica[]>();
    for (const row of rows) {
      const k = key(row.orgId, row.model);
      const list = next.get(k) ?? [];
      list.push({
        url: row.url.replace(/\/$/, ''),
        deploymentId: row.deploymentId,
        nodeId: row.nodeId,
        model: row.model,
        orgId: row.orgId,
        inflight: previous.get(row.nodeId) ?? 0,
        restriction: restrictionOf(row.modelConfig),
      });
      next.set(k, list);
    }
    this.routes = next;
    this.loadedAt = Date.now();
    if (this.loadListeners.length > 0) {
      const urls = new Set<string>();
      for (const list of next.values()) for (const r of list) urls.add(r.url);
      for (const listener of this.loadListeners) listener(urls);
    }
  }

  replicas(orgId: string, model: string): Replica[] {
    return this.routes.get(key(orgId, model)) ?? [];
  }

  models(orgId: string): string[] {
    const out: string[] = [];
    for (const [k, list] of this.routes) if (k.startsWith(`${orgId}\u0000`) && list.length > 0) out.push(list[0]!.model);
    return out.sort();
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
  pick(orgId: string, model: string, exclude: ReadonlySet<string> = new Set()): Replica | undefined {
    let best: Replica[] = [];
    let min = Infinity;
    const candidates = this.replicas(orgId, model).filter((r) => !exclude.has(r.nodeId));
    const closed = candidates.filter((r) => !this.isOpen(r.nodeId));
    const pool = closed.length > 0 ? closed : candidates.sort((a, b) => (this.breakers.get(a.nodeId)?.openUntil ?? 0) - (this.breakers.get(b.nodeId)?.openUntil ?? 0)).slice(0, 1);
    for (const r of pool) {
      if (r.inflight < min) {
        min = r.inflight;
        best = [r];
      } else if (r.inflight === min) best.push(r);
    }
    return best.length ? best[Math.floor(Math.random() * best.length)] : undefined;
  }
}
