// Calls to model replicas on the hot path: one undici Pool (keep-alive connections) per replica
// base URL, and the answer handed over as the Node stream it arrives on. Global fetch cost several
// times more CPU per call here (the same undici underneath, behind WHATWG streams, then
// Readable.fromWeb to relay them); undici's own request API costs about half of node:http's.
import type { Readable } from 'node:stream';
import { Pool } from 'undici';

export interface UpstreamCall {
  headers?: Record<string, string>;
  /** The whole exchange, answer body included, must finish within this time. */
  timeoutMs: number;
  /** Aborting ends the call at any point: before the answer, or while its body streams. */
  signal?: AbortSignal;
}

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

export interface UpstreamResponse {
  status: number;
  ok: boolean;
  /** Lower-case names. */
  headers: UpstreamHeaders;
  /** The body as it arrives (async iterable of Buffers); it errors if the call breaks or times out. */
  body: Readable;
  /** The whole body as a string. */
  text(): Promise<string>;
  /** Reads the body to its end and drops it, so the connection can serve the next call. */
  discard(): Promise<void>;
}

export class UpstreamTimeoutError extends Error {
  constructor(ms: number) {
    super(`upstream did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

const abortError = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });

export interface UpstreamPoolOptions {
  /** Most connections to one replica (default 256). */
  maxSocketsPerOrigin?: number;
}

interface Target {
  pool: Pool;
  /** The replica URL's own path, if it has one: calls go to `${origin}${path}`. */
  basePath: string;
}

/** Keep-alive connection pools, one per replica base URL (`http://host:port`). */
export class UpstreamPool {
  private readonly targets = new Map<string, Target>();

  constructor(private readonly options: UpstreamPoolOptions = {}) {}

  /** POSTs `body` to `${origin}${path}`; resolves once the answer's status and headers are in. */
  post(origin: string, path: string, body: string | Buffer, call: UpstreamCall): Promise<UpstreamResponse> {
    const { signal, timeoutMs } = call;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const target = this.targetFor(origin);
    // One controller ends the call, whichever comes first: the caller's abort or the deadline.
    const ends = new AbortController();
    const onAbort = () => ends.abort(abortError(signal!));
    const timer = setTimeout(() => ends.abort(new UpstreamTimeoutError(timeoutMs)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    return target.pool
      .request({
        path: `${target.basePath}${path}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...call.headers },
        body,
        signal: ends.signal,
      })
      .then(
        (res) => {
          const stream = res.body;
          stream.once('end', finish);
          stream.once('close', finish);
          stream.once('error', finish);
          return {
            status: res.statusCode,
            ok: res.statusCode >= 200 && res.statusCode < 300,
            headers: res.headers,
            body: stream,
            text: () => stream.text(),
            discard: () => stream.dump(),
          };
        },
        (err: unknown) => {
          finish();
          throw err;
        },
      );
  }

  /** Closes the connections of replicas no longer in `live` (base URLs, as passed to `post`). */
  retain(live: Iterable<string>): void {
    const keep = new Set(live);
    for (const [origin, target] of this.targets) {
      if (keep.has(origin)) continue;
      void target.pool.destroy().catch(() => undefined);
      this.targets.delete(origin);
    }
  }

  /** Base URLs with a pool (for tests and diagnostics). */
  origins(): string[] {
    return [...this.targets.keys()];
  }

  close(): void {
    for (const target of this.targets.values()) void target.pool.destroy().catch(() => undefined);
    this.targets.clear();
  }

  private targetFor(origin: string): Target {
    let target = this.targets.get(origin);
    if (!target) {
      const url = new URL(origin);
      target = {
        // Timeouts are the call's (whole exchange), not undici's idle ones.
        pool: new Pool(url.origin, { connections: this.options.maxSocketsPerOrigin ?? 256, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 }),
        basePath: url.pathname.replace(/\/$/, ''),
      };
      this.targets.set(origin, target);
    }
    return target;
  }
}
