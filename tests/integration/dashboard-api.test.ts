// What the dashboard needs from the filtration gateway beyond the older management API, on real
// Postgres: usage over time from the inference log, the knowledge-base retrieval preview, and
// cross-origin access for the dashboard's origin only.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filtrationApp } from '../../gateways/filtration/app.js';
import { createFiltrationServices } from '../../gateways/filtration/services.js';
import type { Config } from '../../lib/config.js';
import { signAccessToken } from '../../lib/http/auth.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let config: Config;
let services: ReturnType<typeof connect>;
let app: FastifyInstance;
let org: DemoCredentials;
let other: DemoCredentials;
let owner: string;
let viewer: string;
let stranger: string;
let keys: { a: string; b: string };

const DASHBOARD = 'http://127.0.0.1:4301';
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const get = (url: string, token?: string) => app.inject({ method: 'GET', url, headers: token ? auth(token) : {} });
const post = (url: string, body: unknown, token: string) => app.inject({ method: 'POST', url, payload: body as object, headers: auth(token) });

// Fixed hours in the past, so the buckets are known exactly.
const H0 = new Date(Date.UTC(2031, 0, 1, 10, 0, 0));
const at = (hour: number, minute: number) => new Date(H0.getTime() + hour * 3600_000 + minute * 60_000);

beforeAll(async () => {
  config = testConfig({ DASHBOARD_ORIGINS: DASHBOARD });
  services = connect(config, 'dashboard-api-it');
  app = Fastify();
  await app.register(filtrationApp, createFiltrationServices({ db: services.db, redis: services.redis, config }));
  const slug = uniq('dash');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  const otherSlug = uniq('dash-other');
  other = await seedOrg(services.db, config, { slug: otherSlug, name: otherSlug, adminEmail: `${otherSlug}@test.local` });
  owner = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'owner' });
  viewer = signAccessToken(config, { sub: org.user_id, org: org.org_id, role: 'viewer' });
  stranger = signAccessToken(config, { sub: other.user_id, org: other.org_id, role: 'owner' });

  const a = await post('/management/api-keys', { name: 'key a' }, owner);
  const b = await post('/management/api-keys', { name: 'key b' }, owner);
  keys = { a: a.json<{ id: string }>().id, b: b.json<{ id: string }>().id };
  const log = (o: { orgId?: string; key?: string | null; model?: string; minuteAt: Date; latency: number; status?: number; prompt?: number; completion?: number }) => ({
    requestId: uniq('req'),
    orgId: o.orgId ?? org.org_id,
    apiKeyId: o.key === undefined ? keys.a : o.key,
    model: o.model ?? 'mock',
    latencyMs: o.latency,
    statusCode: o.status ?? 200,
    promptTokens: o.prompt ?? 10,
    completionTokens: o.completion ?? 5,
    createdAt: o.minuteAt,
  });
  await services.db.inferenceLog.createMany({
    data: [
      // hour 0: four served mock requests (key a) and one refusal
      log({ minuteAt: at(0, 1), latency: 100 }),
      log({ minuteAt: at(0, 2), latency: 200 }),
      log({ minuteAt: at(0, 3), latency: 300 }),
      log({ minuteAt: at(0, 4), latency: 400 }),
      log({ minuteAt: at(0, 5), latency: 1, status: 429, prompt: 0, completion: 0 }),
      // hour 2: another model, key b; and a request with no key
      log({ minuteAt: at(2, 10), latency: 50, model: 'other', key: keys.b, prompt: 7, completion: 3 }),
      log({ minuteAt: at(2, 20), latency: 60, key: null }),
      // outside the range, and another organisation's traffic inside it
      log({ minuteAt: at(5, 0), latency: 70 }),
      log({ minuteAt: at(0, 30), latency: 999, orgId: other.org_id, key: null }),
    ],
  });
});

afterAll(async () => {
  await app?.close();
  await services?.close();
});

const range = `from=${H0.toISOString()}&to=${at(4, 0).toISOString()}`;

interface Figures {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
}
interface Usage {
  buckets: string[];
  series: { key: string | null; label: string; total: Figures; points: ({ t: string } & Figures)[] }[];
  total: Figures;
}

