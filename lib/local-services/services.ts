// The embedded default: a private PostgreSQL cluster, Redis and the Temporal dev server, each
// under one data folder, on ports that stay clear of system services. Used by `inferia up` and
// by the test command. Every function is idempotent: a running service is reused, not restarted.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { searchAttributeFlags } from '../temporal-names.js';
import {
  ensureDebianPackages,
  findPostgresBin,
  isPortOpen,
  isProcessAlive,
  isRoot,
  runStreaming,
  runSync,
  waitForPort,
  which,
  type Progress,
} from './system.js';

export interface ServicePorts {
  postgres: number;
  redis: number;
  temporal: number;
  temporalUi: number;
}

export const UP_PORTS: ServicePorts = { postgres: 54320, redis: 63790, temporal: 7233, temporalUi: 8233 };
export const TEST_PORTS: ServicePorts = { postgres: 54330, redis: 63800, temporal: 7243, temporalUi: 8243 };

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

// ───────────────────────────── installation ─────────────────────────────

/** Installs PostgreSQL and Redis from Debian when they are missing (and root). */
export async function ensureSystemServices(progress: Progress, need: { postgres: boolean; redis: boolean }): Promise<void> {
  const missing: string[] = [];
  if (need.postgres && !findPostgresBin()) missing.push('postgresql');
  if (need.redis && !which('redis-server')) missing.push('redis-server');
  if (missing.length === 0) return;
  await ensureDebianPackages(missing, progress);
  // Debian starts the system-wide services on install; ours run privately, so stop theirs.
  for (const unit of missing) runSync('service', [unit === 'postgresql' ? 'postgresql' : 'redis-server', 'stop']);
}

/** Where the dashboard's browser tests find Chromium (Debian's package; CHROMIUM_PATH overrides). */
export const chromiumPath = () => process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Installs Debian's Chromium for the dashboard's browser tests when it is missing (and root), like Postgres and Redis. */
export async function ensureChromium(progress: Progress): Promise<void> {
  if (existsSync(chromiumPath())) return;
  await ensureDebianPackages(['chromium'], progress);
}

function goBinDir(): string | undefined {
  if (!which('go')) return undefined;
  const gobin = runSync('go', ['env', 'GOBIN']).stdout.trim();
  if (gobin) return gobin;
  const gopath = runSync('go', ['env', 'GOPATH']).stdout.trim().split(':')[0];
  return gopath ? join(gopath, 'bin') : undefined;
}

export function findTemporalCli(): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const onPath = which('temporal');
  if (onPath) return onPath;
  const dir = goBinDir();
  if (dir && existsSync(join(dir, 'temporal'))) return join(dir, 'temporal');
  return undefined;
}

/** Finds the Temporal CLI, or builds it with `go install` (minutes on a fresh machine). */
export async function ensureTemporalCli(progress: Progress): Promise<string> {
  const found = findTemporalCli();
  if (found) return found;
  if (!which('go')) {
    throw new Error(
      `the Temporal CLI is not on PATH and Go is not installed to build it. Install Go, or the Temporal CLI ${TEMPORAL_CLI_VERSION}, ` +
        'or set TEMPORAL_ADDRESS to a running Temporal server.',
    );
  }
  const target = `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`;
  const install = async (env: NodeJS.ProcessEnv): Promise<{ code: number; tail: string[] }> => {
    const started = Date.now();
    const tail: string[] = [];
    let downloads = 0;
    const ticker = setInterval(() => {
      progress(`  still building the Temporal CLI … ${Math.round((Date.now() - started) / 1000)} s, ${downloads} modules fetched`);
    }, 15_000);
    const code = await runStreaming(
      'go',
      ['install', target],
      (line) => {
        if (line.startsWith('go: downloading')) downloads += 1;
        tail.push(line);
        if (tail.length > 20) tail.shift();
      },
      { env },
    );
    clearInterval(ticker);
    return { code, tail };
  };
  progress(`building the Temporal CLI (go install ${target}); this takes a few minutes the first time …`);
  let result = await install(process.env);
  if (result.code !== 0 && result.tail.some((l) => /sum\.golang\.org|checksum database|verifying module/.test(l))) {
    progress('  the Go checksum database is unreachable; retrying with GOSUMDB=off for this one install');
    result = await install({ ...process.env, GOSUMDB: 'off' });
  }
  if (result.code !== 0) throw new Error(`go install ${target} failed:\n${result.tail.join('\n')}`);
  const built = findTemporalCli();
  if (!built) throw new Error(`go install ${target} succeeded but no temporal binary was found in ${goBinDir()}`);
  progress(`  Temporal CLI ready: ${built}`);
  return built;
}

