// The inference hot-path benchmark: the same chat request, JSON and SSE, at each concurrency,
// straight to the mock upstream (direct), through a plain Node reverse proxy (the baseline) and
// through the gateway with its whole chain. Prints one table, checks the targets and writes every
// figure to bench/results.json. A missed target is reported, never an exit code: this is a
// benchmark, not a test. `inferia bench` (bin/commands/bench.ts) sets up what it measures.
import { cpus, loadavg, release, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import type { ChainReport } from './chain.js';
import { cpuTimes, RssSampler, runAutocannon, runTtfb, type LoadResult, type RssFigures, type Stats } from './load.js';

export const TARGETS = ['direct', 'plain proxy', 'gateway'] as const;
export type TargetName = (typeof TARGETS)[number];
export type Mode = 'json' | 'sse';

export interface BenchSetup {
  /** Base URLs; each serves POST /v1/chat/completions. */
  urls: Record<TargetName, string>;
  apiKey: string;
  model: string;
  durationS: number;
  warmupS: number;
  connections: number[];
  /** Process ids: what each target runs on (CPU per request) and what is watched for memory. */
  pids: { mock: number; proxy: number; gateway: number; filtration: number; redis?: number; postgres?: number };
  chain: ChainReport;
  /** Rows in inference_logs for the benchmark org. */
  countLogs: () => Promise<number>;
  outFile: string;
  progress: (msg: string) => void;
}

export interface RunRecord {
  mode: Mode;
  connections: number;
  target: TargetName;
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  status_codes: Record<string, number>;
  latency_ms: Stats;
  /** SSE only: time to the first body chunk, from the TTFB client's run. */
  ttfb_ms: Stats | null;
  ttfb_run: { rps: number; ok: number; non2xx: number; errors: number } | null;
  /** CPU time of the target's own processes per answered request, µs (direct: the mock). */
  cpu_us_per_request: number;
  cpu_us_per_request_by_process: Record<string, number>;
  /** The user-mode part of it (the rest is system time). */
  user_cpu_us_per_request_by_process: Record<string, number>;
}

export interface Comparison {
  mode: Mode;
  connections: number;
  target: TargetName;
  p50_overhead_ms: number;
  p99_overhead_ms: number;
  ttfb_p50_overhead_ms: number | null;
  ratio_to_plain_proxy: number;
}

export interface TargetCheck {
  name: string;
  value: string;
  limit: string;
  result: 'PASS' | 'MISS' | 'n/a';
  note?: string;
}

const PROMPT = [
  { role: 'system', content: 'You are a concise assistant. Answer in two sentences at most.' },
  { role: 'user', content: 'Summarise the plot of Hamlet for a reader who has never seen the play, without spoilers beyond the first act.' },
];

function requestFor(setup: BenchSetup, target: TargetName, mode: Mode) {
  const body = JSON.stringify({ model: setup.model, messages: PROMPT, max_tokens: 64, temperature: 0.2, ...(mode === 'sse' ? { stream: true } : {}) });
  // Every target gets the same request, key included: the others ignore it.
  const headers = {
    authorization: `Bearer ${setup.apiKey}`,
    'content-type': 'application/json',
    accept: mode === 'sse' ? 'text/event-stream' : 'application/json',
  };
  return { url: `${setup.urls[target]}/v1/chat/completions`, headers, body };
}

function pidsOf(setup: BenchSetup, target: TargetName): Record<string, number> {
  if (target === 'direct') return { 'mock upstream': setup.pids.mock };
  if (target === 'plain proxy') return { 'plain proxy': setup.pids.proxy };
  return {
    inference: setup.pids.gateway,
    filtration: setup.pids.filtration,
    ...(setup.pids.redis ? { redis: setup.pids.redis } : {}),
    ...(setup.pids.postgres ? { postgres: setup.pids.postgres } : {}),
  };
}

// Postgres is its postmaster and the processes it forked (the log writer's backend among them).
const cpuOf = (pids: Record<string, number>) =>
  Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuTimes(pid, { children: name === 'postgres' })]));