describe('GET /management/usage', () => {
  it('counts requests, errors, tokens and served-latency percentiles per model and hour, for the caller\'s org only', async () => {
    const res = await get(`/management/usage?${range}&bucket=hour&group_by=model`, owner);
    expect(res.statusCode).toBe(200);
    const body = res.json<Usage>();
    expect(body.buckets).toEqual([0, 1, 2, 3].map((h) => at(h, 0).toISOString()));
    expect(body.series.map((s) => s.key)).toEqual(['mock', 'other']);
    const mock = body.series[0]!;
    expect(mock.total).toEqual({ requests: 6, errors: 1, prompt_tokens: 50, completion_tokens: 25, p50_latency_ms: 200, p95_latency_ms: 380 });
    expect(mock.points.map((p) => p.requests)).toEqual([5, 0, 1, 0]);
    expect(mock.points[0]).toMatchObject({ t: H0.toISOString(), errors: 1, prompt_tokens: 40, p50_latency_ms: 250, p95_latency_ms: 385 });
    expect(mock.points[1]).toMatchObject({ requests: 0, p50_latency_ms: null });
    expect(body.total).toMatchObject({ requests: 7, errors: 1, prompt_tokens: 57, completion_tokens: 28 });
  });

  it('groups by API key, naming each key, with one series for requests without a key', async () => {
    const body = (await get(`/management/usage?${range}&bucket=day&group_by=api_key`, owner)).json<Usage>();
    expect(body.buckets).toEqual([new Date(Date.UTC(2031, 0, 1)).toISOString()]);
    const byKey = Object.fromEntries(body.series.map((s) => [s.key ?? 'none', s]));
    expect(byKey[keys.a]).toMatchObject({ label: expect.stringContaining('key a'), total: { requests: 5 } });
    expect(byKey[keys.b]).toMatchObject({ label: expect.stringContaining('key b'), total: { requests: 1, prompt_tokens: 7 } });
    expect(byKey.none).toMatchObject({ label: '(no key)', total: { requests: 1 } });
  });

  it('filters by model and key', async () => {
    const byModel = (await get(`/management/usage?${range}&model=other`, owner)).json<Usage>();
    expect(byModel.total.requests).toBe(1);
    const byKey = (await get(`/management/usage?${range}&api_key_id=${keys.a}`, owner)).json<Usage>();
    expect(byKey.total.requests).toBe(5);
  });

  it('is readable by a viewer, and shows another organisation nothing of this one', async () => {
    expect((await get(`/management/usage?${range}`, viewer)).statusCode).toBe(200);
    const theirs = (await get(`/management/usage?${range}`, stranger)).json<Usage>();
    expect(theirs.total.requests).toBe(1);
    expect(theirs.series.map((s) => s.key)).toEqual(['mock']);
    expect((await get(`/management/usage?${range}`)).statusCode).toBe(401);
  });

  it('names the bad field', async () => {
    const cases: [string, string][] = [
      [`${range}&bucket=week`, 'bucket'],
      [`${range}&group_by=colour`, 'group_by'],
      ['from=yesterday', 'from'],
      [`from=${at(3, 0).toISOString()}&to=${H0.toISOString()}`, 'from'],
      [`from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z&bucket=hour`, 'from'],
      [`${range}&api_key_id=nope`, 'api_key_id'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`/management/usage?${query}`, owner);
      expect(res.statusCode, query).toBe(400);
      expect(res.json<{ error: { message: string } }>().error.message, query).toContain(field);
    }
  });
});

describe('GET /management/api-keys filters', () => {
  it('finds keys by name or prefix, and by state, counting only what matches', async () => {
    const created = (await post('/management/api-keys', { name: 'Filter Me Please' }, owner)).json<{ id: string; prefix: string }>();
    await app.inject({ method: 'DELETE', url: `/management/api-keys/${created.id}`, headers: auth(owner) });
    const list = async (q: string) => (await get(`/management/api-keys?${q}`, owner)).json<{ data: { id: string }[]; total: number }>();
    expect((await list('q=filter%20me')).data.map((k) => k.id)).toEqual([created.id]);
    expect((await list(`q=${created.prefix}`)).data.map((k) => k.id)).toEqual([created.id]);
    expect((await list('q=filter%20me&status=active')).total).toBe(0);
    expect((await list('q=filter%20me&status=revoked')).total).toBe(1);
    const active = await list('status=active&limit=1');
    expect(active.data).toHaveLength(1);
    expect(active.total).toBeGreaterThanOrEqual(3); // the seeded key and keys a and b
    expect((await get('/management/api-keys?status=lost', owner)).statusCode).toBe(400);
  });
});

describe('POST /management/knowledge-bases/:id/query', () => {
  it('returns the chunks a request would get, ranked, for the org\'s own knowledge base only', async () => {
    const kb = (await post('/management/knowledge-bases', { name: uniq('handbook') }, owner)).json<{ id: string }>();
    const content = [
      'Refunds are issued within fourteen days of a return being received.',
      'Our office plants are watered on Mondays by the facilities team.',
      'A refund for a damaged item needs a photo of the damage.',
    ].join('\n\n'.repeat(1) + 'x'.repeat(900) + '\n\n');
    expect((await post(`/management/knowledge-bases/${kb.id}/documents`, { filename: 'policy.txt', content }, owner)).statusCode).toBe(201);

    const res = await post(`/management/knowledge-bases/${kb.id}/query`, { query: 'how do refunds work?', top_k: 2 }, viewer);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ methods: string[]; data: { rank: number; content: string; filename: string; score: number; method: string }[] }>();
    expect(body.methods).toEqual(['fulltext']);
    expect(body.data.length).toBeGreaterThanOrEqual(1);
    expect(body.data.length).toBeLessThanOrEqual(2);
    expect(body.data.every((p) => /refund/i.test(p.content))).toBe(true);
    expect(body.data[0]).toMatchObject({ rank: 1, filename: 'policy.txt', method: 'fulltext' });
    expect(body.data.some((p) => /plants/.test(p.content))).toBe(false);

    expect((await post(`/management/knowledge-bases/${kb.id}/query`, { query: 'refunds' }, stranger)).statusCode).toBe(404);
    const empty = await post(`/management/knowledge-bases/${kb.id}/query`, { query: '   ' }, owner);
    expect(empty.statusCode).toBe(400);
    expect(empty.json<{ error: { message: string } }>().error.message).toContain('query');
    const tooMany = await post(`/management/knowledge-bases/${kb.id}/query`, { query: 'refunds', top_k: 500 }, owner);
    expect(tooMany.json<{ error: { message: string } }>().error.message).toContain('top_k');
  });
});

describe('cross-origin access for the dashboard', () => {
  it('answers preflights from the dashboard origin only', async () => {
    const preflight = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/management/api-keys',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const ok = await preflight(DASHBOARD);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(String(ok.headers['access-control-allow-methods'])).toContain('DELETE');
    const evil = await preflight('http://evil.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('marks refusals too, so the dashboard can read a 401 and refresh its session', async () => {
    const res = await app.inject({ method: 'GET', url: '/management/api-keys', headers: { origin: DASHBOARD } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(String(res.headers['access-control-expose-headers'])).toContain('x-request-id');
  });
});
