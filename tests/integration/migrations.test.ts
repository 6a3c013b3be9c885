// Migrations on a real, empty Postgres database: applied in order, recorded as Prisma records
// them, idempotent, safe to run concurrently, and refusing an edited migration.
import { cpSync, mkdtempSync, readdirSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, applyMigrations } from '../../lib/migrate.js';
import { testConfig } from '../helpers/env.js';
import { scratchDatabase } from '../helpers/services.js';

describe('migrations', () => {
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  beforeAll(async () => {
    scratch = await scratchDatabase(testConfig());
  });
  afterAll(() => scratch?.drop());

  it('apply every migration once, concurrently safe, and record them for prisma migrate', async () => {
    const names = readdirSync(MIGRATIONS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    const [a, b] = await Promise.all([applyMigrations(scratch.url), applyMigrations(scratch.url)]);
    expect([...a!, ...b!].sort()).toEqual(names);
    expect(await applyMigrations(scratch.url)).toEqual([]);

    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    try {
      const rows = await client.query('SELECT migration_name, checksum, finished_at FROM _prisma_migrations ORDER BY migration_name');
      expect(rows.rows.map((r: { migration_name: string }) => r.migration_name)).toEqual(names);
      expect(rows.rows.every((r: { checksum: string; finished_at: Date | null }) => /^[0-9a-f]{64}$/.test(r.checksum) && r.finished_at)).toBe(true);
      const tables = await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
      const have = new Set(tables.rows.map((r: { table_name: string }) => r.table_name));
      for (const t of ['organizations', 'users', 'roles', 'memberships', 'groups', 'api_keys', 'provider_configs', 'compute_pools', 'inventory_nodes',
        'registered_models', 'deployments', 'guardrail_policies', 'prompt_templates', 'knowledge_bases', 'knowledge_documents', 'knowledge_chunks',
        'quotas', 'usage_records', 'inference_logs', 'audit_logs', 'files', 'batches', 'refresh_tokens']) {
        expect(have, t).toContain(t);
      }
      // Audit rows are append-only, enforced by the database itself.
      await client.query(`INSERT INTO audit_logs (actor_type, action, resource_type) VALUES ('system', 'test', 'none')`);
      await expect(client.query(`UPDATE audit_logs SET action = 'changed'`)).rejects.toThrow(/append-only/);
      await expect(client.query(`DELETE FROM audit_logs`)).rejects.toThrow(/append-only/);
    } finally {
      await client.end();
    }
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inferia-migrations-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const first = readdirSync(dir, { withFileTypes: true }).find((d) => d.isDirectory())!.name;
    appendFileSync(join(dir, first, 'migration.sql'), '\n-- edited\n');
    await expect(applyMigrations(scratch.url, dir)).rejects.toThrow(/edited after it was applied/);
  });
});