export async function runBench(setup: BenchSetup): Promise<{ runs: RunRecord[]; targets: TargetCheck[] }> {
  const { progress } = setup;
  const machine = {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    load_average_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const sampler = new RssSampler([
    { name: 'inference gateway', pid: setup.pids.gateway },
    { name: 'filtration gateway', pid: setup.pids.filtration },
    { name: 'plain proxy', pid: setup.pids.proxy },
    { name: 'mock upstream', pid: setup.pids.mock },
  ]);
  const logsBefore = await setup.countLogs().catch(() => NaN);
  sampler.start();

  const runs: RunRecord[] = [];
  let gatewayRequests = 0;
  // BENCH_MODES=json or sse: one of the two alone (profiling one path); both by default.
  const modes: Mode[] = (['json', 'sse'] as const).filter((m) => !process.env.BENCH_MODES || process.env.BENCH_MODES.split(',').includes(m));
  const total = modes.length * setup.connections.length * TARGETS.length;
  for (const mode of modes) {
    for (const connections of setup.connections) {
      for (const target of TARGETS) {
        const req = requestFor(setup, target, mode);
        progress(`[${runs.length + 1}/${total}] ${mode.toUpperCase()} c=${connections} ${target} …`);
        const warmup = setup.warmupS > 0 ? await runAutocannon({ ...req, connections, durationS: setup.warmupS }) : undefined;
        const pids = pidsOf(setup, target);
        const cpuBefore = cpuOf(pids);
        const load: LoadResult = await runAutocannon({ ...req, connections, durationS: setup.durationS });
        const cpuAfter = cpuOf(pids);
        const usPerRequest = (seconds: number) => (load.ok > 0 ? (seconds / load.ok) * 1e6 : NaN);
        const perRequest = Object.fromEntries(
          Object.keys(pids).map((name) => [
            name,
            usPerRequest(cpuAfter[name]!.user + cpuAfter[name]!.system - cpuBefore[name]!.user - cpuBefore[name]!.system),
          ]),
        );
        const userPerRequest = Object.fromEntries(Object.keys(pids).map((name) => [name, usPerRequest(cpuAfter[name]!.user - cpuBefore[name]!.user)]));
        const ttfb = mode === 'sse' ? await runTtfb({ ...req, connections, durationS: setup.durationS }) : null;
        if (target === 'gateway') {
          for (const r of [warmup, load, ttfb]) if (r) gatewayRequests += r.ok + r.non2xx;
        }
        runs.push({
          mode,
          connections,
          target,
          rps: load.rps,
          ok: load.ok,
          non2xx: load.non2xx,
          errors: load.errors,
          status_codes: load.statusCodes,
          latency_ms: load.latency,
          ttfb_ms: ttfb?.ttfb ?? null,
          ttfb_run: ttfb ? { rps: ttfb.rps, ok: ttfb.ok, non2xx: ttfb.non2xx, errors: ttfb.errors } : null,
          cpu_us_per_request: Object.values(perRequest).reduce((a, b) => a + b, 0),
          cpu_us_per_request_by_process: perRequest,
          user_cpu_us_per_request_by_process: userPerRequest,
        });
      }
    }
  }
  const memory = sampler.stop();
  // Logs may be written in batches after the answers: wait until the count settles.
  let logsAfter = await setup.countLogs().catch(() => NaN);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await setup.countLogs().catch(() => NaN);
    if (next === logsAfter) break;
    logsAfter = next;
  }

  const comparisons = compare(runs);
  const targets = checkTargets(runs, comparisons, memory);
  const logging = { rows_written_during_run: logsAfter - logsBefore, gateway_requests_sent: gatewayRequests };

  process.stdout.write(`\n${report(setup, machine.load_average_at_start, runs, comparisons, memory, targets, logging)}\n`);
  const results = {
    generated_at: new Date().toISOString(),
    build: setup.chain.build,
    machine,
    settings: {
      duration_seconds: setup.durationS,
      warmup_seconds: setup.warmupS,
      connections: setup.connections,
      request: { model: setup.model, messages: PROMPT, max_tokens: 64 },
      upstream: 'bench/mock-upstream.ts: fixed JSON completion, or 20 SSE chunks then [DONE], no delays',
      baseline: 'bench/plain-proxy.ts: node:http reverse proxy, keep-alive agent, bodies piped',
    },
    chain: { readyz: setup.chain.readyz, stages: setup.chain.stages },
    runs,
    comparisons,
    memory_mib: memory,
    logging,
    targets,
  };
  writeFileSync(setup.outFile, `${JSON.stringify(results, null, 2)}\n`);
  progress(`figures written to ${setup.outFile}`);
  return { runs, targets };
}

