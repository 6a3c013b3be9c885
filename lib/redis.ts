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
