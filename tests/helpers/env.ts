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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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