function find(runs: RunRecord[], mode: Mode, connections: number, target: TargetName) {
  return runs.find((r) => r.mode === mode && r.connections === connections && r.target === target);
}

function compare(runs: RunRecord[]): Comparison[] {
  const out: Comparison[] = [];
  for (const r of runs) {
    const direct = find(runs, r.mode, r.connections, 'direct');
    const proxy = find(runs, r.mode, r.connections, 'plain proxy');
    if (!direct || !proxy) continue;
    out.push({
      mode: r.mode,
      connections: r.connections,
      target: r.target,
      p50_overhead_ms: r.latency_ms.p50 - direct.latency_ms.p50,
      p99_overhead_ms: r.latency_ms.p99 - direct.latency_ms.p99,
      ttfb_p50_overhead_ms: r.ttfb_ms && direct.ttfb_ms ? r.ttfb_ms.p50 - direct.ttfb_ms.p50 : null,
      ratio_to_plain_proxy: proxy.rps > 0 ? r.rps / proxy.rps : NaN,
    });
  }
  return out;
}

const MIB_LIMIT = 150;

function checkTargets(runs: RunRecord[], comparisons: Comparison[], memory: RssFigures[]): TargetCheck[] {
  const cmp = (mode: Mode, c: number) => comparisons.find((x) => x.mode === mode && x.connections === c && x.target === 'gateway');
  const failures = (mode: Mode, c: number) => {
    const g = find(runs, mode, c, 'gateway');
    const bad = g ? g.non2xx + g.errors + (g.ttfb_run ? g.ttfb_run.non2xx + g.ttfb_run.errors : 0) : 0;
    return bad > 0 ? `${bad} failed or non-2xx answers from the gateway` : undefined;
  };
  const check = (name: string, mode: Mode, c: number, limit: string, value: (x: Comparison) => number | null, ok: (v: number) => boolean, fmt: (v: number) => string): TargetCheck => {
    const x = cmp(mode, c);
    const v = x ? value(x) : null;
    if (v === null || Number.isNaN(v)) return { name, value: '-', limit, result: 'n/a', note: `c=${c} ${mode.toUpperCase()} not measured` };
    const note = failures(mode, c);
    return { name, value: fmt(v), limit, result: ok(v) && !note ? 'PASS' : 'MISS', ...(note ? { note } : {}) };
  };
  const ms = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms`;
  const gateway = memory.find((m) => m.name === 'inference gateway');
  return [
    check('c=32 JSON: gateway req/s ≥ half the plain proxy’s', 'json', 32, '≥ 0.50×', (x) => x.ratio_to_plain_proxy, (v) => v >= 0.5, (v) => `${v.toFixed(2)}×`),
    check('c=32 SSE: gateway req/s ≥ half the plain proxy’s', 'sse', 32, '≥ 0.50×', (x) => x.ratio_to_plain_proxy, (v) => v >= 0.5, (v) => `${v.toFixed(2)}×`),
    check('c=1 JSON: gateway p50 over direct', 'json', 1, '≤ +0.5 ms', (x) => x.p50_overhead_ms, (v) => v <= 0.5, ms),
    check('c=1 SSE: gateway time to first byte p50 over direct', 'sse', 1, '≤ +1 ms', (x) => x.ttfb_p50_overhead_ms, (v) => v <= 1, ms),
    gateway && !Number.isNaN(gateway.peakMiB)
      ? { name: 'gateway peak RSS (VmHWM, start-up included)', value: `${gateway.peakMiB.toFixed(1)} MiB`, limit: `< ${MIB_LIMIT} MiB`, result: gateway.peakMiB < MIB_LIMIT ? 'PASS' : 'MISS' }
      : { name: 'gateway peak RSS (VmHWM, start-up included)', value: '-', limit: `< ${MIB_LIMIT} MiB`, result: 'n/a', note: 'the gateway process was gone' },
  ];
}

// ───────────────────────────── the printed report ─────────────────────────────

function table(rows: string[][], rightAligned: (col: number) => boolean): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (rightAligned(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

const f = (v: number | null | undefined, digits = 3) => (v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));
const signed = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}`);

