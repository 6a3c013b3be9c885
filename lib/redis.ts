// ioredis connections and the channel names the processes use to tell each other that a cache is stale.
import { Redis } from 'ioredis';

export type { Redis };

export const channels = {
  /** A deployment's replicas changed: inference gateways reload their routing table. */
  routes: 'inferia:routes',
  /** An API key or its policy changed: drop cached contexts (message: the key prefix, or `*`). */
  apiKeys: 'inferia:api-keys',
} as const;

/** Recent engine output of a deployment, every replica (a capped Redis Stream). */
export const deploymentLogsKey = (deploymentId: string) => `inferia:logs:${deploymentId}`;
export const DEPLOYMENT_LOG_MAXLEN = 5000;

/** The latest resources a provider reported (written by reconciliation, read by the API). */
export const providerResourcesKey = (provider: string) => `inferia:resources:${provider}`;

/**
 * Commands that need not leave at once — a settlement of tokens, a log entry — wait here and go out
 * with the next command that must (an admission), in the same write when the connection
 * auto-pipelines, or after `maxDelayMs`. Each write to a socket costs a system call on both ends:
 * at one request at a time this saves one of the gateway's four writes per request. Ordering on the
 * connection is kept: whatever was deferred is sent before the command that flushed it.
 */
export class DeferredCommands {
  private queue: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly maxDelayMs = 5) {}

  defer(send: () => void): void {
    this.queue.push(send);
    // One timer at a time, left armed across flushes: it flushes whatever is waiting when it fires.
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.maxDelayMs);
      this.timer.unref();
    }
  }

  /** Sends everything waiting, now (synchronously: it joins the caller's write). */
  flush(): void {
    if (this.queue.length === 0) return;
    const queue = this.queue;
    this.queue = [];
    for (const send of queue) send();
  }

  get pending(): number {
    return this.queue.length;
  }
}

export interface RedisOptions {
  /**
   * Commands issued in the same event-loop turn leave in one write (ioredis auto-pipelining): for
   * a connection that many concurrent requests share, such as the inference gateway's limiter and
   * log writer. Not for a connection that blocks (XREADGROUP BLOCK) or subscribes.
   */
  autoPipelining?: boolean;
}

export function createRedis(url: string, name: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: `inferia-${name}`,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    lazyConnect: false,
    enableAutoPipelining: options.autoPipelining ?? false,
  });
}
