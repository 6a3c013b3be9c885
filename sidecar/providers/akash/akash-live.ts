// Live Akash: an engine replica is an Akash deployment, taken through Akash's documented flow
// (the same steps the Akash console and akashjs take):
//   1. SDL → deployment groups + manifest; the manifest's hash is the deployment version
//      (sha-256 of the sorted manifest JSON, as akashjs computes it); MsgCreateDeployment.
//   2. Providers bid on the deployment's order. Bids are collected for a short window, then the
//      cheapest acceptable one (in uakt, at or below configuration.max_price_uakt when set) is
//      accepted with MsgCreateLease.
//   3. A client certificate (akash-cert.ts) is published on chain once and reused by every job.
//   4. The manifest goes to the winning provider's gateway (PUT /deployment/{dseq}/manifest over
//      mTLS, akash-gateway.ts); lease status from the same gateway gives the service's URI, and the
//      job is RUNNING once the engine answers its health path there.
//   5. stop: MsgCloseDeployment, which also closes the lease.
// createJob waits for the lease (bounded, so the sidecar's caller does not time out); each getJob
// moves a job one step further (single-flight per job), so progress survives a sidecar restart:
// the chain says whether a lease exists and the provider whether it has the manifest.
//
// Versions: deployment v1beta3, market v1beta4, cert v1beta3, provider v1beta3 from
// @akashnetwork/akash-api 1.4.3 — what Akash node v0.36–v0.38 serves. A chain that has moved to
// node v1.x (the `pkg.akt.dev` chain-sdk: deployment v1beta4, market v1beta5, cert v1) rejects them.
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import type { EncodeObject } from '@cosmjs/proto-signing';
import { ENGINE_PORT, engineContainer } from '../container.js';
import { createJobLedger, type LedgerEntry } from '../job-ledger.js';
import { DepinConfigError, isLive, type DepinJob, type DepinJobSpec, type DepinProvider } from '../types.js';
import { createCertificateMessage, createCertificateStore, generateClientCertificate, isUsableCertificate, type AkashClientCertificate } from './akash-cert.js';
import { DENOM, createAkashChain, type AkashChain, type AkashLease } from './akash-chain.js';
import { createProviderGateway, serviceEndpoint, type ProviderGateway, type ProviderGatewayTarget, type ProviderLeaseStatus } from './akash-gateway.js';
import { chooseBid, createLeaseMessage } from './akash-market.js';
import { readPrivateJson, writePrivateJson } from './private-file.js';

export { akashRegistry } from './akash-chain.js';

const { MsgCloseDeployment, MsgCreateDeployment } = akashDeployment;

export const AKASH_DEFAULT_RPC = 'https://rpc.akashnet.net:443';
const DEFAULT_DEPOSIT_UAKT = 5_000_000; // the chain's minimum deposit (5 AKT), returned on close
const PLACEMENT = 'akash';
const SERVICE = 'engine';
const MSG_CREATE = `/${MsgCreateDeployment.$type}`;
const MSG_CLOSE = `/${MsgCloseDeployment.$type}`;

export interface AkashTiming {
  /** Bids are collected this long after the deployment is on chain before the cheapest is taken. */
  bidWindowMs: number;
  bidPollMs: number;
  /** How long createJob waits for a bid and a lease before answering QUEUED (its caller allows 120 s). */
  createWaitMs: number;
  /** How long getJob waits on a step (a lease tx, the manifest) before answering QUEUED (its caller allows 30 s). */
  stepBudgetMs: number;
  /** How long a provider's host URI and certificates, and our certificate's on-chain check, are reused. */
  cacheMs: number;
}

export const AKASH_TIMING: AkashTiming = { bidWindowMs: 20_000, bidPollMs: 3_000, createWaitMs: 75_000, stepBudgetMs: 20_000, cacheMs: 5 * 60_000 };

