// Bad input against every HTTP gateway, built with the server options its main.ts uses (so the body
// limits are the real ones): an oversized body is refused with 413 while it is still arriving and is
// never buffered whole; JSON nested 100 000 levels deep and a megabytes-long value in a short field
// get a fast 400 naming the field; memory stays flat. Bounds are generous: what they catch is a
// body buffered whole (tens of MB) or a parse that runs away, not a slow machine.
import { request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filtrationApp } from '../../gateways/filtration/app.js';
import { createFiltrationServices } from '../../gateways/filtration/services.js';
import { inferenceApp, newRequestId } from '../../gateways/inference/app.js';
import type { ContextCache, KeyContext } from '../../gateways/inference/context-cache.js';
import type { RoutingTable } from '../../gateways/inference/routing-table.js';
import { orchestrationApp } from '../../gateways/orchestration/app.js';
import { createOrchestrationGrpcServer, listen, loadOrchestrationProto } from '../../gateways/orchestration/grpc.js';
import { OrchestrationService } from '../../gateways/orchestration/service.js';
import type { Config } from '../../lib/config.js';
import { generateApiKey } from '../../lib/crypto.js';
import { signAccessToken } from '../../lib/http/auth.js';
import { serverOptions } from '../../lib/http/server-options.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { sidecarApp } from '../../sidecar/app.js';
import type { DepinProvider } from '../../sidecar/providers/types.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

type Gateway = 'filtration' | 'orchestration' | 'inference' | 'sidecar';
const MB = 1024 * 1024;

let config: Config;
let services: ReturnType<typeof connect>;
let temporal: Awaited<ReturnType<typeof createTemporalClient>>;
const apps: FastifyInstance[] = [];
let grpcServer: grpc.Server;
let grpcAddress: string;
const base = {} as Record<Gateway, string>;
const apiKey = generateApiKey('unused').key;
let adminToken: string;
/** A real org for the routes that get as far as the database. */
let org: DemoCredentials;
let ownerToken: string;

/**
 * One route per gateway that reads a JSON body, its credential, a valid body, its short string
 * field, and where it takes any JSON (`"@"` marks the spot): what deep nesting would reach.
 */
const target = (g: Gateway) =>
  ({
    filtration: { path: '/management/guardrails', token: adminToken, body: { name: 'g', config: { rules: [{ type: 'pii', options: '@' }] } }, short: 'name', loose: 'config.rules.0.options' },
    orchestration: { path: '/deployment/registerModel', token: adminToken, body: { model_name: 'm', backend: 'mock', artifact_uri: 'x', config_json: '@' }, short: 'model_name', loose: 'config_json' },
    inference: { path: '/v1/chat/completions', token: apiKey, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], metadata: '@' }, short: 'model', loose: 'metadata' },
    sidecar: {
      path: '/nosana/jobs',
      token: config.secrets.internalServiceToken,
      body: { instance_id: 'i', model: 'm', engine: 'mock', artifact_uri: 'x', gpu_per_replica: 0, configuration: '@', heartbeat: { url: 'http://127.0.0.1:9/', token: 't', interval_ms: 1000 } },
      short: 'instance_id',
      loose: 'configuration',
    },
  })[g];
const BODY_LIMIT: Record<Gateway, number> = { filtration: 1 * MB, orchestration: 1 * MB, inference: 8 * MB, sidecar: 1 * MB };
const GATEWAYS: Gateway[] = ['filtration', 'orchestration', 'inference', 'sidecar'];
/** The inference gateway's upload limit here (`POST /v1/files` reads multipart, past the JSON body limit). */
const MAX_FILE_BYTES = 2 * MB;

interface Answer {
  status: number;
  body: string;
  /** Bytes of the body written when the answer arrived. */
  sentWhenAnswered: number;
  ms: number;
  /** Peak resident memory above the start, while the request ran. */
  rssGrowth: number;
}

/**
 * POSTs a JSON body: a prefix, then `padding` bytes of spaces written 64 KiB at a time with a pause
 * between chunks (a slow client), then a suffix, stopping as soon as the server answers.
 */
