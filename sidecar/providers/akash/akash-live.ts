// Live Akash: an engine replica is an Akash deployment. From the replica we build an SDL (one
// service, port 8000 exposed globally as 80), turn it into deployment groups and the manifest
// version (sha-256 of the sorted manifest, as akashjs computes it), and sign MsgCreateDeployment
// / MsgCloseDeployment (akash.deployment.v1beta3 from @akashnetwork/akash-api) with @cosmjs.
// State is read with an ABCI query of akash.deployment.v1beta3.Query/Deployment.
//
// WHAT LIVE AKASH STILL LACKS (so a live deployment stays QUEUED and never serves):
//   1. accepting a bid: query market bids for the order and sign MsgCreateLease (market v1beta4
//      types exist in akash-api; not wired here);
//   2. sending the manifest (`akashManifest()` below) to the winning provider with
//      PUT https://<provider host>/deployment/<dseq>/manifest, which needs mTLS with a client
//      certificate published on chain (MsgCreateCertificate) — Node has no X.509 certificate
//      builder and no package here makes one;
//   3. the service URI and logs, which come from the provider's lease-status and lease-logs
//      endpoints behind the same mTLS.
// Also: akash-api 1.4.3 carries deployment v1beta3; a chain that has moved to deployment v1beta4
// (the `@akashnetwork/chain-sdk` era) rejects these messages.
import { createHash } from 'node:crypto';
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import { DirectSecp256k1HdWallet, Registry, type EncodeObject, type GeneratedType } from '@cosmjs/proto-signing';
import { GasPrice, SigningStargateClient, assertIsDeliverTxSuccess, defaultRegistryTypes } from '@cosmjs/stargate';
import { ENGINE_PORT, engineContainer } from '../container.js';
import { createJobLedger } from '../job-ledger.js';
import { DepinConfigError, isLive, type DepinJob, type DepinJobSpec, type DepinProvider } from '../types.js';

const { MsgCloseDeployment, MsgCreateDeployment, QueryDeploymentRequest, QueryDeploymentResponse } = akashDeployment;

export const AKASH_DEFAULT_RPC = 'https://rpc.akashnet.net:443';
const DENOM = 'uakt';
const DEFAULT_DEPOSIT_UAKT = 5_000_000; // the chain's minimum deposit (5 AKT), returned on close
const PLACEMENT = 'akash';
const SERVICE = 'engine';
const MSG_CREATE = `/${MsgCreateDeployment.$type}`;
const MSG_CLOSE = `/${MsgCloseDeployment.$type}`;