export interface AkashLiveOptions {
  mnemonic?: string;
  rpcUrl?: string;
  ledgerFile?: string;
  /**
   * Where the client certificate and the manifests (they carry the node token) are kept, in files
   * of mode 0600: the ledger's folder by default; in memory when there is no ledger file either.
   */
  dataDir?: string;
  /** Stand-ins for tests; the real chain, gateway and health probe otherwise. */
  chain?: AkashChain;
  gateway?: (target: ProviderGatewayTarget) => ProviderGateway;
  probe?: (url: string) => Promise<boolean>;
  timing?: Partial<AkashTiming>;
  sleep?: (ms: number) => Promise<void>;
}

// ---------------------------------------------------------------- SDL, groups, manifest (pure)

export interface AkashSdl {
  version: '2.0';
  services: Record<
    string,
    {
      image: string;
      command?: string[];
      args?: string[];
      env?: string[];
      expose: { port: number; as: number; to: { global: boolean }[]; http_options?: { max_body_size: number } }[];
    }
  >;
  profiles: {
    compute: Record<
      string,
      {
        resources: {
          cpu: { units: number };
          memory: { size: string };
          storage: { size: string }[];
          gpu: { units: number; attributes?: { vendor: { nvidia: { model: string }[] | null } } };
        };
      }
    >;
    placement: Record<string, { pricing: Record<string, { denom: string; amount: number }> }>;
  };
  deployment: Record<string, Record<string, { profile: string; count: number }>>;
}

const positive = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);
const GIB = 2 ** 30;
const MAX_BODY_BYTES = 10 * 1024 * 1024; // prompts exceed the ingress default of 1 MiB

/**
 * The SDL for one engine replica. Sizes come from configuration (vcpu, memory_gb, storage_gb,
 * gpu_model, max_price_uakt per block) with defaults for a GPU or a CPU engine. The heartbeat
 * settings go into env: unlike a Nosana job definition, a manifest reaches only the provider.
 */
export function buildAkashSdl(spec: DepinJobSpec): AkashSdl {
  const container = engineContainer(spec);
  const c = spec.configuration;
  const gpus = Math.max(0, Math.floor(spec.gpuPerReplica));
  const model = typeof c.gpu_model === 'string' && c.gpu_model ? c.gpu_model : undefined;
  const env = {
    ...container.env,
    INFERIA_HEARTBEAT_URL: spec.heartbeat.url,
    INFERIA_NODE_TOKEN: spec.heartbeat.token,
    INFERIA_HEARTBEAT_INTERVAL_MS: String(spec.heartbeat.intervalMs),
    INFERIA_PROVIDER: 'akash',
  };
  return {
    version: '2.0',
    services: {
      [SERVICE]: {
        image: container.image,
        ...(container.entrypoint ? { command: container.entrypoint } : {}),
        args: container.args,
        env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        expose: [{ port: ENGINE_PORT, as: 80, to: [{ global: true }], http_options: { max_body_size: MAX_BODY_BYTES } }],
      },
    },
    profiles: {
      compute: {
        [SERVICE]: {
          resources: {
            cpu: { units: positive(c.vcpu, gpus > 0 ? 4 : 1) },
            memory: { size: `${positive(c.memory_gb, gpus > 0 ? 32 : 2)}Gi` },
            storage: [{ size: `${positive(c.storage_gb, gpus > 0 ? 100 : 10)}Gi` }],
            gpu: gpus > 0 ? { units: gpus, attributes: { vendor: { nvidia: model ? [{ model }] : null } } } : { units: 0 },
          },
        },
      },
      placement: { [PLACEMENT]: { pricing: { [SERVICE]: { denom: DENOM, amount: positive(c.max_price_uakt, 10_000) } } } },
    },
    deployment: { [SERVICE]: { [PLACEMENT]: { profile: SERVICE, count: 1 } } },
  };
}

const gib = (size: string) => Math.round(Number(size.replace(/Gi$/, '')) * GIB);
const bytes = (s: string) => new TextEncoder().encode(s);

interface Resolved {
  service: AkashSdl['services'][string];
  resources: AkashSdl['profiles']['compute'][string]['resources'];
  price: { denom: string; amount: number };
  count: number;
}