function send(
  g: Gateway,
  opts: {
    token?: string;
    prefix: string;
    padding?: number;
    suffix?: string;
    declareLength?: boolean;
    pauseMs?: number;
    holdMs?: number;
    /** Another route than the gateway's target, and its content type (JSON by default). */
    path?: string;
    contentType?: string;
  },
): Promise<Answer> {
  const { prefix, padding = 0, suffix = '' } = opts;
  const total = Buffer.byteLength(prefix) + padding + Buffer.byteLength(suffix);
  const url = new URL(`${base[g]}${opts.path ?? target(g).path}`);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  return new Promise<Answer>((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        'content-type': opts.contentType ?? 'application/json',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.declareLength === false ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(total) }),
      },
    });
    let sent = 0;
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const sentWhenAnswered = sent;
      const ms = performance.now() - started;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        clearInterval(sampler);
        req.destroy();
        const out = { status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), sentWhenAnswered, ms, rssGrowth: Math.max(peak, process.memoryUsage().rss) - rss0 };
        if (process.env.DEBUG_BAD_INPUT) console.log(g, JSON.stringify({ ...out, body: out.body.slice(0, 300) }));
        resolve(out);
      });
    });
    req.on('error', (err) => {
      // The server may drop the connection after answering while we still write: that is fine.
      if (!answered) {
        clearInterval(sampler);
        reject(err);
      }
    });
    const write = (data: Buffer | string, next: () => void) => {
      if (answered || req.destroyed) return;
      sent += Buffer.byteLength(data);
      if (req.write(data)) setTimeout(next, opts.pauseMs ?? 0);
      else req.once('drain', () => setTimeout(next, opts.pauseMs ?? 0));
    };
    let left = padding;
    const pump = () => {
      if (answered || req.destroyed) return;
      if (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        write(n === chunk.length ? chunk : chunk.subarray(0, n), pump);
        return;
      }
      if (suffix) write(suffix, () => req.end());
      else req.end();
    };
    // `holdMs`: after the prefix, wait that long for an answer that needs none of the rest.
    write(prefix, () => setTimeout(pump, opts.holdMs ?? 0));
  });
}

/** The gateway's valid body, with `field` (or the loose spot) written as a raw JSON fragment. */
function spoil(g: Gateway, fragment: string, field?: string): string {
  const body = structuredClone(target(g).body) as Record<string, unknown>;
  if (field) body[field] = '#';
  return JSON.stringify(body).replace(field ? '"#"' : '"@"', fragment).replace('"@"', '{}');
}

beforeAll(async () => {
  config = testConfig({ LOG_LEVEL: 'error' });
  services = connect(config, 'bad-input');
  temporal = await createTemporalClient(config);
  adminToken = signAccessToken(config, { sub: '00000000-0000-4000-8000-000000000001', org: '00000000-0000-4000-8000-000000000002', role: 'owner' });
  const slug = uniq('bad-input');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  ownerToken = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
  const start = async (g: Gateway, app: FastifyInstance) => {
    apps.push(app);
    base[g] = await app.listen({ port: 0, host: '127.0.0.1' });
  };

  const filtration = Fastify(serverOptions('filtration', config));
  await filtration.register(filtrationApp, createFiltrationServices({ db: services.db, redis: services.redis, config }));
  await start('filtration', filtration);

  const orchestration = Fastify(serverOptions('orchestration', config));
  const service = new OrchestrationService({ db: services.db, temporal, redis: services.redis, config });
  await orchestration.register(orchestrationApp, { config, service });
  await start('orchestration', orchestration);
  grpcServer = createOrchestrationGrpcServer({ config, service });
  grpcAddress = `127.0.0.1:${await listen(grpcServer, '127.0.0.1', 0)}`;

  // The inference gateway as main.ts builds it; nothing here gets past validation, so key contexts
  // and routing are stand-ins.
  const context = { org_id: org.org_id, api_key_id: 'key', allowed_models: [], guardrails: [] } as unknown as KeyContext;
  const inference = Fastify(serverOptions('inference', config, { bodyLimit: 8 * MB, genReqId: newRequestId }));
  await inference.register(inferenceApp, {
    contexts: { resolve: async () => context, cached: () => undefined } as unknown as ContextCache,
    routes: { replicas: () => [], pick: () => undefined, models: () => [] } as unknown as RoutingTable,
    upstreamTimeoutMs: 1000,
    filesBatches: { db: services.db, temporal: async () => temporal, taskQueue: uniq('bad-input'), maxFileBytes: MAX_FILE_BYTES, concurrency: 1, chunkSize: 1 },
  });
  await start('inference', inference);

  const never = async (): Promise<never> => {
    throw new Error('not reached: the body is refused first');
  };
  const provider = (network: 'nosana' | 'akash'): DepinProvider => ({
    network,
    mode: 'simulation',
    createJob: never,
    getJob: never,
    stopJob: never,
    jobLogs: never,
    listJobs: never,
    resources: never,
  });
  const sidecar = Fastify(serverOptions('sidecar', config));
  await sidecar.register(sidecarApp, { config, nosana: provider('nosana'), akash: provider('akash') });
  await start('sidecar', sidecar);
}, 60_000);

