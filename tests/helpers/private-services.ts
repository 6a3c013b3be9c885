// A Postgres or Redis of a test's own, for tests that stop, kill or freeze it: the shared services
// of the run are never touched. Started by the same code as `npm test` and `npm run up`, with the
// data under the test's temporary folder and on a free port.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, startRedis, stopPostgres, stopRedis } from '../../lib/local-services/services.js';
import { applyMigrations } from '../../lib/migrate.js';
import { freePort } from './env.js';

const quiet = () => undefined;

/** A temporary folder the `postgres` user can reach when the tests run as root. */
export function privateDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `inferia-${label}-`));
  chmodSync(dir, 0o755);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface PrivatePostgres {
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: clients are disconnected and new connections refused until start(). */
  stop(): void;
  start(): Promise<void>;
  /** True when a new connection is accepted and answers. */
  answers(): Promise<boolean>;
}

/** A migrated private cluster (initdb on first start). */
export async function privatePostgres(dir: string): Promise<PrivatePostgres> {
  const port = await freePort();
  const url = await startPostgres(dir, port, quiet);
  await applyMigrations(url);
  return {
    url,
    port,
    stop: () => stopPostgres(dir),
    start: async () => {
      await startPostgres(dir, port, quiet);
    },
    answers: async () => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

/** The pid is (still) a redis-server, not a process that reused the number. */
function isRedisServer(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return false;
  }
}

export interface PrivateRedis {
  url: string;
  port: number;
  pid(): number;
  /** Sends a signal to the server: SIGKILL to crash it, SIGSTOP/SIGCONT to freeze and thaw it. */
  signal(signal: NodeJS.Signals): void;
  start(): Promise<void>;
  stop(): void;
}

/** Persistence as `npm run up` runs it (append-only file, fsync every second), so a restart keeps the data. */
export async function privateRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  const url = await startRedis(dir, port, quiet, true);
  const pidFile = join(dir, 'redis', 'redis.pid');
  const pid = () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0);
  return {
    url,
    port,
    pid,
    signal: (signal) => process.kill(pid(), signal),
    start: async () => {
      await startRedis(dir, port, quiet, true);
    },
    stop: () => {
      const p = pid();
      if (isRedisServer(p)) process.kill(p, 'SIGCONT'); // a frozen server cannot answer SHUTDOWN
      stopRedis(dir, port);
      if (isRedisServer(p)) process.kill(p, 'SIGKILL');
    },
  };
}