// ───────────────────────────── PostgreSQL ─────────────────────────────

function asPostgres(bin: string, args: string[], cwd?: string) {
  if (!isRoot()) return runSync(bin, args, { cwd });
  // Postgres refuses to run as root: run its tools as the `postgres` user.
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return runSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { cwd: cwd ?? '/' });
}

export async function startPostgres(dataDir: string, port: number, progress: Progress): Promise<string> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL server binaries not found (install Debian package `postgresql`)');
  const dir = resolve(dataDir, 'postgres');
  const url = `postgresql://postgres@127.0.0.1:${port}/inferia`;
  mkdirSync(dir, { recursive: true });
  if (isRoot()) {
    const pw = runSync('id', ['-u', 'postgres']);
    if (pw.code !== 0) throw new Error('user `postgres` missing: reinstall the Debian `postgresql` package');
    const uid = Number(pw.stdout.trim());
    const gid = Number(runSync('id', ['-g', 'postgres']).stdout.trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
    if (asPostgres('/usr/bin/test', ['-w', dir]).code !== 0) {
      throw new Error(`user postgres cannot reach ${dir}: give others search (x) permission on its parent folders`);
    }
  }
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    progress(`initialising a private PostgreSQL cluster in ${dir} …`);
    const r = asPostgres(join(bin, 'initdb'), ['-D', dir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale']);
    if (r.code !== 0) throw new Error(`initdb failed: ${r.stderr || r.stdout}`);
  }
  const status = asPostgres(join(bin, 'pg_ctl'), ['-D', dir, 'status']);
  if (status.code !== 0) {
    if (await isPortOpen(port)) throw new Error(`port ${port} is taken by another program; stop it or set DATABASE_URL`);
    // A stale pid file from a killed server blocks the start; pg_ctl status said it is not running.
    rmSync(join(dir, 'postmaster.pid'), { force: true });
    progress(`starting PostgreSQL on 127.0.0.1:${port} …`);
    const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=200 -c fsync=on`;
    const r = asPostgres(join(bin, 'pg_ctl'), ['-D', dir, '-o', opts, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start']);
    if (r.code !== 0) throw new Error(`PostgreSQL did not start: ${r.stderr || r.stdout} (see ${join(dir, 'postgres.log')})`);
  }
  await waitForPort(port, 30_000);
  const exists = asPostgres(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-tAc', "SELECT 1 FROM pg_database WHERE datname='inferia'"]);
  if (exists.stdout.trim() !== '1') {
    const r = asPostgres(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'inferia']);
    if (r.code !== 0 && !/already exists/.test(r.stderr)) throw new Error(`createdb failed: ${r.stderr}`);
  }
  return url;
}

export function stopPostgres(dataDir: string): void {
  const bin = findPostgresBin();
  const dir = resolve(dataDir, 'postgres');
  if (!bin || !existsSync(join(dir, 'PG_VERSION'))) return;
  asPostgres(join(bin, 'pg_ctl'), ['-D', dir, '-m', 'fast', '-w', 'stop']);
}

// ───────────────────────────── Redis ─────────────────────────────

/**
 * `persist`: append-only file with fsync every second, so rate-limit windows, queued logs
 * (Redis Streams) and caches survive a restart of `up`; tests run without persistence.
 */
export async function startRedis(dataDir: string, port: number, progress: Progress, persist: boolean): Promise<string> {
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const url = `redis://127.0.0.1:${port}`;
  const pidFile = join(dir, 'redis.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (pid > 0 && isProcessAlive(pid) && (await isPortOpen(port))) return url;
  if (await isPortOpen(port)) throw new Error(`port ${port} is taken by another program; stop it or set REDIS_URL`);
  progress(`starting Redis on 127.0.0.1:${port} …`);
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'yes', '--pidfile', pidFile,
    '--logfile', join(dir, 'redis.log'), '--save', '',
    '--appendonly', persist ? 'yes' : 'no', '--appendfsync', 'everysec',
  ];
  const r = runSync('redis-server', args);
  if (r.code !== 0) throw new Error(`redis-server failed: ${r.stderr || r.stdout}`);
  await waitForPort(port, 15_000);
  return url;
}

export function stopRedis(dataDir: string, port: number): void {
  const pidFile = join(resolve(dataDir, 'redis'), 'redis.pid');
  if (!existsSync(pidFile)) return;
  runSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
  rmSync(pidFile, { force: true });
}

// ───────────────────────────── Temporal dev server ─────────────────────────────

export async function startTemporal(
  dataDir: string,
  ports: { temporal: number; temporalUi: number },
  progress: Progress,
  options: { headless?: boolean } = {},
): Promise<{ address: string; uiUrl: string; cli: string }> {
  const cli = await ensureTemporalCli(progress);
  const dir = resolve(dataDir, 'temporal');
  mkdirSync(dir, { recursive: true });
  const address = `127.0.0.1:${ports.temporal}`;
  const uiUrl = `http://127.0.0.1:${ports.temporalUi}`;
  const pidFile = join(dir, 'temporal.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (pid > 0 && isProcessAlive(pid) && (await isPortOpen(ports.temporal))) return { address, uiUrl, cli };
  if (await isPortOpen(ports.temporal)) throw new Error(`port ${ports.temporal} is taken by another program; stop it or set TEMPORAL_ADDRESS`);
  progress(`starting the Temporal dev server on ${address} (UI ${options.headless ? 'off' : uiUrl}) …`);
  const log = openSync(join(dir, 'temporal.log'), 'a');
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(ports.temporal),
    '--db-filename', join(dir, 'temporal.db'),
    '--namespace', 'default',
    '--log-level', 'warn',
    ...(options.headless ? ['--headless'] : ['--ui-port', String(ports.temporalUi)]),
    ...searchAttributeFlags.flatMap((f) => ['--search-attribute', f]),
  ];
  const child = spawn(cli, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cli}`);
  writeFileSync(pidFile, String(child.pid));
  await waitForPort(ports.temporal, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}: see ${join(dir, 'temporal.log')}`);
  });
  return { address, uiUrl, cli };
}

