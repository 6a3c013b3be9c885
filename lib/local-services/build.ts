// The inference gateway runs as JavaScript that tsc builds into dist/ (tsconfig.build.json), not
// through tsx: no loader thread and no compile cache in the process, so less memory and a faster
// start. `up` and `bench` build it when a source changed since the last build, so there is still
// no build step to remember.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './supervisor.js';

export const BUILD_DIR = 'dist';
const BUILD_CONFIG = 'tsconfig.build.json';
/** Not sources of the build (everything else is looked at: an import may reach any folder). */
const SKIP = new Set(['node_modules', BUILD_DIR, '.inferia', '.git', 'dashboard', 'tests', 'scratch', 'bench']);
const STAMP = join(ROOT, BUILD_DIR, '.sources');
/** The entry point tsconfig.build.json names. */
export const INFERENCE_ENTRY = 'gateways/inference/main.ts';
const ENTRY = INFERENCE_ENTRY;

/** The built counterpart of a TypeScript entry point: `gateways/x/main.ts` → `dist/gateways/x/main.js`. */
export function builtScript(script: string): string {
  return join(BUILD_DIR, script.replace(/\.ts$/, '.js'));
}

/**
 * Node options for the built inference gateway. Its peak memory under load is old-generation
 * garbage: request objects that outlive two scavenges are promoted, and V8 lets the old generation
 * grow by a large factor before collecting it. Measured under the bench's load (c=32, JSON then SSE):
 *   V8's defaults                          peak RSS 150-186 MiB, GC 3.4-4.6% of busy CPU
 *   --heap-growing-percent=20              peak RSS 130-138 MiB, GC 4.3%
 *   --max-semi-space-size=8 (young gen)    peak RSS 120-170 MiB, GC 8-11% (more is promoted)
 */
export const INFERENCE_NODE_OPTIONS = ['--heap-growing-percent=20'];

function fingerprint(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(join(ROOT, dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const rel = join(dir, name);
      const st = statSync(join(ROOT, rel));
      if (st.isDirectory()) {
        if (!SKIP.has(name)) walk(rel);
      } else if (/\.(ts|mts|json)$/.test(name) && !name.endsWith('.test.ts')) {
        hash.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  walk('.');
  return hash.digest('hex');
}

/** Builds dist/ unless it is already built from the sources as they are now. */
export async function ensureBuilt(progress: (msg: string) => void): Promise<void> {
  const current = fingerprint();
  const entry = join(ROOT, builtScript(ENTRY));
  if (existsSync(STAMP) && existsSync(entry) && readFileSync(STAMP, 'utf8') === current) return;
  progress('building the inference gateway (tsc → dist/) …');
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', BUILD_CONFIG], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (c) => resolve(c));
    child.on('error', () => resolve(null));
  });
  if (code !== 0) throw new Error(`the build failed (tsc -p ${BUILD_CONFIG} exited with ${code})`);
  writeFileSync(STAMP, current);
}