function report(
  setup: BenchSetup,
  loadAtStart: number[],
  runs: RunRecord[],
  comparisons: Comparison[],
  memory: RssFigures[],
  targets: TargetCheck[],
  logging: { rows_written_during_run: number; gateway_requests_sent: number },
): string {
  const { build, stages } = setup.chain;
  const lines: string[] = [];
  // The benchmark's own files do not change what is measured; anything else uncommitted might.
  const others = build.uncommitted.filter((p) => !p.startsWith('bench/') && p !== 'bin/commands/bench.ts' && p !== 'bin/inferia.ts');
  const dirty = others.length ? ` + uncommitted changes (${others.slice(0, 6).join(', ')}${others.length > 6 ? `, … ${others.length} paths` : ''})` : '';
  lines.push(`Inference hot path: gateway as built at ${build.commit.slice(0, 12)}${dirty}`);
  lines.push(
    `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadAtStart.join(' ')} at start, Node ${process.version}; ${setup.durationS} s per run after ${setup.warmupS} s of warm-up`,
  );
  lines.push('');
  lines.push('Chain stages seen on this build:');
  for (const s of stages) lines.push(`  ${s.active === null ? '?  ' : s.active ? 'on ' : 'off'}  ${s.stage.padEnd(34)} ${s.evidence}`);
  lines.push('');

  const rows: string[][] = [['mode', 'conc', 'target', 'req/s', 'p50 ms', 'p99 ms', 'TTFB p50', 'TTFB p99', '+p50 vs direct', '+TTFB p50', '× proxy req/s', 'CPU µs/req', 'non-2xx/err']];
  for (const r of runs) {
    const c = comparisons.find((x) => x.mode === r.mode && x.connections === r.connections && x.target === r.target);
    const bad = r.non2xx + r.errors + (r.ttfb_run ? r.ttfb_run.non2xx + r.ttfb_run.errors : 0);
    rows.push([
      r.mode.toUpperCase(),
      String(r.connections),
      r.target,
      f(r.rps, 0),
      f(r.latency_ms.p50),
      f(r.latency_ms.p99),
      f(r.ttfb_ms?.p50),
      f(r.ttfb_ms?.p99),
      r.target === 'direct' ? '-' : signed(c?.p50_overhead_ms),
      r.target === 'direct' ? '-' : signed(c?.ttfb_p50_overhead_ms),
      r.target === 'plain proxy' ? '1.00' : f(c?.ratio_to_plain_proxy, 2),
      f(r.cpu_us_per_request, 0),
      String(bad),
    ]);
  }
  lines.push(table(rows, (c) => c === 1 || c >= 3));
  lines.push('');
  lines.push('  latency: whole answer as the load generator saw it; TTFB: request sent → first body chunk (own keep-alive client);');
  lines.push('  CPU µs/req: the target’s own processes (direct: the mock; gateway: inference + filtration + Redis + Postgres, which stores the logs); user: its user-mode part.');
  for (const r of runs.filter((x) => x.target === 'gateway')) {
    const parts = Object.entries(r.cpu_us_per_request_by_process).map(([name, us]) => `${name} ${f(us, 0)} (user ${f(r.user_cpu_us_per_request_by_process[name] ?? NaN, 0)})`);
    lines.push(`    gateway ${r.mode.toUpperCase()} c=${r.connections}: ${parts.join(', ')}`);
  }
  lines.push('');
  lines.push('Memory (MiB)           peak (VmHWM)  max sampled under load  at end');
  for (const m of memory) lines.push(`  ${m.name.padEnd(20)} ${f(m.peakMiB, 1).padStart(12)}  ${f(m.maxSampledMiB, 1).padStart(22)}  ${f(m.endMiB, 1).padStart(6)}`);
  lines.push('');
  lines.push(
    `Logging: ${Number.isNaN(logging.rows_written_during_run) ? '?' : logging.rows_written_during_run} inference_logs rows written for ${logging.gateway_requests_sent} requests the gateway answered (warm-ups included)`,
  );
  lines.push('');
  lines.push('Targets:');
  const width = Math.max(...targets.map((t) => t.name.length));
  for (const t of targets) lines.push(`  ${t.result.padEnd(4)}  ${t.name.padEnd(width)}  ${t.value.padStart(12)}  (target ${t.limit})${t.note ? `  ${t.note}` : ''}`);
  return lines.join('\n');
}