afterAll(async () => {
  grpcServer?.forceShutdown();
  for (const app of apps) await app.close();
  await temporal?.connection.close();
  await services?.close();
});

describe.each(GATEWAYS)('%s gateway', (g) => {
  it('answers 413 to a 50 MB body as soon as it is announced, before it is sent', async () => {
    const t = target(g);
    const a = await send(g, { token: t.token, prefix: '{"x":"', padding: 50 * MB, suffix: '"}', pauseMs: 5, holdMs: 10_000 });
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body).error.code).toBe('payload_too_large');
    expect(a.sentWhenAnswered).toBe(6); // the prefix: nothing more was needed
    expect(a.rssGrowth).toBeLessThan(48 * MB);
  });

  it('answers 413 to a 50 MB body streamed slowly without a length, once past the limit, without buffering it', async () => {
    const t = target(g);
    const a = await send(g, { token: t.token, prefix: '{"x":"', padding: 50 * MB, suffix: '"}', declareLength: false, pauseMs: 2 });
    expect(a.status).toBe(413);
    expect(a.sentWhenAnswered).toBeGreaterThan(BODY_LIMIT[g] - 128 * 1024);
    expect(a.sentWhenAnswered).toBeLessThan(BODY_LIMIT[g] + 16 * MB); // the limit, plus what socket buffers hold
    expect(a.rssGrowth).toBeLessThan(BODY_LIMIT[g] * 3 + 48 * MB);
  });

  it('answers 400 naming the field to JSON nested 100 000 levels deep, fast', async () => {
    const t = target(g);
    const depth = 100_000;
    const a = await send(g, { token: t.token, prefix: spoil(g, '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) });
    expect(a.status).toBe(400);
    const message = (JSON.parse(a.body) as { error: { message: string } }).error.message;
    expect(message.startsWith(`body.${t.loose}.a`)).toBe(true);
    expect(message).toContain('nested more than 64 levels deep');
    expect(a.ms).toBeLessThan(10_000);
    expect(a.rssGrowth).toBeLessThan(64 * MB);
  });

  it('answers 400 naming the field to a value megabytes long in a short field, fast', async () => {
    const t = target(g);
    const length = BODY_LIMIT[g] - 64 * 1024;
    const a = await send(g, { token: t.token, prefix: spoil(g, `"${'a'.repeat(length)}"`, t.short) });
    expect(a.status).toBe(400);
    const error = JSON.parse(a.body).error as { message: string; param?: string };
    if (g === 'inference') expect(error.param).toBe(t.short);
    else expect(error.message).toMatch(new RegExp(`^body\\.${t.short}: `));
    expect(error.message.length).toBeLessThan(1000); // the value is not echoed back
    expect(a.ms).toBeLessThan(10_000);
    expect(a.rssGrowth).toBeLessThan(BODY_LIMIT[g] * 4 + 48 * MB);
  });
});

describe('file uploads (multipart, past the JSON body limit)', () => {
  const boundary = 'inferia-bad-input';
  const prefix = `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.jsonl"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const suffix = `\r\n--${boundary}--\r\n`;
  const upload = (opts: { padding: number; declareLength?: boolean; holdMs?: number; pauseMs?: number }) =>
    send('inference', { token: apiKey, path: '/v1/files', contentType: `multipart/form-data; boundary=${boundary}`, prefix, suffix, ...opts });
  const files = () => services.db.file.count({ where: { orgId: org.org_id } });

  it('a 50 MB file announced by its length is answered 413 before it is sent, and nothing is stored', async () => {
    const before = await files();
    const a = await upload({ padding: 50 * MB, holdMs: 10_000, pauseMs: 5 });
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body).error).toMatchObject({ param: 'file', code: 'file_too_large' });
    expect(a.sentWhenAnswered).toBe(Buffer.byteLength(prefix));
    expect(a.rssGrowth).toBeLessThan(48 * MB);
    expect(await files()).toBe(before);
  });

  it('a 50 MB file streamed without a length is answered 413 once past the limit, without buffering it, and nothing is stored', async () => {
    const before = await files();
    const a = await upload({ padding: 50 * MB, declareLength: false, pauseMs: 2 });
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body).error).toMatchObject({ param: 'file', code: 'file_too_large' });
    expect(a.sentWhenAnswered).toBeGreaterThan(MAX_FILE_BYTES - 128 * 1024);
    expect(a.sentWhenAnswered).toBeLessThan(MAX_FILE_BYTES + 16 * MB);
    expect(a.rssGrowth).toBeLessThan(MAX_FILE_BYTES * 3 + 48 * MB);
    expect(await files()).toBe(before);
  });
});

describe('very long URLs, query strings and headers', () => {
  /** A GET route of each gateway with a path parameter and one with a query string, and its credential. */
  const routes = (g: Gateway) =>
    ({
      filtration: { param: '/management/providers/', query: '/audit/logs?action=', token: ownerToken },
      orchestration: { param: '/deployment/listPools/', query: '/deployment/listPools/x?', token: ownerToken },
      inference: { param: '/v1/models/', query: '/v1/batches?after=', token: apiKey },
      sidecar: { param: '/nosana/jobs/', query: '/nosana/jobs/x/logs?tail=', token: config.secrets.internalServiceToken },
    })[g];
  const get = async (g: Gateway, path: string, headers: Record<string, string> = {}) => {
    const started = performance.now();
    const res = await fetch(`${base[g]}${path}`, { headers: { authorization: `Bearer ${routes(g).token}`, ...headers } });
    const body = await res.text();
    return { status: res.status, body, ms: performance.now() - started };
  };

  it.each(GATEWAYS)('%s: a path parameter of 5 000 characters is 414, a query value of 12 000 is 400 or answered, a 100 KB header is 431: never a 5xx', async (g) => {
    const r = routes(g);
    const longParam = await get(g, `${r.param}${'p'.repeat(5000)}`);
    expect(longParam.status).toBe(414);
    const longQuery = await get(g, `${r.query}${'q'.repeat(12_000)}`);
    expect(longQuery.status).toBeLessThan(500);
    expect(longQuery.body.length).toBeLessThan(4000); // the value is not echoed back whole
    const longHeader = await get(g, '/healthz', { 'x-long': 'h'.repeat(100 * 1024) });
    expect(longHeader.status).toBe(431);
    for (const a of [longParam, longQuery, longHeader]) expect(a.ms).toBeLessThan(10_000);
  });
});

describe('who is asking comes first', () => {
  it('orchestration answers 401 to a caller without a token before reading its body', async () => {
    const a = await send('orchestration', { prefix: '{"x":"', padding: 900 * 1024, suffix: '"}', holdMs: 10_000 });
    expect(a.status).toBe(401);
    expect(a.sentWhenAnswered).toBe(6);
  });

  it('filtration refuses the service token on routes for signed-in users (403), before reading the body', async () => {
    const res = await fetch(`${base.filtration}/auth/password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.secrets.internalServiceToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('a user token is required');
  });
});