export async function stopTemporal(dataDir: string): Promise<void> {
  const pidFile = join(resolve(dataDir, 'temporal'), 'temporal.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (pid > 0 && isProcessAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

// ───────────────────────────── test ports ─────────────────────────────

function pidAlive(file: string): boolean {
  if (!existsSync(file)) return false;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return pid > 0 && isProcessAlive(pid);
}

/** The port of the private Postgres running on `dataDir` (postmaster.pid's fourth line), if any. */
function runningPostgresPort(dataDir: string): number | undefined {
  const pidFile = join(resolve(dataDir, 'postgres'), 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return pid > 0 && isProcessAlive(pid) && port > 0 ? port : undefined;
}

async function freePortNear(preferred: number): Promise<number> {
  if (!(await isPortOpen(preferred))) return preferred;
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Ports for the test services under `dataDir`: the ones its still-running services use, else
 * TEST_PORTS, else free ones (another checkout's test services may hold the defaults).
 */
export async function resolveTestPorts(dataDir: string): Promise<ServicePorts> {
  const file = join(resolve(dataDir), 'ports.json');
  const stored: Partial<ServicePorts> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<ServicePorts>) : {};
  const pgPort = runningPostgresPort(dataDir);
  const keep = {
    redis: pidAlive(join(resolve(dataDir, 'redis'), 'redis.pid')),
    temporal: pidAlive(join(resolve(dataDir, 'temporal'), 'temporal.pid')),
  };
  // A service of ours that still runs keeps its port; anything else gets the default or a free one.
  const pick = async (name: keyof ServicePorts, running: boolean) => {
    const previous = stored[name];
    if (running) return previous ?? TEST_PORTS[name];
    return freePortNear(previous ?? TEST_PORTS[name]);
  };
  const ports: ServicePorts = {
    postgres: pgPort ?? (await pick('postgres', false)),
    redis: await pick('redis', keep.redis),
    temporal: await pick('temporal', keep.temporal),
    temporalUi: await pick('temporalUi', keep.temporal),
  };
  mkdirSync(resolve(dataDir), { recursive: true });
  writeFileSync(file, JSON.stringify(ports));
  return ports;
}
