// Simulation mode: the job lifecycle of a DePIN network without a chain. A job is the mock engine
// run as a detached process on this host, so a simulated deployment really serves completions
// and reports itself through the heartbeat as provider `nosana` or `akash`.
//
// Processes follow the local provider's layout (`<id>.pid`, `<id>.log`, `--inferia-instance=<id>`
// on the command line), so stopping, probing and reading logs reuse it; only the start is ours,
// because the local provider reports every engine it starts as provider `local`.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { DepinConfigError, isLive, type DepinJob, type DepinJobSpec, type DepinNetwork, type DepinProvider } from './types.js';

const MOCK_ENGINE = fileURLToPath(new URL('../../adapters/engines/mock/mock-engine.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export const simulatedJobId = (network: DepinNetwork, instanceId: string) => `sim-${network}-${instanceId}`;

interface JobRecord {
  instanceId: string;
  model: string;
  engine: string;
  createdAt: string;
  stoppedAt?: string;
}

export function createSimulatedProvider(network: DepinNetwork, options: { engineDir: string }): DepinProvider {
  const dir = resolve(options.engineDir);
  const engines = createLocalProvider({ engineDir: dir });
  const prefix = `sim-${network}-`;
  const recordFile = (id: string) => join(dir, `${id}.job.json`);
  const logFile = (id: string) => join(dir, `${id}.log`);

  const readRecord = (id: string): JobRecord | undefined => {
    if (!id.startsWith(prefix) || !SAFE_ID.test(id.slice(prefix.length)) || !existsSync(recordFile(id))) return undefined;
    return JSON.parse(readFileSync(recordFile(id), 'utf8')) as JobRecord;
  };
  const writeRecord = (id: string, record: JobRecord) => writeFileSync(recordFile(id), JSON.stringify(record));

  async function status(id: string, record: JobRecord): Promise<DepinJob> {
    const base = { jobId: id, instanceId: record.instanceId, createdAt: record.createdAt };
    if (record.stoppedAt) return { ...base, state: 'STOPPED', message: `stopped at ${record.stoppedAt}` };
    const probe = await engines.probeEngine(id);
    if (probe.state === 'READY') return { ...base, state: 'RUNNING', exposeUrl: probe.exposeUrl };
    if (probe.state === 'PROVISIONING') return { ...base, state: 'QUEUED', message: 'simulated node is starting the engine' };
    const last = (await engines.getLogs(id, { tail: 1 }))[0];
    return { ...base, state: 'FAILED', message: `engine process exited${last ? `; last log line: ${last}` : ''}` };
  }

  function spawnEngine(id: string, spec: DepinJobSpec) {
    mkdirSync(dir, { recursive: true });
    const log = openSync(logFile(id), 'a');
    if (spec.engine !== 'mock') {
      writeFileSync(log, `[sidecar-simulation] ${network} job for engine '${spec.engine}' is simulated by the mock engine\n`);
    }
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
        INFERIA_PROVIDER: network,
        INFERIA_PROVIDER_INSTANCE_ID: id,
        INFERIA_MOCK_TOKEN_DELAY_MS: String(spec.configuration.token_delay_ms ?? 0),
      },
    });
    closeSync(log);
    if (!child.pid) throw new Error(`could not start the simulated engine for ${id}`);
    child.unref();
    writeFileSync(join(dir, `${id}.pid`), String(child.pid));
  }

  return {
    network,
    mode: 'simulation',

    async createJob(spec) {
      if (!SAFE_ID.test(spec.instanceId)) throw new DepinConfigError(`instance_id '${spec.instanceId}' must match ${SAFE_ID.source}`);
      const id = simulatedJobId(network, spec.instanceId);
      const existing = readRecord(id);
      if (existing) {
        const current = await status(id, existing);
        if (isLive(current.state)) return current;
        await engines.stopEngine(id); // a FAILED job may leave a pid file behind
      }
      spawnEngine(id, spec);
      const record: JobRecord = { instanceId: spec.instanceId, model: spec.model, engine: spec.engine, createdAt: new Date().toISOString() };
      writeRecord(id, record);
      return status(id, record);
    },

    async getJob(id) {
      const record = readRecord(id);
      return record && status(id, record);
    },

    async stopJob(id) {
      const record = readRecord(id);
      if (!record) return undefined;
      const before = await status(id, record);
      await engines.stopEngine(id);
      if (!isLive(before.state)) return before;
      const stopped = { ...record, stoppedAt: new Date().toISOString() };
      writeRecord(id, stopped);
      return status(id, stopped);
    },

    async jobLogs(id, tail) {
      if (!readRecord(id)) return undefined;
      return engines.getLogs(id, { tail });
    },

    async listJobs() {
      if (!existsSync(dir)) return [];
      const ids = readdirSync(dir)
        .filter((f) => f.startsWith(prefix) && f.endsWith('.job.json'))
        .map((f) => f.slice(0, -'.job.json'.length));
      const jobs: DepinJob[] = [];
      for (const id of ids) {
        const record = readRecord(id);
        if (record) jobs.push(await status(id, record));
      }
      return jobs;
    },

    async resources() {
      return [
        {
          name: `${network}:simulated`,
          gpuType: null,
          gpuCount: 0,
          vcpu: cpus().length,
          ramGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
          pricePerHour: 0,
          available: true,
        },
      ];
    },
  };
}
