// Calls to model replicas on the hot path: node:http with one keep-alive agent per replica origin
// and the answer handed over as the Node stream it arrives on. Global fetch cost several times
// more CPU per call here (undici behind WHATWG streams, then Readable.fromWeb to relay them).
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface UpstreamCall {
  headers?: Record<string, string>;
  /** The whole exchange, answer body included, must finish within this time. */
  timeoutMs: number;
  /** Aborting ends the call at any point: before the answer, or while its body streams. */
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  ok: boolean;
  headers: IncomingHttpHeaders;
  /** The body as it arrives (async iterable of Buffers); it errors if the call breaks or times out. */
  body: IncomingMessage;
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

/** A reused keep-alive connection the replica had just closed: the request never reached it. */
const staleConnection = (req: ClientRequest, err: NodeJS.ErrnoException) =>
  req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ECONNABORTED');

export interface UpstreamPoolOptions {
  /** Idle keep-alive connections are closed after this long (a replica's hint may shorten it). */
  idleTimeoutMs?: number;
  maxSocketsPerOrigin?: number;
}

interface Target {
  https: boolean;
  hostname: string;
  port: string;
  /** The replica URL's own path, if it has one: calls go to `${origin}${path}`. */
  basePath: string;
  agent: HttpAgent;
}

/** Keep-alive connection pools, one per replica base URL (`http://host:port`). */
export class UpstreamPool {
  private readonly targets = new Map<string, Target>();

  constructor(private readonly options: UpstreamPoolOptions = {}) {}

  /** POSTs `body` to `${origin}${path}`; resolves once the answer's status and headers are in. */
  post(origin: string, path: string, body: string | Buffer, call: UpstreamCall): Promise<UpstreamResponse> {
    return this.send(this.targetFor(origin), path, typeof body === 'string' ? Buffer.from(body) : body, call, true);
  }

  /** Closes the connections of replicas no longer in `live` (base URLs, as passed to `post`). */
  retain(live: Iterable<string>): void {
    const keep = new Set(live);
    for (const [origin, target] of this.targets) {
      if (keep.has(origin)) continue;
      target.agent.destroy();
      this.targets.delete(origin);
    }
  }

  /** Base URLs with a pool (for tests and diagnostics). */
  origins(): string[] {
    return [...this.targets.keys()];
  }

  close(): void {
    for (const target of this.targets.values()) target.agent.destroy();
    this.targets.clear();
  }

  private targetFor(origin: string): Target {
    let target = this.targets.get(origin);
    if (!target) {
      const url = new URL(origin);
      const https = url.protocol === 'https:';
      const options = {
        keepAlive: true,
        keepAliveMsecs: 1000,
        maxSockets: this.options.maxSocketsPerOrigin ?? 256,
        timeout: this.options.idleTimeoutMs ?? 30_000,
        scheduling: 'lifo' as const,
        noDelay: true,
      };
      target = {
        https,
        hostname: url.hostname.replace(/^\[|\]$/g, ''), // an IPv6 literal without its brackets
        port: url.port,
        basePath: url.pathname.replace(/\/$/, ''),
        agent: https ? new HttpsAgent(options) : new HttpAgent(options),
      };
      this.targets.set(origin, target);
    }
    return target;
  }

  private send(target: Target, path: string, body: Buffer, call: UpstreamCall, mayRetryStale: boolean): Promise<UpstreamResponse> {
    const { signal, timeoutMs } = call;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let response: IncomingMessage | undefined;
      let done = false;
      const fail = (err: Error) => {
        if (response) response.destroy(err);
        else req.destroy(err);
      };
      const onAbort = () => fail(abortError(signal!));
      const timer = setTimeout(() => fail(new UpstreamTimeoutError(timeoutMs)), timeoutMs);
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });

      const req = (target.https ? httpsRequest : httpRequest)({
        hostname: target.hostname,
        port: target.port,
        path: `${target.basePath}${path}`,
        method: 'POST',
        agent: target.agent,
        headers: { 'content-type': 'application/json', ...call.headers, 'content-length': body.length },
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (response) return; // the body stream reports it
        finish();
        if (mayRetryStale && staleConnection(req, err)) {
          this.send(target, path, body, call, false).then(resolve, reject);
          return;
        }
        reject(err);
      });
      req.on('response', (res: IncomingMessage) => {
        response = res;
        res.once('end', finish);
        res.once('close', finish);
        const status = res.statusCode ?? 502;
        resolve({
          status,
          ok: status >= 200 && status < 300,
          headers: res.headers,
          body: res,
          text: () => readText(res),
          discard: () => readText(res).then(() => undefined),
        });
      });
      req.end(body);
    });
  }
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    // A body cut short without an error (the replica closed mid-way) must not hang the caller.
    res.once('close', () => {
      if (!res.complete) reject(new Error('upstream closed the connection before the answer was complete'));
    });
  });
}
