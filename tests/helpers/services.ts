// Connections to the shared test services, opened once per test file.
import pg from 'pg';
import type { Config } from '../../lib/config.js';
import { createDb, type Db } from '../../lib/db.js';
import { createRedis, type Redis } from '../../lib/redis.js';
import { uniq } from './env.js';

export function connect(config: Config, name: string): { db: Db; redis: Redis; close: () => Promise<void> } {
  const db = createDb(config.databaseUrl, { max: 5 });
  const redis = createRedis(config.redisUrl, name);
  return {
    db,
    redis,
    close: async () => {
      redis.disconnect();
      await db.$disconnect();
    },
  };
}

/** An empty database of its own on the test Postgres server; dropped by the returned function. */
export async function scratchDatabase(config: Config): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = uniq('scratch').replace(/-/g, '_');
  const admin = new URL(config.databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(config.databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