function resolve(sdl: AkashSdl): Resolved {
  const service = sdl.services[SERVICE];
  const placement = sdl.deployment[SERVICE]?.[PLACEMENT];
  const resources = sdl.profiles.compute[SERVICE]?.resources;
  const price = sdl.profiles.placement[PLACEMENT]?.pricing[SERVICE];
  if (!service || !placement || !resources || !price) throw new DepinConfigError(`the SDL must define service, profile and placement '${SERVICE}'/'${PLACEMENT}'`);
  return { service, resources, price, count: placement.count };
}

const gpuAttributes = (gpu: Resolved['resources']['gpu']) =>
  gpu.units > 0 && gpu.attributes
    ? (gpu.attributes.vendor.nvidia ?? [{ model: '*' }]).map((m) => ({ key: `vendor/nvidia/model/${m.model}`, value: 'true' }))
    : [];

/** Global port 80 over TCP goes through the provider's shared HTTP ingress (endpoint kind 0). */
const SHARED_HTTP = 0;

/** The deployment groups of MsgCreateDeployment (GroupSpec, in fromPartial form). */
export function akashGroups(sdl: AkashSdl) {
  const { resources, price, count } = resolve(sdl);
  return [
    {
      name: PLACEMENT,
      requirements: { attributes: [], signedBy: { allOf: [], anyOf: [] } },
      resources: [
        {
          resource: {
            id: 1,
            cpu: { units: { val: bytes(String(Math.round(resources.cpu.units * 1000))) }, attributes: [] },
            memory: { quantity: { val: bytes(String(gib(resources.memory.size))) }, attributes: [] },
            storage: resources.storage.map((s) => ({ name: 'default', quantity: { val: bytes(String(gib(s.size))) }, attributes: [] })),
            gpu: { units: { val: bytes(String(resources.gpu.units)) }, attributes: gpuAttributes(resources.gpu) },
            endpoints: [{ kind: SHARED_HTTP, sequenceNumber: 0 }],
          },
          count,
          // akash-api's DecCoin patch scales this to the chain's 18-decimal encoding.
          price: { denom: price.denom, amount: String(price.amount) },
        },
      ],
    },
  ];
}

/** The manifest (v3 shape) the provider receives once a lease exists; its hash is the deployment version. */
export function akashManifest(sdl: AkashSdl) {
  const { service, resources, count } = resolve(sdl);
  const gpuAttrs = gpuAttributes(resources.gpu);
  return [
    {
      name: PLACEMENT,
      services: [
        {
          name: SERVICE,
          image: service.image,
          command: service.command ?? null,
          args: service.args ?? null,
          env: service.env ?? null,
          resources: {
            id: 1,
            cpu: { units: { val: String(Math.round(resources.cpu.units * 1000)) } },
            memory: { size: { val: String(gib(resources.memory.size)) } },
            storage: resources.storage.map((s) => ({ name: 'default', size: { val: String(gib(s.size)) } })),
            endpoints: [{ sequence_number: 0 }], // kind 0 (shared HTTP) is omitted, as akashjs does
            gpu: gpuAttrs.length > 0 ? { units: { val: String(resources.gpu.units) }, attributes: gpuAttrs } : { units: { val: String(resources.gpu.units) } },
          },
          count,
          expose: service.expose.flatMap((e) =>
            e.to.map((to) => ({
              port: e.port,
              externalPort: e.as,
              proto: 'TCP',
              service: '',
              global: to.global,
              hosts: null,
              httpOptions: {
                maxBodySize: e.http_options?.max_body_size ?? 1_048_576,
                readTimeout: 60_000,
                sendTimeout: 60_000,
                nextTries: 3,
                nextTimeout: 0,
                nextCases: ['error', 'timeout'],
              },
              ip: '',
              endpointSequenceNumber: 0,
            })),
          ),
          params: null,
          credentials: null,
        },
      ],
    },
  ];
}

/** JSON with keys sorted at every level and <, >, & escaped as Go's encoder writes them. */
export function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value)).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/** The deployment version: sha-256 of the sorted manifest JSON. */
export function manifestVersion(manifest: unknown): Uint8Array {
  return new Uint8Array(createHash('sha256').update(sortedJson(manifest)).digest());
}

