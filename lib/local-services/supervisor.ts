// Runs Inferia's processes as children with prefixed output, and stops them in order.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const COLORS = [36, 35, 33, 32, 34, 31];

export interface ProcessSpec {
  name: string;
  /** Entry point, relative to the repository root: TypeScript (run through tsx) or built JavaScript. */
  script: string;
  /** Extra options for node itself (heap sizes, preloads). */
  nodeOptions?: string[];
  env: NodeJS.ProcessEnv;
  /** URL answering 200 once the process is up. */
  healthUrl?: string;
}

export interface Supervised {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export class Supervisor {
  private readonly children: Supervised[] = [];
  private stopping = false;
  onUnexpectedExit?: (name: string, code: number | null) => void;

  constructor(private readonly output: { color: boolean; quiet?: boolean } = { color: false }) {}

  start(spec: ProcessSpec): Supervised {
    const loader = spec.script.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...(spec.nodeOptions ?? []), ...loader, spec.script], {
      cwd: ROOT,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const color = COLORS[this.children.length % COLORS.length]!;
    const prefix = this.output.color ? `\x1b[${color}m${spec.name.padEnd(13)}\x1b[0m│ ` : `${spec.name.padEnd(13)}| `;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const rl = createInterface({ input: stream });
      rl.on('line', (line) => {
        if (!this.output.quiet) process.stdout.write(`${prefix}${line}\n`);
      });
    }
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        if (!this.stopping) this.onUnexpectedExit?.(spec.name, code);
        resolve(code);
      });
    });
    const supervised = { name: spec.name, child, exited };
    this.children.push(supervised);
    return supervised;
  }

  async waitHealthy(name: string, url: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const proc = this.children.find((c) => c.name === name);
    while (Date.now() < deadline) {
      if (proc && proc.child.exitCode !== null) throw new Error(`${name} exited with code ${proc.child.exitCode} while starting`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${name} did not become healthy at ${url} within ${timeoutMs / 1000} s`);
  }

  /** SIGTERM everything (newest first), SIGKILL what is still there after the grace period. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const alive = [...this.children].reverse().filter((c) => c.child.exitCode === null && c.child.signalCode === null);
    for (const c of alive) c.child.kill('SIGTERM');
    const timeout = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.all(alive.map((c) => c.exited)), timeout]);
    for (const c of alive) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  }
}