describe('values at the edges of their types (each answered 500 before, or was refused only by Postgres)', () => {
  const call = async (g: Gateway, method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base[g]}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error?: { message: string; details?: { field?: string } } } };
  };

  it('an API key expiring past the year 9999 is refused naming expires_at, and no key is made', async () => {
    const keys = await services.db.apiKey.count({ where: { orgId: org.org_id } });
    // 9999-12-31T23:59:59-23:59 is in the year 10000 in UTC: stored, then unreadable (the key was made, the answer was 500).
    const r = await call('filtration', 'POST', '/management/api-keys', ownerToken, { name: 'late', expires_at: '9999-12-31T23:59:59-23:59' });
    expect(r.status).toBe(400);
    expect(r.body.error?.details?.field).toBe('body.expires_at');
    expect(await services.db.apiKey.count({ where: { orgId: org.org_id } })).toBe(keys);
    expect(await services.db.auditLog.count({ where: { orgId: org.org_id, action: 'api_key.create' } })).toBe(0);
  });

  it('an audit filter in the year 0 is refused naming the parameter (Postgres has no year 0)', async () => {
    const r = await call('filtration', 'GET', '/audit/logs?from=0000-01-01T00:00:00Z', ownerToken);
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/^querystring\.from: /);
    expect((await call('filtration', 'GET', '/audit/logs?from=2020-01-01T00:00:00%2B14:00', ownerToken)).status).toBe(200);
  });

  it('ingested logs with counts past a Postgres integer, or dated in the year 0, are refused naming the field', async () => {
    const entry = { request_id: uniq('req'), org_id: org.org_id, model: 'm', status_code: 200 };
    const big = await call('filtration', 'POST', '/internal/logs', config.secrets.internalServiceToken, { logs: [{ ...entry, prompt_tokens: 2 ** 40 }] });
    expect(big.status).toBe(400);
    expect(big.body.error?.message).toMatch(/^body\.logs\.0\.prompt_tokens: /);
    const early = await call('filtration', 'POST', '/internal/logs', config.secrets.internalServiceToken, { logs: [{ ...entry, created_at: '0000-01-01T00:00:00Z' }] });
    expect(early.status).toBe(400);
    expect(early.body.error?.message).toMatch(/^body\.logs\.0\.created_at: /);
    const ok = await call('filtration', 'POST', '/internal/logs', config.secrets.internalServiceToken, { logs: [{ ...entry, prompt_tokens: 2_147_483_647 }] });
    expect(ok.status).toBe(200);
  });

  it('a path parameter as long as its schema allows is routed (it answered 414 past 100 characters)', async () => {
    const r = await call('orchestration', 'GET', `/deployment/listPools/${'x'.repeat(200)}`, ownerToken);
    expect(r.status).toBe(200);
  });
});