export function createDeploymentMessage(input: { owner: string; dseq: string; sdl: AkashSdl; depositUakt?: number }): EncodeObject {
  return {
    typeUrl: MSG_CREATE,
    value: MsgCreateDeployment.fromPartial({
      id: { owner: input.owner, dseq: input.dseq },
      groups: akashGroups(input.sdl),
      version: manifestVersion(akashManifest(input.sdl)),
      deposit: { denom: DENOM, amount: String(input.depositUakt ?? DEFAULT_DEPOSIT_UAKT) },
      depositor: input.owner,
    }),
  };
}

export function closeDeploymentMessage(owner: string, dseq: string): EncodeObject {
  return { typeUrl: MSG_CLOSE, value: MsgCloseDeployment.fromPartial({ id: { owner, dseq } }) };
}

/** Checks the settings without touching the network. */
export function validateAkashConfig(options: AkashLiveOptions): { mnemonic: string; rpcUrl: string } {
  const problems: string[] = [];
  const words = options.mnemonic?.trim().split(/\s+/).filter(Boolean) ?? [];
  if (!options.mnemonic) problems.push("AKASH_MNEMONIC is not set (the deployer wallet's BIP-39 mnemonic)");
  else if (![12, 15, 18, 21, 24].includes(words.length)) problems.push(`AKASH_MNEMONIC has ${words.length} words; a BIP-39 mnemonic has 12, 15, 18, 21 or 24`);
  const rpcUrl = options.rpcUrl ?? AKASH_DEFAULT_RPC;
  if (!/^https?:\/\//.test(rpcUrl)) problems.push(`AKASH_RPC_URL '${rpcUrl}' is not an http(s) URL`);
  if (problems.length > 0) throw new DepinConfigError(`live Akash mode (NOSANA_MODE=live) is misconfigured: ${problems.join('; ')}`);
  return { mnemonic: words.join(' '), rpcUrl };
}

// ---------------------------------------------------------------- the provider (network I/O)

/** The manifests of this sidecar's deployments, by dseq: needed until the provider has one, and again if it loses it. */
function createManifestStore(file: string | undefined) {
  let manifests: Record<string, string> | undefined;
  const load = () => (manifests ??= (file && readPrivateJson<Record<string, string>>(file)) || {});
  const save = () => file && writePrivateJson(file, load());
  return {
    get: (dseq: string): string | undefined => load()[dseq],
    put(dseq: string, manifestJson: string) {
      load()[dseq] = manifestJson;
      save();
    },
    delete(dseq: string) {
      if (!(dseq in load())) return;
      delete load()[dseq];
      save();
    },
  };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

const defaultProbe = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    (res) => res.ok,
    () => false,
  );

/** Resolves to `fallback()` if `work` has not settled within `ms`; `work` carries on regardless. */
function within<T>(work: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback()), Math.max(0, ms));
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

interface Progress {
  job: DepinJob;
  /** Whether the deployment has an active lease (createJob stops waiting for bids once it has). */
  leased: boolean;
}

