// Live Akash end to end against TEST DOUBLES: the chain (chain-test-double.ts, in memory, every
// message encoded and decoded with the akash-api types) and a provider's gateway
// (provider-gateway-test-double.ts, a local HTTPS server demanding our client certificate).
// Deployment → bids → lease → certificate → manifest → lease status → RUNNING, then logs and stop.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DepinJobSpec, DepinProvider } from '../types.js';
import type { AkashBid } from './akash-market.js';
import { akashManifest, buildAkashSdl, createAkashLiveProvider, sortedJson, type AkashLiveOptions } from './akash-live.js';
import { createChainTestDouble, type ChainTestDouble } from './chain-test-double.js';
import { startProviderGatewayTestDouble, type ProviderGatewayTestDouble } from './provider-gateway-test-double.js';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const OWNER = 'akash1qy352eufqy352eufqy352eufqy352eufh6rrvr';
const PROVIDER = 'akash18ga02jzaq8cw52anyhzkwta5wygufgu6zsz6xc';
const PRICEY = 'akash1r9z6f4xg3j3ytxwzqmf0c7vwdd3jtm7vn5yfwy';

const spec = (overrides: Partial<DepinJobSpec> = {}): DepinJobSpec => ({
  instanceId: 'dep-flow-r0',
  model: 'llama-3-8b',
  engine: 'vllm',
  artifactUri: 'meta-llama/Meta-Llama-3-8B-Instruct',
  gpuPerReplica: 1,
  configuration: {},
  heartbeat: { url: 'https://orchestration.example/inventory/heartbeat', token: 'secret-node-token', intervalMs: 5000 },
  ...overrides,
});

const bid = (provider: string, price: number): AkashBid => ({ provider, gseq: 1, oseq: 1, price, denom: 'uakt' });
const typeUrls = (chain: ChainTestDouble) => chain.transactions.map((t) => t.messages.map((m) => m.typeUrl.split('.').pop()));

