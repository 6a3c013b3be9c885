// Live Nosana: an engine replica is a Nosana job. The job definition (one container/run op with
// the engine image, port 8000 exposed) is pinned to IPFS and posted to the configured market,
// paid by the configured Solana wallet; state comes from the jobs program, stop is `end` (running)
// or `delist` (still queued), and a finished job's logs come from its IPFS result.
//
// Not done here: extending a job before its timeout (configuration.timeout_seconds, default 24 h;
// the SDK's `jobs.extend` would do it), and logs of a job that is still running (the node streams
// them over an authenticated websocket the SDK does not wrap).
import { Client, getExposeIdHash, getWallet, validateJobDefinition, type Job, type JobDefinition } from '@nosana/sdk';
import { PublicKey } from '@solana/web3.js';
import { createJobLedger } from '../job-ledger.js';
import { ENGINE_PORT, engineContainer } from '../container.js';
import { DepinConfigError, isLive, type DepinJob, type DepinJobSpec, type DepinJobState, type DepinProvider } from '../types.js';

export interface NosanaLiveOptions {
  /** Base58 secret key (or a JSON byte array) of the wallet that pays for jobs. */
  walletKey?: string;
  /** Address of the market jobs are posted to. */
  market?: string;
  network: 'mainnet' | 'devnet';
  rpcUrl?: string;
  /** Where the instance → job record is kept across restarts. */
  ledgerFile?: string;
}

const DEFAULT_TIMEOUT_SECONDS = 24 * 3600;
const ENGINE_OP_INDEX = 0;

/** Checks the settings without touching the network; every problem is named in one error. */
export function validateNosanaConfig(options: NosanaLiveOptions): { walletKey: string; market: string } {
  const problems: string[] = [];
  if (!options.walletKey) problems.push('NOSANA_WALLET_KEY is not set (base58 secret key of the paying Solana wallet)');
  else {
    try {
      getWallet(options.walletKey);
    } catch {
      problems.push('NOSANA_WALLET_KEY is not a valid Solana secret key (base58 or a JSON byte array)');
    }
  }
  if (!options.market) problems.push('NOSANA_MARKET is not set (address of the Nosana market to post jobs to)');
  else {
    try {
      new PublicKey(options.market);
    } catch {
      problems.push(`NOSANA_MARKET '${options.market}' is not a Solana address`);
    }
  }
  if (problems.length > 0) throw new DepinConfigError(`live Nosana mode (NOSANA_MODE=live) is misconfigured: ${problems.join('; ')}`);
  return { walletKey: options.walletKey!, market: options.market! };
}

/** The Nosana job definition for one engine replica; validated against the SDK's schema. */
export function buildNosanaJobDefinition(spec: DepinJobSpec): JobDefinition {
  const container = engineContainer(spec);
  // Job definitions are public on IPFS, so the node token and heartbeat URL stay out of them:
  // the worker learns readiness from the sidecar's status route instead of a heartbeat.
  const vram = typeof spec.configuration.required_vram_gb === 'number' ? spec.configuration.required_vram_gb : undefined;
  const definition: JobDefinition = {
    version: '0.1',
    type: 'container',
    meta: { trigger: 'inferia', inferia_instance_id: spec.instanceId, inferia_model: spec.model },
    ops: [
      {
        type: 'container/run',
        id: 'engine',
        args: {
          image: container.image,
          ...(container.entrypoint ? { entrypoint: container.entrypoint } : {}),
          cmd: container.args,
          gpu: container.gpu,
          expose: [
            {
              port: ENGINE_PORT,
              type: 'api',
              health_checks: [{ type: 'http', path: container.healthPath, method: 'GET', expected_status: 200, continuous: false }],
            },
          ],
          ...(Object.keys(container.env).length > 0 ? { env: container.env } : {}),
          ...(vram ? { required_vram: vram } : {}),
        },
      },
    ],
  };
  const check = validateJobDefinition(definition);
  if (!check.success) {
    const first = check.errors[0];
    throw new DepinConfigError(`invalid Nosana job definition: ${first ? `${first.path}: expected ${first.expected}` : 'rejected by the SDK'}`);
  }
  return definition;
}

/** The public URL Nosana's ingress gives the engine op's exposed port of a job. */
export function nosanaServiceUrl(jobAddress: string, network: 'mainnet' | 'devnet'): string {
  const domain = network === 'mainnet' ? 'node.k8s.prd.nos.ci' : 'node.k8s.dev.nos.ci';
  return `https://${getExposeIdHash(jobAddress, ENGINE_OP_INDEX, ENGINE_PORT)}.${domain}`;
}

/** Log lines from a finished job's IPFS result (a flow state: opStates[].logs[]). */
export function logsFromResult(result: unknown): string[] {
  const state = (result && typeof result === 'object' && 'opStates' in result ? result : (result as { state?: unknown } | null)?.state) as
    | { opStates?: { logs?: { log?: string }[] }[] }
    | undefined;
  return (state?.opStates ?? []).flatMap((op) => (op.logs ?? []).flatMap((l) => (l.log ?? '').split('\n'))).filter((l) => l.length > 0);
}

const CHAIN_STATES: Record<string, DepinJobState> = { QUEUED: 'QUEUED', RUNNING: 'RUNNING', COMPLETED: 'COMPLETED', STOPPED: 'STOPPED' };