describe('the same checks where JSON arrives as text', () => {
  // A pool's scheduling policy may come as a string holding JSON (seed 001): within its 10 000
  // characters it can nest ~5 000 levels, which Prisma's serializer did not survive.
  const deepPolicy = `{"a":${'['.repeat(4990)}${']'.repeat(4990)}}`;

  it('a scheduling policy string nested thousands of levels deep is refused naming the field', async () => {
    const pools = await services.db.computePool.count({ where: { orgId: org.org_id } });
    const res = await fetch(`${base.orchestration}/deployment/createpool`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pool_name: 'deep', provider: 'local', scheduling_policy_json: deepPolicy }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^body\.scheduling_policy_json: a\.0\.0\.0\.0\.0 is nested more than 64 levels deep/);
    expect(await services.db.computePool.count({ where: { orgId: org.org_id } })).toBe(pools);
  });

  it('over gRPC too: NUL characters and deep JSON text are INVALID_ARGUMENT naming the field, not INTERNAL', async () => {
    type Unary = (req: object, meta: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void) => void;
    const pkg = grpc.loadPackageDefinition(loadOrchestrationProto()) as unknown as {
      inferia: { orchestration: { v1: Record<string, new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, Unary>> } };
    };
    const models = new pkg.inferia.orchestration.v1.ModelRegistryService!(grpcAddress, grpc.credentials.createInsecure());
    const pools = new pkg.inferia.orchestration.v1.ComputePoolManagerService!(grpcAddress, grpc.credentials.createInsecure());
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${ownerToken}`);
    const call = (client: grpc.Client & Record<string, Unary>, method: string, req: object) =>
      new Promise<grpc.ServiceError | null>((resolve) => client[method]!.call(client, req, meta, (err) => resolve(err)));
    try {
      const nul = await call(models, 'RegisterModel', { model_name: 'ok', backend: 'mock', artifact_uri: 'a\u0000b' });
      expect(nul).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'artifact_uri: must not contain NUL (\\u0000) characters' });
      const deep = await call(models, 'RegisterModel', { model_name: 'ok', backend: 'mock', artifact_uri: 'x', config_json: `{"a":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}` });
      expect(deep?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(deep?.details).toMatch(/^config_json\.a\.a\.a\.a\.a: is nested more than 64 levels deep/);
      const policy = await call(pools, 'RegisterPool', { pool_name: 'deep', provider: 'local', scheduling_policy_json: deepPolicy });
      expect(policy?.code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      models.close();
      pools.close();
    }
  });
});
