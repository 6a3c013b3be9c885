// Canary secrets: a password, an API key, a TOTP secret, a provider credential and a refresh
// token go through the filtration gateway the way users send them — including in requests that
// fail. None may then appear in its logs (captured at trace level), in any error body, or in any
// column of any table in the database.
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filtrationApp } from '../../gateways/filtration/app.js';
import { createFiltrationServices } from '../../gateways/filtration/services.js';
import type { Config } from '../../lib/config.js';
import { loggerOptions } from '../../lib/logger.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let config: Config;
let services: ReturnType<typeof connect>;
let app: FastifyInstance;
const logLines: string[] = [];
const errorBodies: string[] = [];

beforeAll(async () => {
  config = testConfig();
  services = connect(config, 'canary');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  app = Fastify({ loggerInstance: pino(loggerOptions('filtration', 'trace'), sink) }) as unknown as FastifyInstance;
  await app.register(filtrationApp, createFiltrationServices({ db: services.db, redis: services.redis, config }));
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.statusCode >= 400) errorBodies.push(String(payload));
    return payload;
  });
});

afterAll(async () => {
  await app?.close();
  await services?.close();
});

describe('no secret leaks', () => {
  it('keeps canary secrets out of logs, error bodies and every database column', async () => {
    const canaries: Record<string, string> = { password: `Canary-Password-${uniq('pw')}` };
    const email = `${uniq('canary')}@test.local`;
    const send = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, token?: string) =>
      app.inject({ method, url, remoteAddress: '203.0.113.7', ...(payload ? { payload } : {}), headers: token ? { authorization: `Bearer ${token}` } : {} });

    expect((await send('POST', '/auth/register', { email, password: canaries.password })).statusCode).toBe(201);
    const login = (await send('POST', '/auth/login', { email, password: canaries.password })).json<{ access_token: string; refresh_token: string }>();
    canaries.refresh = login.refresh_token;
    canaries.totp = (await send('POST', '/auth/2fa/setup', undefined, login.access_token)).json<{ secret: string }>().secret;
    canaries.apiKey = (await send('POST', '/management/api-keys', { name: 'canary', scopes: ['inference'] }, login.access_token)).json<{ key: string }>().key;
    canaries.credential = `canary-credential-${uniq('cred')}`;
    expect(
      (await send('POST', '/management/providers', { name: uniq('p'), provider: 'openai', credentials: { api_key: canaries.credential } }, login.access_token)).statusCode,
    ).toBe(201);

    // Failing requests that carry the secrets.
    await send('POST', '/auth/login', { email, password: `${canaries.password}-wrong` });
    await send('POST', '/auth/login', { email: 'not-an-email', password: canaries.password });
    await send('POST', '/auth/refresh', { refresh_token: `${canaries.refresh}x` });
    await send('POST', '/internal/context', { api_key: canaries.apiKey }, 'not-the-service-token');
    await send('POST', '/management/providers', { name: 'bad', provider: 'mars', credentials: { api_key: canaries.credential } }, login.access_token);
    await send('GET', '/auth/me', undefined, canaries.apiKey);
    expect(errorBodies.length).toBeGreaterThanOrEqual(5);

    const client = new pg.Client({ connectionString: config.databaseUrl });
    await client.connect();
    let database = '';
    try {
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
      );
      for (const { table_name } of tables.rows) {
        const rows = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${table_name}" t`);
        database += rows.rows.map((r) => r.row).join('\n');
      }
    } finally {
      await client.end();
    }
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const [kind, secret] of Object.entries(canaries)) {
      expect(logs.includes(secret), `${kind} in logs`).toBe(false);
      expect(errorBodies.some((b) => b.includes(secret)), `${kind} in an error body`).toBe(false);
      expect(database.includes(secret), `${kind} in the database`).toBe(false);
    }
  });
});
