// `inferia test` (`npm test`): type check and lint, start the test services once (private
// Postgres, Redis, Temporal dev server on their own ports under .inferia/test), migrate, run the
// whole Vitest suite against them, then stop what it started. No gateway is left running.
import { spawn } from 'node:child_process';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ensureChromium,
  ensureSystemServices,
  resolveTestPorts,
  startPostgres,
  startRedis,
  startTemporal,
  stopPostgres,
  stopRedis,
  stopTemporal,
} from '../../lib/local-services/services.js';
import { ensureSchemathesis, runsFuzzSuite } from '../../lib/local-services/schemathesis.js';
import { ROOT } from '../../lib/local-services/supervisor.js';
import { ensureDebianPackages, isRoot, which } from '../../lib/local-services/system.js';
import { applyMigrations } from '../../lib/migrate.js';
import { loadOrCreateSecrets } from '../secrets.js';

const progress = (msg: string) => process.stdout.write(`[inferia test] ${msg}\n`);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The closing line CI reads: `Tests: N passed, M failed, K skipped`. */
function printSummary(file: string) {
  if (!existsSync(file)) return;
  const r = JSON.parse(readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  process.stdout.write(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped\n`);
}

export async function test(args: string[]): Promise<number> {
  const env = process.env;
  const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
  if (env.INFERIA_SKIP_CHECKS !== '1') {
    progress('type check (tsc) …');
    if ((await run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'])) !== 0) return 1;
    if ((await run(bin('tsc'), ['--noEmit', '-p', join('dashboard', 'src', 'tsconfig.json')])) !== 0) return 1;
    progress('lint (eslint) …');
    if ((await run(bin('eslint'), ['.', '--max-warnings=0'])) !== 0) return 1;
  }

  const dataDir = resolve(env.INFERIA_TEST_DATA_DIR ?? join(ROOT, '.inferia', 'test'));
  const keep = env.INFERIA_KEEP_SERVICES === '1';
  const owned = { postgres: !env.DATABASE_URL, redis: !env.REDIS_URL, temporal: !env.TEMPORAL_ADDRESS };
  const ports = await resolveTestPorts(dataDir);
  try {
    await ensureSystemServices(progress, { postgres: owned.postgres, redis: owned.redis });
    // Tools some tests use: docker-compose validates docker-compose.yml (deploy/deploy-files.test.ts).
    if (!which('docker-compose') && isRoot()) {
      await ensureDebianPackages(['docker-compose'], progress).catch((err: Error) => progress(`could not install docker-compose: ${err.message}`));
    }
    // The dashboard's browser test drives Debian's Chromium; without it (not root, no apt) that test
    // fails and says what to install, and everything else still runs.
    await ensureChromium(progress).catch((err: Error) => progress(`warning: ${err.message}`));
    // The fuzz suite's schemathesis (PyPI, a private venv): installed here, outside any test's
    // timeout, when the run includes tests/fuzz; a failure is reported by those tests.
    if (runsFuzzSuite(args)) await ensureSchemathesis(progress).catch((err: Error) => progress(`warning: ${err.message}`));
    const databaseUrl = env.DATABASE_URL ?? (await startPostgres(dataDir, ports.postgres, progress));
    const redisUrl = env.REDIS_URL ?? (await startRedis(dataDir, ports.redis, progress, false));
    const temporal = env.TEMPORAL_ADDRESS
      ? { address: env.TEMPORAL_ADDRESS, cli: env.TEMPORAL_CLI ?? '' }
      : await startTemporal(dataDir, ports, progress, { headless: true });
    const applied = await applyMigrations(databaseUrl);
    if (applied.length) progress(`applied migrations: ${applied.join(', ')}`);

    // Engines an earlier, interrupted run left behind: stop them and forget their pid files.
    const leftovers = createLocalProvider({ engineDir: join(dataDir, 'engines') });
    for (const node of await leftovers.discoverNodes()) await leftovers.stopEngine(node.providerInstanceId);
    rmSync(join(dataDir, 'engines'), { recursive: true, force: true });
    // The fuzz reports of earlier runs (each schemathesis run writes a folder of its own).
    rmSync(join(dataDir, 'fuzz'), { recursive: true, force: true });
    const secrets = loadOrCreateSecrets(dataDir);
    const testEnv: NodeJS.ProcessEnv = {
      ...env,
      ...secrets,
      INFERIA_ENV: 'test',
      INFERIA_DATA_DIR: dataDir,
      LOCAL_ENGINE_DIR: join(dataDir, 'engines'),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_CLI: temporal.cli,
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    };
    progress('running the suite (vitest) …');
    const results = join(dataDir, 'vitest-results.json');
    rmSync(results, { force: true });
    const code = await run(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...args], testEnv);
    printSummary(results);
    return code;
  } finally {
    if (!keep) {
      if (owned.temporal) await stopTemporal(dataDir);
      if (owned.redis) stopRedis(dataDir, ports.redis);
      if (owned.postgres) stopPostgres(dataDir);
    }
  }
}
