// What every integration and e2e test shares: the services `npm test` started (from the
// environment), unique ids so tests run in parallel, and free ports.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { loadConfig, type Config } from '../../lib/config.js';

export function testConfig(overrides: Record<string, string> = {}): Config {
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS']) {
    if (!process.env[name]) throw new Error(`${name} is not set: run the suite with \`npm test\` (it starts the services)`);
  }
  return loadConfig({ ...process.env, INFERIA_ENV: 'test', ...overrides });
}

/** A short unique token for ids, slugs, task queues and key prefixes. */
export const uniq = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

// Ports handed out by `freePort` come from below the kernel's ephemeral range (32768–60999 here),
// so no outgoing connection's source port and no server bound to port 0 (the Temporal dev server
// picks its internal ports that way) can take one between our pick and its use. Each vitest worker
// draws from a slice of its own (VITEST_POOL_ID), so concurrent test files never race for one.
const PORT_BASE = 20_000;
const SLICE = 1_000;
const SLICES = 12;
const slot = (Number(process.env.VITEST_POOL_ID ?? process.pid) || 0) % SLICES;
let nextOffset = randomBytes(2).readUInt16BE() % SLICE;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < SLICE; tries++) {
    const port = PORT_BASE + slot * SLICE + (nextOffset++ % SLICE);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port in ${PORT_BASE + slot * SLICE}–${PORT_BASE + slot * SLICE + SLICE - 1}`);
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

/**
 * Rate limits count in fixed per-minute windows: a test that counts admissions must not straddle a
 * window boundary. Waits for the next minute when fewer than `needSeconds` remain in this one.
 */
export async function awaitFreshMinuteWindow(needSeconds = 25): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needSeconds * 1000) await new Promise((r) => setTimeout(r, left + 250));
}
