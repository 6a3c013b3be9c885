// Calls to model replicas on the hot path: one undici Pool (keep-alive connections) per replica
// base URL, driven through its dispatch API with a handler of our own. Global fetch cost several
// times more CPU per call here (the same undici underneath, behind WHATWG streams, then
// Readable.fromWeb to relay them); undici's request API about half of node:http's; and dispatch,
// which skips request()'s Readable body and its abort-signal plumbing, about half of request()'s
// again (user CPU per call at 32 in flight on loopback: 21.5 → 10 µs).
import type { AbortSignalLike } from './cancellation.js';
import { Pool, type Dispatcher } from 'undici';

export interface UpstreamCall {
  headers?: Record<string, string>;
  /** The whole exchange, answer body included, must finish within this time. */
  timeoutMs: number;
  /** Aborting ends the call at any point: before the answer, or while its body streams. */
  signal?: AbortSignalLike;
}

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

export interface UpstreamResponse {
  status: number;
  ok: boolean;
  /** Lower-case names. */
  headers: UpstreamHeaders;
  /** The body as it arrives (Buffers: what came in together, in one); iterating it errors if the call breaks or times out. Read it once. */
  body: AsyncIterable<Buffer>;
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

const abortError = (signal: AbortSignalLike): Error =>
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

/** Body bytes held for a reader that is behind; past this, the connection is paused until it catches up. */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * One call, as undici's dispatcher reports it: resolves the answer once its status and headers are
 * in, then holds the body for whichever way it is read (as a stream, whole, or dropped). The call
 * ends at the first of: its end, an error, the caller's abort, the deadline.
 */
class Call implements Dispatcher.DispatchHandlers, UpstreamResponse {
  status = 0;
  ok = false;
  headers: UpstreamHeaders = {};
  private abortCall: ((err: Error) => void) | undefined;
  private ended: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private answered = false;
  private complete = false;
  private failure: Error | undefined;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private resumeBody: (() => void) | undefined;
  private paused = false;
  private dropping = false;
  /** Whoever waits for the next chunk or the end. */
  private wake: (() => void) | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (err: Error) => void,
    timeoutMs: number,
    private readonly signal: AbortSignalLike | undefined,
  ) {
    this.timer = setTimeout(() => this.end(new UpstreamTimeoutError(timeoutMs)), timeoutMs);
    if (signal) {
      this.onAbort = () => this.end(abortError(signal));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Ends the call early (abort, deadline): the connection is closed, a reader sees `err`. */
  private end(err: Error) {
    if (this.complete || this.failure) return;
    this.ended = err;
    // undici answers with onError(err). A call still queued for a connection is aborted when it
    // gets one; its caller stops waiting now.
    if (this.abortCall) this.abortCall(err);
    else if (!this.answered) {
      this.settle();
      this.reject(err);
    }
  }

  private settle() {
    clearTimeout(this.timer);
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortCall = abort;
    if (this.ended) abort(this.ended);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    this.status = statusCode;
    this.ok = statusCode >= 200 && statusCode < 300;
    this.resumeBody = resume;
    if (rawHeaders) {
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!.toString().toLowerCase();
        const value = rawHeaders[i + 1]!.toString();
        const seen = this.headers[name];
        this.headers[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
      }
    }
    this.answered = true;
    this.resolve(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.dropping) return true;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.wakeReader();
    if (this.bytes < HIGH_WATER_BYTES) return true;
    this.paused = true; // resumed when the reader takes what is held
    return false;
  }

  onComplete(): void {
    this.complete = true;
    this.settle();
    this.wakeReader();
  }

  onError(err: Error): void {
    this.failure = this.ended ?? err;
    this.settle();
    if (!this.answered) this.reject(this.failure);
    else this.wakeReader();
  }

  private wakeReader() {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private next(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private take(): Buffer[] {
    const chunks = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    if (this.paused) {
      this.paused = false;
      this.resumeBody?.();
    }
    return chunks;
  }

  get body(): AsyncIterable<Buffer> {
    return { [Symbol.asyncIterator]: () => this.read() };
  }

  private async *read(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.chunks.length > 0) {
        // What arrived together leaves together: undici hands over each chunk of a chunked body
        // on its own (an SSE upstream's 20 events in one network read are 20 calls), and the
        // relay's work, its output guard's included, is per piece it is given.
        const chunks = this.take();
        yield chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.complete) return;
      await this.next();
    }
  }

  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    for (;;) {
      // Taking resumes a paused connection, which may hand over more at once: look again before waiting.
      if (this.chunks.length > 0) {
        for (const chunk of this.take()) chunks.push(chunk);
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.complete) break;
      await this.next();
    }
    return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
  }

  async discard(): Promise<void> {
    this.dropping = true;
    for (;;) {
      this.take();
      if (this.failure || this.complete) return;
      await this.next();
    }
  }
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
    return new Promise((resolve, reject) => {
      target.pool.dispatch(
        {
          path: `${target.basePath}${path}`,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...call.headers },
          body,
        },
        new Call(resolve, reject, timeoutMs, signal),
      );
    });
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