describe('live Akash job flow (chain and provider gateway TEST DOUBLES)', () => {
  let dir: string;
  let chain: ChainTestDouble;
  let double: ProviderGatewayTestDouble;
  let probed: string[];
  let healthy: boolean;

  const provider = (overrides: Partial<AkashLiveOptions> = {}): DepinProvider =>
    createAkashLiveProvider({
      mnemonic: MNEMONIC,
      ledgerFile: join(dir, 'sidecar', 'akash-jobs.json'),
      chain,
      probe: async (url) => {
        probed.push(url);
        return healthy;
      },
      timing: { bidWindowMs: 0, bidPollMs: 1, createWaitMs: 1_000 },
      sleep: async () => undefined,
      ...overrides,
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'akash-flow-'));
    chain = createChainTestDouble(OWNER);
    double = await startProviderGatewayTestDouble({
      provider: PROVIDER,
      clientCertificatesOnChain: (owner) => (chain.certificateBook.get(owner) ?? []).filter((c) => c.state === 'valid').map((c) => c.cert),
    });
    chain.providers.set(PROVIDER, double.hostUri);
    chain.certificateBook.set(PROVIDER, [{ serial: '1', state: 'valid', cert: double.certificatePem }]);
    chain.bids = () => [bid(PRICEY, 20), bid(PROVIDER, 8)];
    probed = [];
    healthy = true;
  });
  afterEach(async () => {
    await double.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys, leases the cheapest bid, publishes a certificate, sends the manifest and reports RUNNING', async () => {
    const job = await provider().createJob(spec());
    expect(job).toMatchObject({ instanceId: 'dep-flow-r0', state: 'RUNNING', exposeUrl: `http://${double.ingressHost}` });
    const dseq = job.jobId;

    expect(typeUrls(chain)).toEqual([['MsgCreateDeployment'], ['MsgCreateLease'], ['MsgCreateCertificate']]);
    expect(chain.transactions[1]!.messages[0]!.value).toMatchObject({ bidId: { owner: OWNER, gseq: 1, oseq: 1, provider: PROVIDER } });
    expect(String((chain.transactions[1]!.messages[0]!.value as { bidId: { dseq: unknown } }).bidId.dseq)).toBe(dseq);

    // The provider got the manifest whose hash is the deployment's version, over mTLS with the certificate now on chain.
    const manifest = double.manifests.get(dseq)!;
    expect(manifest).toBe(sortedJson(akashManifest(buildAkashSdl(spec()))));
    const version = (chain.transactions[0]!.messages[0]!.value as { version: Uint8Array }).version;
    expect(createHash('sha256').update(manifest).digest().toString('hex')).toBe(Buffer.from(version).toString('hex'));
    const [published] = chain.certificateBook.get(OWNER)!;
    expect(double.presented.every((p) => p.subjectCN === OWNER && p.serial === published!.serial)).toBe(true);
    expect(probed).toEqual([`http://${double.ingressHost}/health`]);

    // Secrets stay in 0600 files: the key with the certificate, the node token with the manifest; the ledger has neither.
    const certFile = join(dir, 'sidecar', 'akash-client-cert.json');
    const manifestFile = join(dir, 'sidecar', 'akash-manifests.json');
    expect(statSync(certFile).mode & 0o777).toBe(0o600);
    expect(statSync(manifestFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(certFile, 'utf8'))).toMatchObject({ owner: OWNER, serial: published!.serial, cert: published!.cert });
    const ledger = readFileSync(join(dir, 'sidecar', 'akash-jobs.json'), 'utf8');
    expect(ledger).not.toContain('secret-node-token');
    expect(ledger).not.toContain('PRIVATE KEY');
  });

  it('reuses the certificate for later jobs and after a restart, reads logs and stops', async () => {
    const first = await provider().createJob(spec());
    const second = await provider().createJob(spec({ instanceId: 'dep-flow-r1' }));
    expect(second.state).toBe('RUNNING');
    expect(typeUrls(chain).flat().filter((t) => t === 'MsgCreateCertificate')).toHaveLength(1);

    const restarted = provider(); // a new sidecar process over the same files
    expect(await restarted.getJob(second.jobId)).toMatchObject({ state: 'RUNNING', exposeUrl: `http://${double.ingressHost}` });
    expect(await restarted.createJob(spec())).toMatchObject({ jobId: first.jobId, state: 'RUNNING' }); // idempotent per instance
    expect(typeUrls(chain).flat().filter((t) => t === 'MsgCreateCertificate')).toHaveLength(1);
    expect(typeUrls(chain).flat().filter((t) => t === 'MsgCreateDeployment')).toHaveLength(2);

    double.logLines = [
      { name: 'engine', message: 'INFO loading weights' },
      { name: 'engine', message: 'INFO ready' },
    ];
    expect(await restarted.jobLogs(first.jobId, 1)).toEqual(['INFO ready']);

    expect(await restarted.stopJob(first.jobId)).toMatchObject({ jobId: first.jobId, state: 'STOPPED' });
    expect(typeUrls(chain).at(-1)).toEqual(['MsgCloseDeployment']);
    expect(chain.leaseBook.find((l) => l.dseq === first.jobId)?.state).toBe('closed');
    expect(await restarted.stopJob(first.jobId)).toMatchObject({ state: 'STOPPED' }); // idempotent, nothing sent
    expect(typeUrls(chain).flat().filter((t) => t === 'MsgCloseDeployment')).toHaveLength(1);
    expect((await restarted.listJobs()).map((j) => [j.jobId, j.state])).toEqual([
      [first.jobId, 'STOPPED'],
      [second.jobId, 'RUNNING'],
    ]);
  });

  it('stays QUEUED while bids are collected or too dear, then moves one step per poll to RUNNING', async () => {
    const slow = provider({ timing: { bidWindowMs: 60_000, createWaitMs: 0 } });
    const collecting = await slow.createJob(spec({ instanceId: 'dep-flow-window' }));
    expect(collecting).toMatchObject({ state: 'QUEUED', message: expect.stringMatching(/collecting provider bids on deployment \d+: 2 so far/) });
    expect(typeUrls(chain)).toEqual([['MsgCreateDeployment']]);

    const p = provider({ timing: { bidWindowMs: 0, createWaitMs: 0 } });
    const job = await p.createJob(spec({ configuration: { max_price_uakt: 5 } }));
    expect(job).toMatchObject({ state: 'QUEUED', message: expect.stringMatching(/cheapest 8 uakt\/block is above max_price_uakt 5/) });

    chain.bids = () => [bid(PROVIDER, 4.5)];
    double.available = 0;
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'QUEUED', message: expect.stringMatching(/lease with .*: service engine at http:\/\/\S+ is starting \(0\/1 available\)/) });
    expect(typeUrls(chain).slice(-2)).toEqual([['MsgCreateLease'], ['MsgCreateCertificate']]);

    double.available = 1;
    healthy = false;
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'QUEUED', message: expect.stringMatching(/the engine at http:\/\/\S+ is not answering \/health yet/) });
    healthy = true;
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'RUNNING', exposeUrl: `http://${double.ingressHost}` });
    expect(double.requests.filter((r) => r.method === 'PUT')).toHaveLength(1); // the manifest went once
  });

  it('reports a failed lease transaction as QUEUED and retries it on the next poll', async () => {
    const p = provider({ timing: { bidWindowMs: 0, createWaitMs: 0 } });
    chain.bids = () => [];
    const job = await p.createJob(spec());
    expect(job).toMatchObject({ state: 'QUEUED', message: expect.stringMatching(/no provider has bid yet/) });

    chain.bids = () => [bid(PROVIDER, 8)];
    chain.failNextBroadcast = 'insufficient fees';
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'QUEUED', message: `creating the lease with ${PROVIDER} at 8 uakt/block: insufficient fees` });
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'RUNNING' });
  });

  it('fails a job whose lease the provider closed, and one whose deployment is gone', async () => {
    const p = provider();
    const job = await p.createJob(spec());
    chain.leaseBook.find((l) => l.dseq === job.jobId)!.state = 'insufficient_funds';
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'FAILED', message: expect.stringMatching(/lease with .* ended \(insufficient_funds\)/) });
    chain.deployments.delete(job.jobId);
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'FAILED', message: expect.stringMatching(/is not on chain/) });
  });

  it('answers getJob within its budget while a step is still under way', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const p = provider({ timing: { bidWindowMs: 0, createWaitMs: 0, stepBudgetMs: 50 } });
    chain.bids = () => [];
    const job = await p.createJob(spec());
    chain.bids = () => [bid(PROVIDER, 8)];
    const broadcast = chain.broadcast;
    chain.broadcast = async (messages, memo) => {
      await stuck;
      return broadcast(messages, memo);
    };
    expect(await p.getJob(job.jobId)).toMatchObject({ state: 'QUEUED', message: `creating the lease with ${PROVIDER} at 8 uakt/block (still in progress)` });
    expect(await p.getJob(job.jobId)).toMatchObject({ message: expect.stringMatching(/still in progress/) }); // joins the same step
    release();
    chain.broadcast = broadcast;
    await vi.waitFor(async () => expect(await p.getJob(job.jobId)).toMatchObject({ state: 'RUNNING' }), { timeout: 5_000, interval: 20 });
    expect(typeUrls(chain).flat().filter((t) => t === 'MsgCreateLease')).toHaveLength(1);
  });
});
