// The upstream every benchmark target ends at: an OpenAI-compatible chat endpoint that answers at
// once. POST /v1/chat/completions returns a fixed chat completion (Content-Length set), or with
// `stream: true` 20 SSE chunks then `data: [DONE]`, without delays; GET /health answers 200.
// Run as its own process (BENCH_PORT) so the load generator does not share its event loop.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

export const MOCK_CHUNKS = 20;

/** A message containing this makes the answer carry PII, to see whether output guardrails act. */
export const OUTPUT_PII_MARKER = 'bench-probe-output-pii';
export const OUTPUT_PII_TEXT = 'You can reach Jane at jane.roe@example.com or +1 415 555 0134.';

const CREATED = 1_700_000_000;
const CONTENT = 'Hamlet, prince of Denmark, avenges his father’s murder by his uncle Claudius; nearly everyone dies.';
const USAGE = { prompt_tokens: 42, completion_tokens: MOCK_CHUNKS, total_tokens: 42 + MOCK_CHUNKS };

function completion(content: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: CREATED,
      model: 'bench-mock',
      choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
      usage: USAGE,
    }),
  );
}

/** 20 content chunks (the words spread over them), optionally a usage chunk, then [DONE]. */
function stream(content: string, includeUsage: boolean): Buffer[] {
  const words = content.split(' ');
  const per = Math.ceil(words.length / MOCK_CHUNKS);
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    Buffer.from(
      `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'bench-mock', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`,
    );
  const out: Buffer[] = [];
  for (let i = 0; i < MOCK_CHUNKS; i++) {
    const piece = words.slice(i * per, (i + 1) * per).join(' ');
    const text = i === 0 ? piece : piece ? ` ${piece}` : '';
    out.push(chunk(i === 0 ? { role: 'assistant', content: text } : { content: text }, i === MOCK_CHUNKS - 1 ? 'stop' : null));
  }
  if (includeUsage) {
    out.push(Buffer.from(`data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'bench-mock', choices: [], usage: USAGE })}\n\n`));
  }
  out.push(Buffer.from('data: [DONE]\n\n'));
  return out;
}

const ANSWERS = {
  json: completion(CONTENT),
  stream: stream(CONTENT, false),
  streamWithUsage: stream(CONTENT, true),
  piiJson: completion(OUTPUT_PII_TEXT),
  piiStream: stream(OUTPUT_PII_TEXT, true),
};

interface ChatRequest {
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  messages?: { content?: unknown }[];
}

function answer(res: ServerResponse, body: ChatRequest) {
  const last = body.messages?.at(-1)?.content;
  const pii = typeof last === 'string' && last.includes(OUTPUT_PII_MARKER);
  if (body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const chunks = pii ? ANSWERS.piiStream : body.stream_options?.include_usage ? ANSWERS.streamWithUsage : ANSWERS.stream;
    for (const c of chunks) res.write(c);
    res.end();
    return;
  }
  const json = pii ? ANSWERS.piiJson : ANSWERS.json;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length });
  res.end(json);
}

export interface MockUpstream {
  server: Server;
  /** The body of the last chat request received (what a gateway forwarded). */
  lastRequest(): string;
}

export function createMockUpstream(): MockUpstream {
  let last = '';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 15 });
      res.end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && req.url === '/bench/last-request') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(last || '{}');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      last = Buffer.concat(parts).toString('utf8');
      let body: ChatRequest;
      try {
        body = JSON.parse(last) as ChatRequest;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"invalid JSON","type":"invalid_request_error","param":null,"code":null}}');
        return;
      }
      answer(res, body);
    });
  });
  // Longer than any client's idle timeout, so pooled connections are never closed under them.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return { server, lastRequest: () => last };
}

export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.BENCH_PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('BENCH_PORT must be a port number');
  const { server } = createMockUpstream();
  await listen(server, port);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => server.close(() => process.exit(0)).closeAllConnections());
}
