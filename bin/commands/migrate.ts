// `inferia migrate` and `inferia migrate:new NAME`.
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../../lib/config.js';
import { applyMigrations, createMigration } from '../../lib/migrate.js';

export async function migrate(): Promise<number> {
  const config = loadConfig();
  const applied = await applyMigrations(config.databaseUrl);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  return 0;
}

export async function migrateNew(name: string | undefined): Promise<number> {
  if (!name) throw new Error('usage: inferia migrate:new NAME');
  // The latest migration produced the committed schema: diff from it to the working copy.
  let previous: string | undefined;
  try {
    previous = execFileSync('git', ['show', 'HEAD:prisma/schema.prisma'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    previous = undefined;
  }
  const folder = await createMigration(loadConfig().databaseUrl, name, previous);
  console.log(folder ? `wrote ${folder}/migration.sql — review it, then run \`inferia migrate\`` : 'no schema changes since the last commit');
  return 0;
}
