// ioredis connections and the channel names the processes use to tell each other that a cache is stale.
import { Command, Redis, type ChainableCommander, type RedisOptions } from 'ioredis';

export type { ChainableCommander, Redis };

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
  private queue: ((via?: ChainableCommander) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly maxDelayMs = 5) {}

  /**
   * `send` issues its commands on `via` when a flush hands it a pipeline (the one the urgent
   * command goes out in), else on the connection.
   */
  defer(send: (via?: ChainableCommander) => void): void {
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

  /** Sends everything waiting, now: into `via` (a pipeline the caller executes), or on the connection. */
  flush(via?: ChainableCommander): void {
    if (this.queue.length === 0) return;
    const queue = this.queue;
    this.queue = [];
    for (const send of queue) send(via);
  }

  get pending(): number {
    return this.queue.length;
  }
}

/**
 * Issues a command (a built-in or one from `defineCommand`) on a connection, or on a pipeline that
 * its owner executes, and resolves with its answer: a connection's call returns it, a pipeline
 * gives it to a callback.
 */
export function commandOn(target: Redis | ChainableCommander, name: string, ...args: unknown[]): Promise<unknown> {
  const command = (target as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
  if (typeof command !== 'function') return Promise.reject(new Error(`no Redis command ${name}`));
  if (!(target as { isPipeline?: boolean }).isPipeline) return command.call(target, ...args) as Promise<unknown>;
  return new Promise((resolve, reject) => {
    command.call(target, ...args, (err: Error | null, out?: unknown) => (err ? reject(err) : resolve(out)));
  });
}

/** How long a command may wait for its answer, queued while reconnecting included, before it fails. */
export const REDIS_COMMAND_TIMEOUT_MS = 2000;

export class RedisTimeoutError extends Error {
  override name = 'RedisTimeoutError';
}

/** Redis could not be reached for this command (timed out, gave up reconnecting, connection gone). */
export function isRedisUnavailable(err: unknown): boolean {
  const e = err as Error | undefined;
  return (
    e instanceof RedisTimeoutError ||
    e?.name === 'MaxRetriesPerRequestError' ||
    e?.message === 'Connection is closed.' ||
    e?.message === 'Command aborted due to connection close'
  );
}

/**
 * Every command fails after a bounded time, so a caller (a request on the hot path) never waits on a
 * Redis that is gone or frozen: ioredis alone keeps a command queued across reconnect attempts for
 * seconds, and waits forever for an answer on a connection that stays open. Blocking reads
 * (XREAD/XREADGROUP … BLOCK) wait as long as they asked, plus ioredis's own safety margin. A command
 * that has timed out is not sent when the connection comes back: its caller has already acted on the
 * failure (answered 503, buffered the entry), so replaying it would count or write it twice.
 */
class BoundedRedis extends Redis {
  private readonly armed = new WeakSet<Command>();
  private readonly abandoned = new WeakSet<Command>();

  constructor(
    url: string,
    options: RedisOptions,
    private readonly commandTimeoutMs: number,
  ) {
    super(url, options);
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    if (this.abandoned.has(command)) return command.promise;
    if (!this.armed.has(command) && !blocks(command)) {
      this.armed.add(command);
      const timer = setTimeout(() => {
        this.abandoned.add(command);
        command.reject(new RedisTimeoutError(`Redis command ${command.name.toUpperCase()} timed out after ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      const clear = () => clearTimeout(timer);
      (command.promise as Promise<unknown>).then(clear, clear);
    }
    return super.sendCommand(command, stream);
  }
}

/** BLPOP and its kind always block; XREAD and XREADGROUP only with a BLOCK argument. */
function blocks(command: Command): boolean {
  if (!Command.checkFlag('BLOCKING_COMMANDS', command.name)) return false;
  if (!/^xread/i.test(command.name)) return true;
  return command.args.some((a) => typeof a === 'string' && a.toUpperCase() === 'BLOCK');
}

export interface CreateRedisOptions {
  /** How long a command may wait for its answer; REDIS_COMMAND_TIMEOUT_MS unless set. */
  commandTimeoutMs?: number;
  /**
   * Commands issued in the same event-loop turn leave in one write (ioredis auto-pipelining): for
   * a connection that many concurrent requests share, such as the inference gateway's limiter and
   * log writer. Not for a connection that blocks (XREADGROUP BLOCK) or subscribes.
   */
  autoPipelining?: boolean;
}

export function createRedis(url: string, name: string, options: CreateRedisOptions = {}): Redis {
  return new BoundedRedis(
    url,
    {
      connectionName: `inferia-${name}`,
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      lazyConnect: false,
      enableAutoPipelining: options.autoPipelining ?? false,
      // A blocking read with no answer by BLOCK + grace resolves as "nothing new" (a frozen server).
      blockingTimeout: 60_000,
      blockingTimeoutGrace: 5_000,
    },
    options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
  );
}
