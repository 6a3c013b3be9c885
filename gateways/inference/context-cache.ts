// API key → context, resolved by the filtration gateway's /internal/context and cached in
// process so the hot path makes no call per request in the steady state. Entries expire after a
// TTL and are dropped at once when the filtration gateway announces a change over Redis.
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { request, type Dispatcher } from 'undici';
import type { ApiKeyContext } from '../../lib/api-key-context.js';
import { constantTimeEqual } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import { channels } from '../../lib/redis.js';

export type KeyContext = ApiKeyContext;

interface Entry {
  context: KeyContext | null;
  expiresAt: number;
}

export interface ContextCacheOptions {
  filtrationUrl: string;
  serviceToken: string;
  ttlMs: number;
  /** How long an invalid key is remembered, so a flood of bad keys does not reach the filtration gateway. */
  negativeTtlMs?: number;
  maxEntries?: number;
}

type ContextQuery = { api_key: string } | { api_key_id: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ContextCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<KeyContext | null>>();

  constructor(private readonly opts: ContextCacheOptions) {}

  /**
   * Listens for invalidations: a key prefix, or `*` for everything. A notice published while the
   * subscription was down is lost, so when it comes back (the connection is ready again) every entry
   * is dropped, once Redis has confirmed the subscription: whatever was cached before may have been
   * revoked meanwhile, and anything fetched after that confirmation hears of the next change.
   */
  async subscribe(subscriber: Redis): Promise<void> {
    await subscriber.subscribe(channels.apiKeys);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== channels.apiKeys) return;
      if (message === '*') this.entries.clear();
      else for (const [k, e] of this.entries) if (e.context?.key_prefix === message || k === message) this.entries.delete(k);
    });
    subscriber.on('ready', () => {
      this.entries.clear();
      // ioredis resubscribes on its own; subscribing again is harmless and answers once it is in effect.
      subscriber.subscribe(channels.apiKeys).then(
        () => this.entries.clear(),
        () => this.entries.clear(),
      );
    });
  }

  /** Cached keys (tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  async resolve(apiKey: string): Promise<KeyContext> {
    return this.lookup(hash('sha256', apiKey, 'base64url'), { api_key: apiKey });
  }

  /**
   * The context of a key that is cached and fresh, at once (the steady state of the hot path needs
   * no promise); undefined when it has to be resolved. Throws as `resolve` does for a key known bad.
   */
  cached(apiKey: string): KeyContext | undefined {
    const hit = this.entries.get(hash('sha256', apiKey, 'base64url'));
    return hit && hit.expiresAt > Date.now() ? usable(hit.context) : undefined;
  }

  /** The context of a key by its id (a service acting for the key, which never holds it). */
  async resolveByKeyId(apiKeyId: string): Promise<KeyContext> {
    if (!UUID.test(apiKeyId)) throw new AppError('unauthorized', 'Incorrect API key provided.');
    return this.lookup(`id:${apiKeyId.toLowerCase()}`, { api_key_id: apiKeyId });
  }

  /** `token` must be the internal service token (compared in constant time); then acts as `apiKeyId`. */
  async resolveOnBehalfOf(token: string | undefined, apiKeyId: string): Promise<KeyContext> {
    if (!token || !constantTimeEqual(token, this.opts.serviceToken)) throw new AppError('unauthorized', 'Incorrect API key provided.');
    return this.resolveByKeyId(apiKeyId);
  }

  private async lookup(id: string, query: ContextQuery): Promise<KeyContext> {
    const now = Date.now();
    const hit = this.entries.get(id);
    let context: KeyContext | null;
    if (hit && hit.expiresAt > now) {
      context = hit.context;
    } else {
      let pending = this.inflight.get(id);
      if (!pending) {
        pending = this.fetchContext(query).finally(() => this.inflight.delete(id));
        this.inflight.set(id, pending);
      }
      context = await pending;
      if (this.entries.size >= (this.opts.maxEntries ?? 100_000)) this.entries.clear();
      this.entries.set(id, { context, expiresAt: now + (context ? this.opts.ttlMs : (this.opts.negativeTtlMs ?? 2000)) });
    }
    return usable(context);
  }

  private async fetchContext(query: ContextQuery): Promise<KeyContext | null> {
    // undici, which the upstream pool loads anyway, rather than global fetch and its own copy of it.
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.opts.filtrationUrl}/internal/context`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.serviceToken}` },
        body: JSON.stringify(query),
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      throw new AppError('unavailable', 'policy service unreachable');
    }
    if (res.statusCode === 401 || res.statusCode === 400) {
      await res.body.dump();
      return null;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw new AppError('unavailable', 'policy service error');
    }
    return (await res.body.json()) as KeyContext;
  }
}

/** A context that may serve: none (an unknown or revoked key) and an expired key are refused. */
function usable(context: KeyContext | null): KeyContext {
  if (!context) throw new AppError('unauthorized', 'Incorrect API key provided.');
  if (context.expires_at && Date.parse(context.expires_at) <= Date.now()) throw new AppError('unauthorized', 'API key has expired.');
  return context;
}
