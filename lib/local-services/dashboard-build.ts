// Builds the dashboard (Vite) when its sources changed since the last build: `up` and the e2e
// tests call this before starting the dashboard server, so nobody serves a stale app. Staleness is
// a hash of the sources (and the lockfile), not file times, so a checkout or a copy cannot fool it.
// The build goes to a fresh folder that then replaces dist/ in one rename, under a lock, so two
// processes starting at once (`up` and a test, or two test files) build once and never serve a gap.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './supervisor.js';
import { runStreaming, type Progress } from './system.js';

export const DASHBOARD_DIR = join(ROOT, 'dashboard');
const DIST = join(DASHBOARD_DIR, 'dist');
const STAMP = 'build-hash.txt';
const INPUTS = ['dashboard/index.html', 'dashboard/vite.config.ts', 'dashboard/src', 'lib/providers.ts', 'lib/rbac.ts', 'package-lock.json'];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => (name.endsWith('.test.ts') ? [] : files(join(path, name))));
}

/** A hash of everything the build reads. */
export function dashboardSourceHash(): string {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    for (const file of files(join(ROOT, input))) {
      hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

export function dashboardBuildIsCurrent(hash = dashboardSourceHash()): boolean {
  const stamp = join(DIST, STAMP);
  return existsSync(join(DIST, 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash;
}

const LOCK = join(DASHBOARD_DIR, '.build-lock');
const LOCK_STALE_MS = 10 * 60_000;

async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A build that died long ago left its lock behind.
      const held = statSync(LOCK, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`the dashboard build lock ${LOCK} is held too long`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export async function ensureDashboardBuilt(progress: Progress): Promise<void> {
  const hash = dashboardSourceHash();
  if (dashboardBuildIsCurrent(hash)) return;
  await withBuildLock(async () => {
    // Another process may have built it while this one waited.
    if (!dashboardBuildIsCurrent(hash)) await build(hash, progress);
  });
}

async function build(hash: string, progress: Progress): Promise<void> {
  progress('building the dashboard (vite build) …');
  const out = join(DASHBOARD_DIR, `.dist-${process.pid}-${Date.now()}`);
  const tail: string[] = [];
  const code = await runStreaming(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(DASHBOARD_DIR, 'vite.config.ts'), '--outDir', out, '--emptyOutDir'],
    (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
    },
    { cwd: DASHBOARD_DIR, env: { ...process.env, NODE_ENV: 'production' } },
  );
  if (code !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`the dashboard build failed (exit ${code}):\n${tail.join('\n')}`);
  }
  writeFileSync(join(out, STAMP), `${hash}\n`);
  const old = `${DIST}.old-${process.pid}-${Date.now()}`;
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(out, DIST);
  rmSync(old, { recursive: true, force: true });
  progress('dashboard built');
}
