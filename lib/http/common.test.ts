import Fastify, { type FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Prisma } from '../db.js';
import { commonPlugin, describeError, inspectJson, MAX_JSON_DEPTH } from './common.js';

describe('inspectJson', () => {
  it('passes ordinary JSON, and finds nothing in text unless asked to look', () => {
    expect(inspectJson({ a: [1, 'x', { b: null }], c: 'é😀' })).toBeUndefined();
    expect(inspectJson({ a: 'x\u0000' }, { checkText: false })).toBeUndefined();
  });

  it('names where a NUL character or a lone surrogate is, in a value or a key', () => {
    expect(inspectJson({ config: { rules: [{ options: { x: 'a\u0000b' } }] } })).toEqual({
      path: ['config', 'rules', '0', 'options', 'x'],
      reason: 'must not contain NUL (\\u0000) characters',
    });
    expect(inspectJson({ a: { ['k\u0000']: 1 } })?.path).toEqual(['a', 'k\u0000']);
    expect(inspectJson({ name: 'x\ud800y' })).toEqual({ path: ['name'], reason: 'must be valid Unicode (it has a lone surrogate)' });
    expect(inspectJson({ name: '\ud83d\ude00' })).toBeUndefined(); // a whole pair is fine
  });

  it('refuses nesting past the limit at any depth without recursion', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(inspectJson({ extra: deep })?.reason).toBe(`is nested more than ${MAX_JSON_DEPTH} levels deep`);
    expect(inspectJson({ extra: deep })?.path).toEqual(['extra', '0', '0', '0', '0', '0']);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) ok = [ok];
    expect(inspectJson(ok)).toBeUndefined();
    expect(inspectJson([ok])).toBeDefined();
  });
});

describe('describeError: what the database refuses is the client\'s error', () => {
  const prismaError = (code: string, sqlState?: string, meta: Record<string, unknown> = {}) =>
    new Prisma.PrismaClientKnownRequestError('refused', {
      code,
      clientVersion: 'test',
      meta: { ...meta, ...(sqlState ? { driverAdapterError: { cause: { originalCode: sqlState } } } : {}) },
    });

  it.each([
    ['P2039', '22021', 'NUL'],
    ['P2010', '22P05', 'NUL'],
    ['P2020', '22003', 'out of range'],
    ['P2010', '54000', 'too long to be indexed'],
    ['P2000', undefined, 'too long'],
    ['P2023', undefined, 'wrong format'],
  ])('%s (%s) → 400', (code, sqlState, words) => {
    const e = describeError(prismaError(code, sqlState));
    expect(e).toMatchObject({ status: 400, code: 'bad_request', refusedByDatabase: true });
    expect(e.message).toContain(words);
  });

  it('maps a unique violation to 409 and a vanished record to 404; anything else stays a hidden 500', () => {
    expect(describeError(prismaError('P2002', '23505', { target: ['name'] }))).toMatchObject({ status: 409, code: 'conflict', details: { fields: ['name'] } });
    expect(describeError(prismaError('P2025'))).toMatchObject({ status: 404 });
    expect(describeError(prismaError('P1001', '08006'))).toEqual({ status: 500, code: 'internal', message: 'internal server error' });
    expect(describeError(new Error('boom'))).toEqual({ status: 500, code: 'internal', message: 'internal server error' });
  });
});

describe('commonPlugin', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    await app.register(commonPlugin, { service: 'test', title: 'test', isPublic: (_m, url) => url === '/open' });
    const typed = app.withTypeProvider<ZodTypeProvider>();
    typed.post('/items/:id', { schema: { params: z.object({ id: z.string().max(50) }), querystring: z.object({ q: z.string().optional() }), body: z.object({ name: z.string().max(256), extra: z.unknown().optional() }) } }, async (req) => ({ ok: req.body.name }));
    typed.get('/open', async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(() => app.close());

  const post = (payload: string, url = '/items/1') => app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

  it('accepts ordinary JSON, escapes included', async () => {
    const res = await post(JSON.stringify({ name: 'caf\u00e9 \\u0000 literal backslash-u', extra: { a: [1, 2] } }));
    expect(res.statusCode).toBe(200);
    expect((await post('{"name":"\\ud83d\\ude00"}')).statusCode).toBe(200);
  });

  it('answers 400 naming the field for NUL characters, lone surrogates and deep nesting', async () => {
    const nul = await post('{"name":"ok","extra":{"x":["a\\u0000"]}}');
    expect(nul.statusCode).toBe(400);
    expect(nul.json().error).toMatchObject({ code: 'bad_request', details: { field: 'body.extra.x.0' } });
    const surrogate = await post('{"name":"\\ud800"}');
    expect(surrogate.statusCode).toBe(400);
    expect(surrogate.json().error.message).toMatch(/^body\.name: must be valid Unicode/);
    const deep = await post(`{"name":"x","extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error.message).toMatch(/^body\.extra\.0\.0\.0\.0\.0: is nested more than 64 levels deep/);
  });

  it('keeps Fastify\'s own JSON checks: malformed, empty and prototype-poisoning bodies are 400', async () => {
    expect((await post('{"name":')).statusCode).toBe(400);
    expect((await post('')).statusCode).toBe(400);
    expect((await post('{"name":"x","__proto__":{"admin":true}}')).statusCode).toBe(400);
  });

  it('answers 400 naming the parameter for a NUL in the path or the query string', async () => {
    const inPath = await post('{"name":"x"}', '/items/a%00b');
    expect(inPath.statusCode).toBe(400);
    expect(inPath.json().error.details.field).toBe('params.id');
    const inQuery = await post('{"name":"x"}', '/items/1?q=a%00');
    expect(inQuery.statusCode).toBe(400);
    expect(inQuery.json().error.details.field).toBe('querystring.q');
    const repeated = await post('{"name":"x"}', '/items/1?q=a&q=%00');
    expect(repeated.statusCode).toBe(400);
  });

  it('documents which routes take a bearer token', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    }>();
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/items/{id}']!.post!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/open']!.get!.security).toEqual([]);
    expect(doc.paths['/healthz']).toBeUndefined();
  });
});