export function createNosanaLiveProvider(options: NosanaLiveOptions): DepinProvider {
  const { walletKey, market } = validateNosanaConfig(options);
  const ledger = createJobLedger(options.ledgerFile);
  let client: Client | undefined;
  // Built on first use: constructing the provider does no network I/O.
  const sdk = () => (client ??= new Client(options.network, walletKey, options.rpcUrl ? { solana: { network: options.rpcUrl } } : {}));

  async function fetchJob(jobId: string): Promise<Job | undefined> {
    try {
      return await sdk().jobs.get(jobId);
    } catch (err) {
      // A delisted job's account is closed.
      if (/does not exist|has no data/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /** The job as the routes report it, and whether a node has taken it (then `end` stops it, else `delist`). */
  async function chainStatus(jobId: string, instanceId: string, createdAt: string): Promise<{ job: DepinJob; onNode: boolean }> {
    const base = { jobId, instanceId, createdAt };
    const job = await fetchJob(jobId);
    if (!job) return { job: { ...base, state: 'STOPPED', message: 'job account closed (delisted before a node took it)' }, onNode: false };
    const state = CHAIN_STATES[String(job.state)];
    if (!state) return { job: { ...base, state: 'FAILED', message: `unknown Nosana job state '${String(job.state)}'` }, onNode: false };
    if (state !== 'RUNNING') return { job: { ...base, state }, onNode: false };
    // Running on chain is not serving yet (image pull, model load): report RUNNING once the exposed service answers.
    const exposeUrl = nosanaServiceUrl(jobId, options.network);
    const healthy = await fetch(`${exposeUrl}/health`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.ok,
      () => false,
    );
    return healthy
      ? { job: { ...base, state: 'RUNNING', exposeUrl }, onNode: true }
      : { job: { ...base, state: 'QUEUED', message: `running on node ${job.node}; the engine at ${exposeUrl} is not answering yet` }, onNode: true };
  }
  const status = async (jobId: string, instanceId: string, createdAt: string) => (await chainStatus(jobId, instanceId, createdAt)).job;

  const known = (jobId: string) => ledger.byJob(jobId);

  return {
    network: 'nosana',
    mode: 'live',

    async createJob(spec) {
      const previous = ledger.byInstance(spec.instanceId);
      if (previous) {
        const current = await status(previous.jobId, previous.instanceId, previous.createdAt);
        if (isLive(current.state)) return current;
      }
      const definition = buildNosanaJobDefinition(spec);
      const timeout = typeof spec.configuration.timeout_seconds === 'number' ? spec.configuration.timeout_seconds : DEFAULT_TIMEOUT_SECONDS;
      const ipfsHash = await sdk().jobs.pinJobDefinition(definition);
      const posted = await sdk().jobs.list(ipfsHash, timeout, market);
      if (!('job' in posted)) throw new Error('Nosana SDK returned an instruction instead of a posted job');
      const createdAt = new Date().toISOString();
      ledger.record({ instanceId: spec.instanceId, jobId: posted.job, createdAt, details: { ipfsJob: ipfsHash, tx: posted.tx, run: posted.run } });
      return { jobId: posted.job, instanceId: spec.instanceId, state: 'QUEUED', createdAt, message: `posted to market ${market}` };
    },

    async getJob(jobId) {
      const entry = known(jobId);
      return entry && status(jobId, entry.instanceId, entry.createdAt);
    },

    async stopJob(jobId) {
      const entry = known(jobId);
      if (!entry) return undefined;
      const { job: before, onNode } = await chainStatus(jobId, entry.instanceId, entry.createdAt);
      if (!isLive(before.state)) return before;
      // A node may take the job between our read and the call, so fall back to the other one.
      const [first, second] = onNode ? (['end', 'delist'] as const) : (['delist', 'end'] as const);
      try {
        await sdk().jobs[first](jobId);
      } catch (err) {
        try {
          await sdk().jobs[second](jobId);
        } catch {
          throw err;
        }
      }
      return status(jobId, entry.instanceId, entry.createdAt);
    },

    async jobLogs(jobId, tail) {
      const entry = known(jobId);
      if (!entry) return undefined;
      const job = await fetchJob(jobId);
      if (!job || (job.state !== 'COMPLETED' && job.state !== 'STOPPED')) {
        return ['[sidecar] Nosana publishes a job\'s logs to IPFS when it finishes; this job has not finished'];
      }
      const result: unknown = await sdk().ipfs.retrieve(job.ipfsResult);
      return logsFromResult(result).slice(-tail);
    },

    async listJobs() {
      const jobs: DepinJob[] = [];
      for (const entry of ledger.all()) jobs.push(await status(entry.jobId, entry.instanceId, entry.createdAt));
      return jobs;
    },

    async resources() {
      const m = await sdk().jobs.getMarket(market);
      // A market's queue holds either jobs waiting for nodes or nodes waiting for jobs (queueType 1).
      const idleNodes = m.queueType === 1 ? m.queue.length : 0;
      return [{ name: `nosana:${market}`, gpuType: null, gpuCount: 1, vcpu: 0, ramGb: 0, pricePerHour: null, available: idleNodes > 0 }];
    },
  };
}
