// Schemathesis for the fuzz suite (installed by lib/local-services/schemathesis.ts): runs one fuzz
// pass and returns its failures, each with its curl reproduction, from the JUnit report.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Installed by `npm test` before the suite; here it is a stamp check (or the install, when a test runs on its own).
export { ensureSchemathesis, SCHEMATHESIS_VERSION } from '../../lib/local-services/schemathesis.js';

export interface FuzzRun {
  /** Name of this pass, used for its report folder. */
  name: string;
  schemaUrl: string;
  reportDir: string;
  headers?: Record<string, string>;
  mode: 'positive' | 'negative' | 'all';
  maxExamples: number;
  /** Defaults to examples, coverage and fuzzing. */
  phases?: string[];
  checks?: string[];
  /** Seconds a single answer may take before it counts as a hang. */
  maxResponseTime?: number;
  includePathRegex?: string;
  excludePathRegex?: string;
  /** Extra `--exclude-by` style filters as raw CLI arguments. */
  extraArgs?: string[];
  /** Python hooks module (SCHEMATHESIS_HOOKS) and environment for it. */
  hooks?: string;
  env?: Record<string, string>;
  seed?: number;
  timeoutMs?: number;
}

export interface FuzzFailure {
  operation: string;
  message: string;
}

export interface FuzzResult {
  exitCode: number;
  operations: number;
  failures: FuzzFailure[];
  /** Errors of the run itself (schema could not be loaded, and the like). */
  errors: FuzzFailure[];
  output: string;
  seconds: number;
}

/** Runs schemathesis once and reads the failures (each with its curl reproduction) from the JUnit report. */
export async function runSchemathesis(bin: string, run: FuzzRun): Promise<FuzzResult> {
  // A folder of its own per run (the run's working directory): a folder another run removes or
  // reuses would leave schemathesis without a cwd ("Failed to load configuration file").
  mkdirSync(run.reportDir, { recursive: true });
  const dir = mkdtempSync(join(run.reportDir, `${run.name}-`));
  const junit = join(dir, 'junit.xml');
  const args = [
    'run',
    run.schemaUrl,
    '--mode',
    run.mode,
    '--max-examples',
    String(run.maxExamples),
    '--phases',
    (run.phases ?? ['examples', 'coverage', 'fuzzing']).join(','),
    '--checks',
    (run.checks ?? ['not_a_server_error']).join(','),
    '--max-response-time',
    String(run.maxResponseTime ?? 10),
    '--request-timeout',
    String((run.maxResponseTime ?? 10) + 5),
    // One worker: generation is bound by Python's GIL anyway, and Hypothesis parsing sources in
    // two threads at once trips a CPython 3.11 bug ("AST constructor recursion depth mismatch").
    '--workers',
    '1',
    '--seed',
    String(run.seed ?? 20240601),
    '--no-shrink',
    '--continue-on-failure',
    '--generation-database',
    'none',
    '--suppress-health-check',
    'all',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
    '--no-color',
    '--output-truncate',
    'true',
    // Reproductions exactly as sent (test credentials only).
    '--output-sanitize',
    'false',
    '--warnings',
    'off',
  ];
  for (const [name, value] of Object.entries(run.headers ?? {})) args.push('--header', `${name}: ${value}`);
  if (run.includePathRegex) args.push('--include-path-regex', run.includePathRegex);
  if (run.excludePathRegex) args.push('--exclude-path-regex', run.excludePathRegex);
  args.push(...(run.extraArgs ?? []));

  const started = Date.now();
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(bin, args, {
      cwd: dir,
      env: {
        ...process.env,
        ...(run.env ?? {}),
        ...(run.hooks ? { SCHEMATHESIS_HOOKS: run.hooks } : {}),
        NO_COLOR: '1',
        COLUMNS: '160',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs ?? 300_000);
    child.on('exit', (c, signal) => {
      clearTimeout(timer);
      resolve({ code: c ?? (signal ? 124 : 1), output: out });
    });
  });
  writeFileSync(join(dir, 'output.txt'), output);
  const parsed = existsSync(junit) ? parseJunit(readFileSync(junit, 'utf8')) : { operations: 0, failures: [], errors: [] };
  if (!existsSync(junit)) parsed.errors.push({ operation: '(run)', message: `no JUnit report (exit ${code}):\n${output.slice(-4000)}` });
  return { exitCode: code, ...parsed, output, seconds: (Date.now() - started) / 1000 };
}

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&amp;/g, '&');

/** Schemathesis' JUnit report: one <testcase name="METHOD /path"> per operation, <failure>/<error> inside. */
export function parseJunit(xml: string): { operations: number; failures: FuzzFailure[]; errors: FuzzFailure[] } {
  const failures: FuzzFailure[] = [];
  const errors: FuzzFailure[] = [];
  let operations = 0;
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    operations += 1;
    const name = unescapeXml(/\bname="([^"]*)"/.exec(m[1] ?? '')?.[1] ?? '?');
    const body = m[3] ?? '';
    for (const f of body.matchAll(/<(failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/g)) {
      const attrMessage = unescapeXml(/\bmessage="([^"]*)"/.exec(f[2] ?? '')?.[1] ?? '');
      const text = unescapeXml(f[3] ?? '').trim();
      (f[1] === 'failure' ? failures : errors).push({ operation: name, message: text || attrMessage });
    }
  }
  return { operations, failures, errors };
}
