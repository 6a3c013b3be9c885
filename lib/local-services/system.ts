// Small helpers for finding, installing and running the system programs the embedded default needs.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

export type Progress = (message: string) => void;

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runSync(cmd: string, args: string[], options: SpawnOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options } as Parameters<typeof spawnSync>[2]);
  return { code: r.status ?? (r.error ? 127 : 1), stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? r.error?.message ?? '') };
}

/** Runs a command, streaming each output line to `onLine`; resolves with the exit code. */
export function runStreaming(cmd: string, args: string[], onLine: (line: string) => void, options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const feed = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) onLine(line.trimEnd());
    };
    child.stdout?.on('data', feed);
    child.stderr?.on('data', feed);
    child.on('error', (err) => {
      onLine(err.message);
      resolve(127);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

let aptUpdated = false;

/** Installs Debian packages when we are root; otherwise explains what to install. */
export async function ensureDebianPackages(packages: string[], progress: Progress): Promise<void> {
  if (packages.length === 0) return;
  if (!isRoot() || !which('apt-get')) {
    throw new Error(
      `missing system packages: ${packages.join(', ')}. Install them (e.g. \`sudo apt-get install -y ${packages.join(' ')}\`) ` +
        'or point DATABASE_URL / REDIS_URL at running services.',
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    progress('apt-get update …');
    const code = await runStreaming('apt-get', ['update'], () => {}, { env });
    if (code !== 0) throw new Error('apt-get update failed');
    aptUpdated = true;
  }
  progress(`apt-get install ${packages.join(' ')} …`);
  let last = 0;
  const code = await runStreaming(
    'apt-get',
    ['install', '-y', '--no-install-recommends', ...packages],
    (line) => {
      if (/^(Unpacking|Setting up)/.test(line) && Date.now() - last > 2000) {
        last = Date.now();
        progress(`  ${line}`);
      }
    },
    { env },
  );
  if (code !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed (exit ${code})`);
}

/** Resolves when something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isPortOpen(port, host)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
}

export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Newest Debian PostgreSQL server binaries, e.g. /usr/lib/postgresql/15/bin. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}