export interface AkashLiveOptions {
  mnemonic?: string;
  rpcUrl?: string;
  ledgerFile?: string;
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

/** cosmjs's default messages plus the Akash deployment messages this sidecar signs. */
export const akashRegistry = new Registry([
  ...defaultRegistryTypes,
  [MSG_CREATE, MsgCreateDeployment as unknown as GeneratedType],
  [MSG_CLOSE, MsgCloseDeployment as unknown as GeneratedType],
]);

const NOT_RUNNABLE =
  'deployment is open on chain, but this sidecar does not yet accept bids, create the lease or send the manifest, so no provider runs it';

export function createAkashLiveProvider(options: AkashLiveOptions): DepinProvider {
  const { mnemonic, rpcUrl } = validateAkashConfig(options);
  const ledger = createJobLedger(options.ledgerFile);
  let signer: Promise<{ client: SigningStargateClient; owner: string }> | undefined;
  // Connected on first use: constructing the provider does no network I/O.
  const chain = () =>
    (signer ??= (async () => {
      const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: 'akash' });
      const [account] = await wallet.getAccounts();
      if (!account) throw new DepinConfigError('AKASH_MNEMONIC yields no account');
      const client = await SigningStargateClient.connectWithSigner(rpcUrl, wallet, { registry: akashRegistry, gasPrice: GasPrice.fromString(`0.025${DENOM}`) });
      return { client, owner: account.address };
    })().catch((err: unknown) => {
      signer = undefined;
      throw err;
    }));

  /** The deployment's state through CometBFT's abci_query; undefined when the chain has none. */
  async function queryDeployment(owner: string, dseq: string) {
    const data = Buffer.from(QueryDeploymentRequest.encode(QueryDeploymentRequest.fromPartial({ id: { owner, dseq } })).finish()).toString('hex');
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'abci_query', params: { path: '/akash.deployment.v1beta3.Query/Deployment', data, prove: false } }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`Akash RPC abci_query answered ${res.status}`);
    const body = (await res.json()) as { result?: { response?: { code?: number; value?: string; log?: string } }; error?: { message?: string } };
    const response = body.result?.response;
    if (!response) throw new Error(`Akash RPC abci_query failed: ${body.error?.message ?? 'no response'}`);
    if (response.code) {
      if (/not found/i.test(response.log ?? '')) return undefined;
      throw new Error(`Akash deployment query failed: ${response.log ?? `code ${response.code}`}`);
    }
    return QueryDeploymentResponse.decode(Buffer.from(response.value ?? '', 'base64')).deployment;
  }

  async function status(jobId: string, instanceId: string, createdAt: string): Promise<DepinJob> {
    const base = { jobId, instanceId, createdAt };
    const { owner } = await chain();
    const deployment = await queryDeployment(owner, jobId);
    if (!deployment) return { ...base, state: 'FAILED', message: `deployment ${owner}/${jobId} is not on chain` };
    // Deployment_State: 1 active, 2 closed.
    if (deployment.state === 2) return { ...base, state: 'STOPPED', message: 'deployment closed' };
    if (deployment.state === 1) return { ...base, state: 'QUEUED', message: NOT_RUNNABLE };
    return { ...base, state: 'FAILED', message: `unexpected deployment state ${deployment.state}` };
  }

  return {
    network: 'akash',
    mode: 'live',

    async createJob(spec) {
      const previous = ledger.byInstance(spec.instanceId);
      if (previous) {
        const current = await status(previous.jobId, previous.instanceId, previous.createdAt);
        if (isLive(current.state)) return current;
      }
      const sdl = buildAkashSdl(spec);
      const { client, owner } = await chain();
      const dseq = String(await client.getHeight());
      const result = await client.signAndBroadcast(owner, [createDeploymentMessage({ owner, dseq, sdl })], 'auto', `inferia ${spec.instanceId}`);
      assertIsDeliverTxSuccess(result);
      const createdAt = new Date().toISOString();
      ledger.record({ instanceId: spec.instanceId, jobId: dseq, createdAt, details: { owner, tx: result.transactionHash } });
      return { jobId: dseq, instanceId: spec.instanceId, state: 'QUEUED', createdAt, message: NOT_RUNNABLE };
    },

    async getJob(jobId) {
      const entry = ledger.byJob(jobId);
      return entry && status(jobId, entry.instanceId, entry.createdAt);
    },

    async stopJob(jobId) {
      const entry = ledger.byJob(jobId);
      if (!entry) return undefined;
      const before = await status(jobId, entry.instanceId, entry.createdAt);
      if (!isLive(before.state)) return before;
      const { client, owner } = await chain();
      assertIsDeliverTxSuccess(await client.signAndBroadcast(owner, [closeDeploymentMessage(owner, jobId)], 'auto', `inferia close ${jobId}`));
      return status(jobId, entry.instanceId, entry.createdAt);
    },

    async jobLogs(jobId) {
      if (!ledger.byJob(jobId)) return undefined;
      return ['[sidecar] Akash logs come from the provider\'s lease-logs endpoint (mTLS), which this sidecar does not call yet'];
    },

    async listJobs() {
      const jobs: DepinJob[] = [];
      for (const entry of ledger.all()) jobs.push(await status(entry.jobId, entry.instanceId, entry.createdAt));
      return jobs;
    },

    async resources() {
      // Capacity on Akash is whatever providers bid; there is no catalogue to list without the provider inventory API.
      return [{ name: 'akash:open-market', gpuType: null, gpuCount: 0, vcpu: 0, ramGb: 0, pricePerHour: null, available: true }];
    },
  };
}
