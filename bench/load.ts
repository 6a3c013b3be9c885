// Load generation and the figures taken from it. Throughput comes from autocannon; latencies are
// recorded from its per-response times (sub-millisecond), because its own histogram keeps whole
// milliseconds and loopback latencies are fractions of one. Time to first byte, which autocannon
// does not measure, comes from a small keep-alive client of our own.
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import autocannon from 'autocannon';

export interface Stats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles over the samples (milliseconds). */
export function stats(samples: number[]): Stats {
  if (samples.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, mean: sum / sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  /** 2xx answers per second over the run. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** Whole-response latency of 2xx answers, ms. */
  latency: Stats;
  durationS: number;
}

/** Drives `spec.url` with autocannon (keep-alive connections, one request in flight on each). */
export async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: spec.url,
    method: 'POST',
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationS,
    timeout: 10,
  });
  instance.on('response', (_client, statusCode, _bytes, ms) => {
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) latencies.push(ms);
  });
  instance.on('reqError', () => {
    errors += 1;
  });
  await instance;
  const durationS = Number(process.hrtime.bigint() - started) / 1e9;
  const ok = latencies.length;
  const all = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return { rps: ok / durationS, ok, non2xx: all - ok, errors, statusCodes, latency: stats(latencies), durationS };
}

export interface TtfbResult extends LoadResult {
  /** Time from sending the request to the first body chunk, ms. */
  ttfb: Stats;
}

/**
 * `spec.connections` workers, each sending requests one after another over a keep-alive agent
 * with as many sockets, for `spec.durationS`; records the time to the first body chunk and to the
 * end of each answer.
 */
export async function runTtfb(spec: LoadSpec): Promise<TtfbResult> {
  const target = new URL(spec.url);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections, noDelay: true });
  const payload = Buffer.from(spec.body);
  const headers = { ...spec.headers, 'content-length': String(payload.length) };
  const ttfbs: number[] = [];
  const totals: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;

  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers, agent }, (res) => {
        let first = 0n;
        res.on('data', () => {
          if (first === 0n) first = process.hrtime.bigint();
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          statusCodes[status] = (statusCodes[status] ?? 0) + 1;
          if (status >= 200 && status < 300) {
            const end = process.hrtime.bigint();
            ttfbs.push(Number((first || end) - t0) / 1e6);
            totals.push(Number(end - t0) / 1e6);
          }
          resolve();
        });
        res.on('error', () => {
          errors += 1;
          resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        // Back off a little so a refused connection does not spin the loop.
        setTimeout(resolve, 10);
      });
      req.end(payload);
    });

  const started = process.hrtime.bigint();
  const deadline = Date.now() + spec.durationS * 1000;
  const worker = async () => {
    while (Date.now() < deadline) await once();
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const durationS = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  const ok = totals.length;
  const all = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return { rps: ok / durationS, ok, non2xx: all - ok, errors, statusCodes, latency: stats(totals), ttfb: stats(ttfbs), durationS };
}

// ───────────────────────────── memory ─────────────────────────────

/** VmRSS and VmHWM (the kernel's peak RSS) of a process, in MiB; undefined once it is gone. */
export function readRss(pid: number): { rssMiB: number; hwmMiB: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

export interface RssFigures {
  name: string;
  pid: number;
  /** Largest RSS sampled while the benchmark ran. */
  maxSampledMiB: number;
  /** The kernel's high-water mark over the process's whole life (start-up included). */
  peakMiB: number;
  /** RSS when sampling stopped. */
  endMiB: number;
}

/** Samples the RSS of some processes every `intervalMs` until stopped. */
export class RssSampler {
  private readonly max = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly processes: { name: string; pid: number }[], private readonly intervalMs = 100) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): RssFigures[] {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this.processes.map(({ name, pid }) => {
      const now = readRss(pid);
      const sampled = this.max.get(pid) ?? NaN;
      // The kernel updates VmHWM lazily: a sample can be a hair above it.
      const known = [now?.hwmMiB ?? NaN, sampled].filter((v) => !Number.isNaN(v));
      return { name, pid, maxSampledMiB: sampled, peakMiB: known.length ? Math.max(...known) : NaN, endMiB: now?.rssMiB ?? NaN };
    });
  }

  private sample(): void {
    for (const { pid } of this.processes) {
      const r = readRss(pid);
      if (r) this.max.set(pid, Math.max(this.max.get(pid) ?? 0, r.rssMiB));
    }
  }
}

/** A port nothing listens on right now (the kernel picks it). */
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

/**
 * A process's CPU time so far, user and system apart, in seconds (Linux clock ticks of 1/100 s). The split says where a cost is:
 * our code and V8 (user), or the kernel's side of its sockets (system; softirq work done for it
 * on loopback is not counted in either).
 */
export function cpuTimes(pid: number, options: { children?: boolean } = {}): { user: number; system: number } {
  const own = statTimes(pid);
  if (!options.children) return own;
  // A Postgres server is a postmaster and the processes it forks (a backend per connection, the WAL
  // writer, …): their times are their own until they exit.
  for (const child of childrenOf(pid)) {
    const t = statTimes(child);
    if (!Number.isNaN(t.user)) {
      own.user += t.user;
      own.system += t.system;
    }
  }
  return own;
}

function statTimes(pid: number): { user: number; system: number } {
  try {
    // Fields after the parenthesised command name: state is the 3rd, ppid the 4th, utime the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
