// Schemathesis (Python, from PyPI) for the fuzz suite (tests/fuzz): installed into a private venv
// under .inferia/tools with the machine's `python3 -m venv` and pip, pinned. `npm test` installs it
// before the suite starts; the fuzz tests call the same function, which is then a stamp check.
// Idempotent, and safe when several processes ask at once (an atomic lock directory).
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './supervisor.js';
import { ensureDebianPackages, isRoot, runStreaming, runSync, which, type Progress } from './system.js';

export const SCHEMATHESIS_VERSION = '4.32.5';

export const fuzzVenv = () => process.env.INFERIA_FUZZ_VENV ?? join(ROOT, '.inferia', 'tools', 'fuzz-venv');

/** Whether `npm test`'s vitest arguments select tests/fuzz (no file filter selects every test). */
export function runsFuzzSuite(args: string[]): boolean {
  const filters = args.filter((a) => !a.startsWith('-'));
  return filters.length === 0 || filters.some((f) => f.includes('fuzz') || 'tests/fuzz/'.startsWith(f.replace(/^\.\//, '')));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The schemathesis executable, installing the pinned version first when it is not there. */
export async function ensureSchemathesis(progress: Progress = () => {}): Promise<string> {
  const venv = fuzzVenv();
  const bin = join(venv, 'bin', 'schemathesis');
  const stamp = join(venv, 'inferia-installed');
  const installed = () => existsSync(bin) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === SCHEMATHESIS_VERSION;
  if (installed()) return bin;
  const lock = `${venv}.lock`;
  mkdirSync(join(venv, '..'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A stale lock (a killed run) expires.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      await sleep(1000);
      if (installed()) return bin;
    }
  }
  try {
    if (installed()) return bin;
    if (!which('python3')) {
      if (!isRoot()) throw new Error('the fuzz suite needs python3 (with its venv module) to install schemathesis; install python3 and python3-venv');
      await ensureDebianPackages(['python3', 'python3-venv'], progress);
    }
    progress(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${venv} (once; about two minutes) …`);
    rmSync(venv, { recursive: true, force: true });
    let made = runSync('python3', ['-m', 'venv', venv]);
    if (made.code !== 0 && isRoot()) {
      // Debian splits ensurepip into python3-venv.
      await ensureDebianPackages(['python3-venv'], progress);
      rmSync(venv, { recursive: true, force: true });
      made = runSync('python3', ['-m', 'venv', venv]);
    }
    if (made.code !== 0) throw new Error(`\`python3 -m venv ${venv}\` failed: ${(made.stderr || made.stdout).trim()}`);
    const tail: string[] = [];
    const code = await runStreaming(
      join(venv, 'bin', 'pip'),
      ['install', '--quiet', '--no-input', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`],
      (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
      },
    );
    if (code !== 0 || !existsSync(bin)) {
      rmSync(venv, { recursive: true, force: true });
      throw new Error(`pip install schemathesis==${SCHEMATHESIS_VERSION} failed (exit ${code}):\n${tail.join('\n')}`);
    }
    writeFileSync(stamp, `${SCHEMATHESIS_VERSION}\n`);
    progress(`  schemathesis ${SCHEMATHESIS_VERSION} ready`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return bin;
}
