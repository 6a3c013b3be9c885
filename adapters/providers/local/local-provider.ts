// The `local` provider: engines run as child processes on this host. It is the embedded
// default, so the whole platform works end to end on one machine. Each engine is detached
// (it outlives a crashed worker) and tracked by a pid file named after its instance id, which
// makes start and stop idempotent across activity retries and worker restarts.
import type { Config } from '../../../lib/config.js';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProviderConfigError, type DiscoveredNode, type EngineInstance, type EngineSpec, type ProviderAdapter } from '../types.js';

const MOCK_ENGINE = fileURLToPath(new URL('../../engines/mock/mock-engine.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

export interface LocalProviderOptions {
  engineDir: string;
}

/**
 * Engines of one host and engine folder. Several workers (hosts, test runs) may share one
 * database: each answers only for the instances of its own scope.
 */
export const localScope = (engineDir: string) => createHash('sha1').update(`${hostname()}:${resolve(engineDir)}`).digest('hex').slice(0, 8);
export const localInstanceId = (scope: string, deploymentId: string, replicaIndex: number) => `local-${scope}-${deploymentId}-r${replicaIndex}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An engine whose worker died between spawning it and writing its pid file: found in the process
 * table by its exact `--inferia-instance=` argument, so a retried start adopts it instead of
 * starting a second one.
 */
function orphanPid(id: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined; // no /proc (not Linux)
  }
  const wanted = `--inferia-instance=${id}`;
  for (const entry of entries) {
    const pid = Number(entry);
    if (!(pid > 0)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(wanted)) return pid;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

export function createLocalProvider(options: LocalProviderOptions): ProviderAdapter {
  const dir = resolve(options.engineDir);
  const scope = localScope(dir);
  const owns = (id: string) => id.startsWith(`local-${scope}-`);
  const pidFile = (id: string) => join(dir, `${id}.pid`);
  const logFile = (id: string) => join(dir, `${id}.log`);

  /** The pid of a live engine with this id, checked against its command line so a reused pid is not mistaken. */
  function runningPid(id: string): number | undefined {
    if (!existsSync(pidFile(id))) return undefined;
    const pid = Number(readFileSync(pidFile(id), 'utf8').trim());
    if (!(pid > 0) || !alive(pid)) return undefined;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(`--inferia-instance=${id}`)) return undefined;
    } catch {
      // No /proc (not Linux): trust the pid file.
    }
    return pid;
  }

  function instanceIds(): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => f.slice(0, -4));
  }

  const hostResources = () => ({ vcpu: cpus().length, ramGb: Math.round((totalmem() / 2 ** 30) * 10) / 10 });

  return {
    name: 'local',
    owns,

    async discoverNodes(): Promise<DiscoveredNode[]> {
      return instanceIds()
        .filter((id) => runningPid(id) !== undefined)
        .map((id) => ({ providerInstanceId: id, state: 'READY', gpuCount: 0, vcpu: 1, ramGb: 0.1, metadata: { host: hostname() } }));
    },

    async getNodeMetadata(id) {
      const pid = runningPid(id);
      return { host: hostname(), pid: pid ?? null, log: logFile(id), running: pid !== undefined };
    },

    async reconcile(known) {
      const running = new Set(instanceIds().filter((id) => runningPid(id) !== undefined));
      const discovered = (await this.discoverNodes()).filter((n) => !known.includes(n.providerInstanceId));
      return { discovered, vanished: known.filter((id) => owns(id) && !running.has(id)) };
    },

    async provisionNode(poolId) {
      // This host is the capacity: nothing to create.
      return `local-host-${hostname()}-${poolId}`;
    },

    async deprovisionNode(id) {
      await this.stopEngine(id);
    },

    async startEngine(spec: EngineSpec): Promise<EngineInstance> {
      const id = localInstanceId(scope, spec.deploymentId, spec.replicaIndex);
      const existing = runningPid(id);
      if (existing !== undefined) return { providerInstanceId: id, metadata: { pid: existing, host: hostname(), reused: true } };
      const orphan = orphanPid(id);
      if (orphan !== undefined) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(pidFile(id), String(orphan));
        return { providerInstanceId: id, metadata: { pid: orphan, host: hostname(), reused: true } };
      }
      if (spec.engine !== 'mock') {
        throw new ProviderConfigError(
          `engine '${spec.engine}' cannot run on the local provider of this host (no GPU engine installed); use engine 'mock' or another provider`,
        );
      }
      mkdirSync(dir, { recursive: true });
      const log = openSync(logFile(id), 'a');
      const child = spawn(process.execPath, ['--import', TSX_LOADER, MOCK_ENGINE, `--inferia-instance=${id}`], {
        detached: true,
        stdio: ['ignore', log, log],
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: process.env.NODE_ENV ?? 'production',
          INFERIA_ENGINE_MODEL: spec.model,
          INFERIA_HEARTBEAT_URL: spec.heartbeat.url,
          INFERIA_NODE_TOKEN: spec.heartbeat.token,
          INFERIA_HEARTBEAT_INTERVAL_MS: String(spec.heartbeat.intervalMs),
          INFERIA_PROVIDER: 'local',
          INFERIA_PROVIDER_INSTANCE_ID: id,
          INFERIA_MOCK_TOKEN_DELAY_MS: String(spec.configuration.token_delay_ms ?? 0),
          INFERIA_MOCK_STARTUP_DELAY_MS: String(spec.configuration.startup_delay_ms ?? 0),
        },
      });
      closeSync(log);
      if (!child.pid) throw new Error(`could not start the engine process for ${id}`);
      child.unref();
      writeFileSync(pidFile(id), String(child.pid));
      return { providerInstanceId: id, metadata: { pid: child.pid, host: hostname(), log: logFile(id) } };
    },

    async stopEngine(id) {
      const pid = runningPid(id);
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGTERM'); // the engine leads its own process group
        } catch {
          process.kill(pid, 'SIGTERM');
        }
        for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
        if (alive(pid)) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
      rmSync(pidFile(id), { force: true });
    },

    async probeEngine(id) {
      if (runningPid(id) === undefined) return { state: 'TERMINATED', message: 'engine process is not running' };
      const lines = await this.getLogs(id, { tail: 500 });
      const served = lines.map((l) => /serving \S+ on (http:\/\/\S+)/.exec(l)?.[1]).filter(Boolean).pop();
      return served ? { state: 'READY', exposeUrl: served } : { state: 'PROVISIONING', message: 'engine starting' };
    },

    async getLogs(id, opts = {}) {
      const file = logFile(id);
      if (!existsSync(file)) return [];
      const size = statSync(file).size;
      const tail = opts.tail ?? 200;
      const fd = openSync(file, 'r');
      try {
        const len = Math.min(size, tail * 200);
        const buf = Buffer.alloc(len);
        readSync(fd, buf, 0, len, size - len);
        return buf.toString('utf8').split('\n').filter(Boolean).slice(-tail);
      } finally {
        closeSync(fd);
      }
    },

    async listResources() {
      const { vcpu, ramGb } = hostResources();
      return [{ name: `local:${hostname()}`, gpuType: null, gpuCount: 0, vcpu, ramGb, pricePerHour: 0, available: true }];
    },
  };
}

/** Registry entry (lib/providers.ts). */
export const createProvider = (config: Config): ProviderAdapter => createLocalProvider({ engineDir: config.localEngineDir });
