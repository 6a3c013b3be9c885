// Applies and creates Prisma migrations through Prisma's own Wasm schema engine and the pg
// driver adapter, so it works offline (the CLI's native engine cannot be downloaded here).
// The files stay standard: `prisma migrate deploy` applies the same folder on a connected machine.
import { readdirSync, readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash, randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

const require = createRequire(import.meta.url);

export const PRISMA_DIR = resolve(import.meta.dirname, '..', 'prisma');
export const SCHEMA_PATH = join(PRISMA_DIR, 'schema.prisma');
export const MIGRATIONS_DIR = join(PRISMA_DIR, 'migrations');

interface EngineModule {
  SchemaEngine: {
    new: (options: { datamodels: [string, string][] }, log: (msg: string) => void, adapter: object) => Promise<SchemaEngine>;
  };
  __wbg_set_wasm: (exports: unknown) => void;
}

interface MigrationDirectory {
  path: string;
  migrationFile: { path: string; content: { tag: 'ok'; value: string } };
}

interface SchemaEngine {
  diff(input: unknown): Promise<{ exitCode: number; stdout: string | null }>;
  free(): void;
}

let instances = 0;

/**
 * A fresh copy of the engine's JS glue and Wasm instance: this engine build supports one
 * SchemaEngine per instance (a second `SchemaEngine.new` on the same one fails), so every
 * engine gets its own module, loaded under a distinct URL.
 */
async function loadEngineModule(): Promise<EngineModule> {
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  instances += 1;
  const bg = (await import(`${pathToFileURL(gluePath).href}?instance=${instances}`)) as EngineModule;
  const wasm = readFileSync(join(dirname(gluePath), 'schema_engine_bg.wasm'));
  // WebAssembly is a Node global; @types/node does not declare it, hence the narrow local type.
  const { WebAssembly } = globalThis as unknown as { WebAssembly: { instantiate(b: Buffer, i: object): Promise<{ instance: { exports: unknown } }> } };
  const { instance } = await WebAssembly.instantiate(wasm, { './schema_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  return bg;
}

async function withEngine<T>(databaseUrl: string, fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const mod = await loadEngineModule();
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg({ connectionString: databaseUrl }, { schema: 'public' }));
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  const engine = await mod.SchemaEngine.new({ datamodels: [[SCHEMA_PATH, schema]] }, () => {}, adapter);
  try {
    return await fn(engine);
  } finally {
    // (the engine is dropped with its wasm instance; free() here breaks the next SchemaEngine.new)
  }
}

function migrationList(dir: string) {
  const directories: MigrationDirectory[] = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
        .map((name) => {
          const path = join(dir, name);
          const file = join(path, 'migration.sql');
          return { path, migrationFile: { path: file, content: { tag: 'ok', value: readFileSync(file, 'utf8') } } };
        })
    : [];
  const lockPath = join(dir, 'migration_lock.toml');
  return {
    baseDir: dir,
    lockfile: { path: lockPath, content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: directories,
  };
}

/** Arbitrary fixed key for pg_advisory_lock: one migration runner at a time. */
const MIGRATION_LOCK_ID = 7_246_031_551;

const NO_FILTER = { externalTables: [], externalEnums: [] };

/**
 * Applies pending migrations in order, each in its own transaction, and records them in
 * `_prisma_migrations` exactly as Prisma does (name, SHA-256 checksum, timestamps), so
 * `prisma migrate deploy` and `prisma migrate status` agree with what ran here. An advisory lock
 * makes concurrent runners (several processes starting at once) safe. A migration whose file
 * changed after it was applied is refused rather than silently skipped.
 *
 * (The Wasm engine's own `applyMigrations` fails on this build with the pg adapter, so the
 * engine is used for `diff` only; see README, "Migrations".)
 */
export async function applyMigrations(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const { migrationDirectories } = migrationList(dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const done = new Map(rows.map((r) => [r.migration_name, r]));
    for (const m of migrationDirectories) {
      const name = basename(m.path);
      const sql = m.migrationFile.content.value;
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(name);
      if (previous?.finished_at) {
        if (previous.checksum !== checksum) throw new Error(`migration ${name} was edited after it was applied (checksum differs)`);
        continue;
      }
      if (previous) throw new Error(`migration ${name} failed earlier and needs attention (see _prisma_migrations)`);
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count, started_at)
           VALUES ($1, $2, now(), $3, 1, now())`,
          [randomUUID(), checksum, name],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(err as Error).message}`);
      }
      applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    await client.end();
  }
  return applied;
}

/**
 * Writes a new migration folder with the SQL that takes the schema `previousSchema` (the
 * committed one, which the latest migration produced; `undefined` for the first migration) to
 * the current `prisma/schema.prisma`. Returns the folder, or `undefined` when nothing changed.
 */
export async function createMigration(databaseUrl: string, name: string, previousSchema: string | undefined, dir = MIGRATIONS_DIR): Promise<string | undefined> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error('migration name: use lowercase letters, digits and underscores');
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  const script = await withEngine(databaseUrl, async (engine) => {
    const out = await engine.diff({
      from: previousSchema === undefined ? { tag: 'empty' } : { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: previousSchema }] },
      to: { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: schema }] },
      script: true,
      exitCode: false,
      filters: NO_FILTER,
    });
    return out.stdout ?? '';
  });
  if (!script.trim() || /^-- This is an empty migration/.test(script.trim())) return undefined;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const folder = join(dir, `${stamp}_${name}`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'migration.sql'), script);
  return folder;
}
