// One batch line's request against a local HTTP server: what is retried (429, 5xx, no
// connection), what is not (4xx), retry-after honoured up to the cap, and cancellation.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../tests/helpers/env.js';
import { sendWithRetry, type SendOptions } from './batch.activities.js';

type Answer = { status: number; headers?: Record<string, string>; body?: string };

let server: Server;
let url: string;
let script: Answer[] = [];
const seen: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      const answer = script.shift() ?? { status: 200 };
      res.writeHead(answer.status, { 'content-type': 'application/json', 'x-request-id': `req_${seen.length}`, ...answer.headers });
      res.end(answer.body ?? JSON.stringify({ ok: answer.status }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const options = (over: Partial<SendOptions> = {}): SendOptions => ({
  url,
  headers: { authorization: 'Bearer service', 'x-inferia-on-behalf-of': 'key-id' },
  body: { model: 'm', messages: [] },
  timeoutMs: 5000,
  maxAttempts: 4,
  retryBaseMs: 10,
  retryMaxMs: 300,
  ...over,
});

function reset(answers: Answer[]) {
  script = answers;
  seen.length = 0;
}

describe('sendWithRetry', () => {
  it('retries a 429 and a 5xx, then returns the answer with its request id', async () => {
    reset([{ status: 429 }, { status: 503 }, { status: 200, body: '{"object":"chat.completion"}' }]);
    const out = await sendWithRetry(options());
    expect(out).toEqual({ kind: 'response', status: 200, requestId: 'req_3', body: '{"object":"chat.completion"}', attempts: 3 });
    expect(seen).toHaveLength(3);
    expect(seen[0]!.headers).toMatchObject({ authorization: 'Bearer service', 'x-inferia-on-behalf-of': 'key-id', 'content-type': 'application/json' });
    expect(JSON.parse(seen[0]!.body)).toEqual({ model: 'm', messages: [] });
  });

  it('does not retry a client error', async () => {
    reset([{ status: 404, body: '{"error":{"code":"model_not_found"}}' }]);
    const out = await sendWithRetry(options());
    expect(out).toMatchObject({ kind: 'response', status: 404, attempts: 1 });
    expect(seen).toHaveLength(1);
  });

  it('gives up after the last attempt and returns the last answer', async () => {
    reset([{ status: 500 }, { status: 500 }, { status: 502 }, { status: 200 }]);
    const out = await sendWithRetry(options({ maxAttempts: 3 }));
    expect(out).toMatchObject({ kind: 'response', status: 502, attempts: 3 });
    expect(seen).toHaveLength(3);
  });

  it('waits for retry-after, but no longer than the cap', async () => {
    reset([{ status: 429, headers: { 'retry-after': '30' } }, { status: 200 }]);
    const started = Date.now();
    const out = await sendWithRetry(options({ retryMaxMs: 400 }));
    const waited = Date.now() - started;
    expect(out).toMatchObject({ status: 200, attempts: 2 });
    expect(waited).toBeGreaterThanOrEqual(380);
    expect(waited).toBeLessThan(2000);
  });

  it('reports an unreachable gateway after its attempts', async () => {
    const port = await freePort();
    const out = await sendWithRetry(options({ url: `http://127.0.0.1:${port}/v1/chat/completions`, maxAttempts: 2 }));
    expect(out).toMatchObject({ kind: 'unreachable', attempts: 2 });
  });

  it('stops at once when cancelled, even while backing off', async () => {
    reset([{ status: 503 }, { status: 503 }]);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('cancelled')), 100);
    const started = Date.now();
    await expect(sendWithRetry(options({ retryBaseMs: 5000, retryMaxMs: 5000, signal: abort.signal }))).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