export function createAkashLiveProvider(options: AkashLiveOptions): DepinProvider {
  const { mnemonic, rpcUrl } = validateAkashConfig(options);
  const timing = { ...AKASH_TIMING, ...options.timing };
  const dataDir = options.dataDir ?? (options.ledgerFile ? dirname(options.ledgerFile) : undefined);
  // Nothing below touches the network or the disk until first use.
  const ledger = createJobLedger(options.ledgerFile);
  const certificates = createCertificateStore(dataDir && join(dataDir, 'akash-client-cert.json'));
  const manifests = createManifestStore(dataDir && join(dataDir, 'akash-manifests.json'));
  const chain = options.chain ?? createAkashChain({ mnemonic, rpcUrl });
  const gatewayFor = options.gateway ?? createProviderGateway;
  const probe = options.probe ?? defaultProbe;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  // ---- our client certificate: published once, reused by every job
  let certificateTask: Promise<AkashClientCertificate> | undefined;
  let certificateCheckedAt = 0;
  async function ensureCertificate(owner: string): Promise<AkashClientCertificate> {
    const stored = certificates.load();
    if (isUsableCertificate(stored, owner)) {
      if (Date.now() - certificateCheckedAt < timing.cacheMs) return stored;
      const onChain = (await chain.certificates(owner, { serial: stored.serial })).find((c) => c.serial === stored.serial);
      if (!onChain) await chain.broadcast([createCertificateMessage(stored)], 'inferia client certificate'); // kept, never published (a crash between the two)
      if (!onChain || onChain.state === 'valid') {
        certificateCheckedAt = Date.now();
        return stored;
      }
      // revoked on chain: make a new one
    }
    const fresh = generateClientCertificate(owner);
    certificates.save(fresh); // before publishing: a certificate on chain whose key we lost would be useless
    await chain.broadcast([createCertificateMessage(fresh)], 'inferia client certificate');
    certificateCheckedAt = Date.now();
    return fresh;
  }
  const clientCertificate = (owner: string) =>
    (certificateTask ??= ensureCertificate(owner).finally(() => {
      certificateTask = undefined;
    }));

  // ---- a provider's gateway: host URI and certificates from chain, our certificate for mTLS
  const providerInfo = new Map<string, { at: number; hostUri: string; serverCertificates: string[] }>();
  async function gateway(owner: string, provider: string): Promise<ProviderGateway> {
    let info = providerInfo.get(provider);
    if (!info || Date.now() - info.at > timing.cacheMs) {
      const hostUri = await chain.providerHostUri(provider);
      if (!hostUri) throw new Error(`provider ${provider} is not registered on chain`);
      const serverCertificates = (await chain.certificates(provider, { state: 'valid' })).filter((c) => c.state === 'valid').map((c) => c.cert);
      info = { at: Date.now(), hostUri, serverCertificates };
      providerInfo.set(provider, info);
    }
    const mine = await clientCertificate(owner);
    return gatewayFor({ hostUri: info.hostUri, provider, serverCertificates: info.serverCertificates, client: { cert: mine.cert, key: mine.privateKey } });
  }

  // ---- one job, one step further
  const phases = new Map<string, string>();
  const manifestSentAt = new Map<string, number>();
  const ownerOf = async (entry: LedgerEntry) => entry.details.owner ?? (await chain.owner());

  /** The job when its deployment is no longer active on chain (or never was); undefined while it is active. */
  async function ended(entry: LedgerEntry, owner: string): Promise<DepinJob | undefined> {
    const base = { jobId: entry.jobId, instanceId: entry.instanceId, createdAt: entry.createdAt };
    const state = await chain.deployment(owner, entry.jobId);
    if (!state) return { ...base, state: 'FAILED', message: `deployment ${owner}/${entry.jobId} is not on chain` };
    if (state === 'closed') {
      manifests.delete(entry.jobId);
      return { ...base, state: 'STOPPED', message: 'deployment closed' };
    }
    if (state !== 'active') return { ...base, state: 'FAILED', message: `unexpected deployment state ${state}` };
    return undefined;
  }

  async function takeBid(entry: LedgerEntry, owner: string): Promise<{ lease?: AkashLease; message: string }> {
    const dseq = entry.jobId;
    const bids = await chain.openBids(owner, dseq);
    if (Date.now() - Date.parse(entry.createdAt) < timing.bidWindowMs) {
      return { message: `collecting provider bids on deployment ${dseq}: ${bids.length} so far` };
    }
    const maxPrice = entry.details.maxPriceUakt === undefined ? undefined : Number(entry.details.maxPriceUakt);
    const { bid, reason } = chooseBid(bids, { denom: DENOM, maxPrice });
    if (!bid) return { message: `waiting for an acceptable bid on deployment ${dseq}: ${reason}` };
    phases.set(dseq, `creating the lease with ${bid.provider} at ${bid.price} ${bid.denom}/block`);
    const id = { owner, dseq, gseq: bid.gseq, oseq: bid.oseq, provider: bid.provider };
    await chain.broadcast([createLeaseMessage(id)], `inferia lease ${dseq}`);
    return { lease: { ...id, state: 'active' }, message: `lease created with ${bid.provider}` };
  }

  async function serve(entry: LedgerEntry, owner: string, lease: AkashLease, base: Omit<DepinJob, 'state'>): Promise<DepinJob> {
    const dseq = entry.jobId;
    const queued = (message: string): DepinJob => ({ ...base, state: 'QUEUED', message: `lease with ${lease.provider}: ${message}` });
    const manifest = manifests.get(dseq);
    if (!manifest) {
      return { ...base, state: 'FAILED', message: `lease with ${lease.provider}, but this sidecar no longer has the deployment's manifest to send; stop the job and create it again` };
    }
    phases.set(dseq, `connecting to provider ${lease.provider}`);
    const provider = await gateway(owner, lease.provider);
    const ref = { dseq, gseq: lease.gseq, oseq: lease.oseq };
    let status: ProviderLeaseStatus | undefined;
    try {
      status = await provider.leaseStatus(ref);
      if (!status) {
        // 404: the provider has no manifest for the lease. Sent once; resent only if it still has none a minute later.
        if (Date.now() - (manifestSentAt.get(dseq) ?? 0) < 60_000) return queued('manifest sent; the provider has not deployed it yet');
        phases.set(dseq, `sending the manifest to ${lease.provider}`);
        await provider.submitManifest(dseq, manifest);
        manifestSentAt.set(dseq, Date.now());
        status = await provider.leaseStatus(ref);
        if (!status) return queued('manifest sent; the provider has not deployed it yet');
      }
    } catch (err) {
      providerInfo.delete(lease.provider); // its host or certificate may have changed on chain: look them up again next time
      throw err;
    }
    const endpoint = serviceEndpoint(status, SERVICE, ENGINE_PORT);
    if (!endpoint.url) return queued(`service ${SERVICE} has no URI yet (${endpoint.available}/${endpoint.total} available)`);
    if (!endpoint.ready) return queued(`service ${SERVICE} at ${endpoint.url} is starting (${endpoint.available}/${endpoint.total} available)`);
    // Available on the provider is not serving yet (image pull, model load): RUNNING once the engine answers.
    const healthPath = entry.details.healthPath ?? '/health';
    if (!(await probe(`${endpoint.url}${healthPath}`))) return queued(`the engine at ${endpoint.url} is not answering ${healthPath} yet`);
    return { ...base, state: 'RUNNING', exposeUrl: endpoint.url };
  }

  async function advance(entry: LedgerEntry): Promise<Progress> {
    const base = { jobId: entry.jobId, instanceId: entry.instanceId, createdAt: entry.createdAt };
    const owner = await ownerOf(entry);
    const gone = await ended(entry, owner);
    if (gone) return { job: gone, leased: false };
    let leased = false;
    try {
      const leases = await chain.leases(owner, entry.jobId);
      let lease = leases.find((l) => l.state === 'active');
      if (!lease && leases.length > 0) {
        const [last] = leases;
        return { job: { ...base, state: 'FAILED', message: `the lease with ${last!.provider} ended (${last!.state}); stop the job and create it again` }, leased };
      }
      if (!lease) {
        const taken = await takeBid(entry, owner);
        if (!taken.lease) return { job: { ...base, state: 'QUEUED', message: taken.message }, leased };
        lease = taken.lease;
      }
      leased = true;
      return { job: await serve(entry, owner, lease, base), leased };
    } catch (err) {
      // Bids, the lease tx, the certificate and the provider are retried on the next poll.
      const phase = phases.get(entry.jobId);
      return { job: { ...base, state: 'QUEUED', message: `${phase ? `${phase}: ` : ''}${errorText(err)}` }, leased };
    } finally {
      phases.delete(entry.jobId);
    }
  }

  const inFlight = new Map<string, Promise<Progress>>();
  /** One step for the job (joining one already under way), answered within `budgetMs`. */
  function progress(entry: LedgerEntry, budgetMs: number): Promise<Progress> {
    let work = inFlight.get(entry.jobId);
    if (!work) {
      work = advance(entry).finally(() => inFlight.delete(entry.jobId));
      inFlight.set(entry.jobId, work);
    }
    return within(work, budgetMs, () => ({
      job: {
        jobId: entry.jobId,
        instanceId: entry.instanceId,
        createdAt: entry.createdAt,
        state: 'QUEUED',
        message: `${phases.get(entry.jobId) ?? 'checking the deployment'} (still in progress)`,
      },
      leased: false,
    }));
  }

  return {
    network: 'akash',
    mode: 'live',

    async createJob(spec) {
      const previous = ledger.byInstance(spec.instanceId);
      if (previous) {
        const current = (await progress(previous, timing.stepBudgetMs)).job;
        if (isLive(current.state)) return current;
      }
      const sdl = buildAkashSdl(spec);
      const maxPrice = spec.configuration.max_price_uakt;
      const owner = await chain.owner();
      const dseq = String(await chain.height());
      // Kept before the deployment exists: a crash after the tx must not lose what the provider needs.
      manifests.put(dseq, sortedJson(akashManifest(sdl)));
      let tx: string;
      try {
        tx = await chain.broadcast([createDeploymentMessage({ owner, dseq, sdl })], `inferia ${spec.instanceId}`);
      } catch (err) {
        manifests.delete(dseq);
        throw err;
      }
      const entry: LedgerEntry = {
        instanceId: spec.instanceId,
        jobId: dseq,
        createdAt: new Date().toISOString(),
        details: {
          owner,
          tx,
          healthPath: engineContainer(spec).healthPath,
          ...(typeof maxPrice === 'number' && Number.isFinite(maxPrice) && maxPrice > 0 ? { maxPriceUakt: String(maxPrice) } : {}),
        },
      };
      ledger.record(entry);
      // Wait for bids and take one, within what the caller allows; getJob carries on from wherever this stops.
      const deadline = Date.now() + timing.createWaitMs;
      let step = await progress(entry, deadline - Date.now());
      while (!step.leased && step.job.state === 'QUEUED' && Date.now() + timing.bidPollMs < deadline) {
        await sleep(timing.bidPollMs);
        step = await progress(entry, deadline - Date.now());
      }
      return step.job;
    },

    async getJob(jobId) {
      const entry = ledger.byJob(jobId);
      return entry && (await progress(entry, timing.stepBudgetMs)).job;
    },

    async stopJob(jobId) {
      const entry = ledger.byJob(jobId);
      if (!entry) return undefined;
      const owner = await ownerOf(entry);
      const before = await ended(entry, owner);
      if (before) return before;
      // Closing the deployment closes its lease too; the provider then tears the containers down.
      await chain.broadcast([closeDeploymentMessage(owner, jobId)], `inferia close ${jobId}`);
      manifests.delete(jobId);
      return (
        (await ended(entry, owner)) ?? { jobId, instanceId: entry.instanceId, createdAt: entry.createdAt, state: 'QUEUED', message: 'close sent; the deployment is still active' }
      );
    },

    async jobLogs(jobId, tail) {
      const entry = ledger.byJob(jobId);
      if (!entry) return undefined;
      const owner = await ownerOf(entry);
      const leases = await chain.leases(owner, jobId);
      const lease = leases.find((l) => l.state === 'active') ?? leases[0];
      if (!lease) return [`[sidecar] deployment ${jobId} has no lease yet, so no provider runs it`];
      try {
        return await (await gateway(owner, lease.provider)).leaseLogs({ dseq: jobId, gseq: lease.gseq, oseq: lease.oseq }, { tail, service: SERVICE });
      } catch (err) {
        return [`[sidecar] logs from provider ${lease.provider} are unavailable: ${errorText(err)}`];
      }
    },

    async listJobs() {
      const jobs: DepinJob[] = [];
      for (const entry of ledger.all()) jobs.push((await progress(entry, timing.stepBudgetMs)).job);
      return jobs;
    },

    async resources() {
      // Capacity on Akash is whatever providers bid; there is no catalogue to list without the provider inventory API.
      return [{ name: 'akash:open-market', gpuType: null, gpuCount: 0, vcpu: 0, ramGb: 0, pricePerHour: null, available: true }];
    },
  };
}
