// What live Akash needs from the chain, behind one small interface so the job logic can be tested
// with a stand-in: the signer's address, the height (a new deployment's dseq), signing and
// broadcasting, and ABCI queries of the deployment, market, provider and cert modules.
//
// Versions: deployment v1beta3, market v1beta4, cert v1beta3, provider v1beta3 — the set Akash
// node v0.36–v0.38 serves (the last releases before the `pkg.akt.dev` chain-sdk era) and the one
// @akashnetwork/akash-api 1.4.3 carries. A chain on node v1.x+ (deployment v1beta4, market
// v1beta5, cert v1) rejects these messages and queries.
import akashCert from '@akashnetwork/akash-api/akash/cert/v1beta3';
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import akashMarket from '@akashnetwork/akash-api/akash/market/v1beta4';
import akashProvider from '@akashnetwork/akash-api/akash/provider/v1beta3';
import { DirectSecp256k1HdWallet, Registry, type EncodeObject, type GeneratedType } from '@cosmjs/proto-signing';
import { GasPrice, SigningStargateClient, assertIsDeliverTxSuccess, defaultRegistryTypes } from '@cosmjs/stargate';
import { DepinConfigError } from '../types.js';
import { MSG_CREATE_CERTIFICATE } from './akash-cert.js';
import { MSG_CREATE_LEASE, type AkashBid, type AkashLeaseId } from './akash-market.js';

const { MsgCloseDeployment, MsgCreateDeployment, QueryDeploymentRequest, QueryDeploymentResponse } = akashDeployment;
const { MsgCreateLease, QueryBidsRequest, QueryBidsResponse, QueryLeasesRequest, QueryLeasesResponse, lease_StateToJSON } = akashMarket;
const { MsgCreateCertificate, QueryCertificatesRequest, QueryCertificatesResponse, certificate_StateToJSON } = akashCert;
const { QueryProviderRequest, QueryProviderResponse } = akashProvider;

export const DENOM = 'uakt';

/** cosmjs's default messages plus the Akash messages this sidecar signs. */
export const akashRegistry = new Registry([
  ...defaultRegistryTypes,
  [`/${MsgCreateDeployment.$type}`, MsgCreateDeployment as unknown as GeneratedType],
  [`/${MsgCloseDeployment.$type}`, MsgCloseDeployment as unknown as GeneratedType],
  [MSG_CREATE_LEASE, MsgCreateLease as unknown as GeneratedType],
  [MSG_CREATE_CERTIFICATE, MsgCreateCertificate as unknown as GeneratedType],
]);

export type DeploymentState = 'active' | 'closed' | 'invalid';

export interface AkashLease extends AkashLeaseId {
  /** akash.market.v1beta4.Lease.State as its JSON name: active, insufficient_funds, closed. */
  state: string;
}

export interface ChainCertificate {
  serial: string;
  /** akash.cert.v1beta3.Certificate.State as its JSON name: valid, revoked. */
  state: string;
  /** The certificate PEM as published. */
  cert: string;
}

export interface AkashChain {
  /** The signer's address (the deployment owner). */
  owner(): Promise<string>;
  height(): Promise<number>;
  /** Signs and broadcasts one transaction; resolves to its hash once it is in a block, throws if it failed. */
  broadcast(messages: EncodeObject[], memo: string): Promise<string>;
  /** undefined when the chain has no such deployment. */
  deployment(owner: string, dseq: string): Promise<DeploymentState | undefined>;
  openBids(owner: string, dseq: string): Promise<AkashBid[]>;
  /** Every lease of the deployment, in any state. */
  leases(owner: string, dseq: string): Promise<AkashLease[]>;
  /** The provider's gateway URL (MsgCreateProvider.host_uri); undefined for an unknown provider. */
  providerHostUri(provider: string): Promise<string | undefined>;
  certificates(owner: string, filter?: { serial?: string; state?: 'valid' }): Promise<ChainCertificate[]>;
}

export interface AkashChainOptions {
  mnemonic: string;
  rpcUrl: string;
  gasPrice?: string;
}

const PAGE = { limit: 1000 };

/** The chain through CometBFT RPC: abci_query for reads, a cosmjs signing client for writes. */
export function createAkashChain(options: AkashChainOptions): AkashChain {
  const { mnemonic, rpcUrl } = options;
  let wallet: Promise<{ wallet: DirectSecp256k1HdWallet; owner: string }> | undefined;
  let signer: Promise<SigningStargateClient> | undefined;
  // Nothing happens until first use: constructing the chain does no I/O.
  const account = () =>
    (wallet ??= (async () => {
      const w = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: 'akash' });
      const [first] = await w.getAccounts();
      if (!first) throw new DepinConfigError('AKASH_MNEMONIC yields no account');
      return { wallet: w, owner: first.address };
    })());
  const client = () =>
    (signer ??= (async () => {
      const { wallet: w } = await account();
      return SigningStargateClient.connectWithSigner(rpcUrl, w, { registry: akashRegistry, gasPrice: GasPrice.fromString(options.gasPrice ?? `0.025${DENOM}`) });
    })().catch((err: unknown) => {
      signer = undefined;
      throw err;
    }));

  /** One ABCI query; undefined when the module answers "not found". */
  async function abciQuery(path: string, request: Uint8Array): Promise<Uint8Array | undefined> {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'abci_query', params: { path, data: Buffer.from(request).toString('hex'), prove: false } }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`Akash RPC abci_query ${path} answered ${res.status}`);
    const body = (await res.json()) as { result?: { response?: { code?: number; value?: string; log?: string } }; error?: { message?: string } };
    const response = body.result?.response;
    if (!response) throw new Error(`Akash RPC abci_query ${path} failed: ${body.error?.message ?? 'no response'}`);
    if (response.code) {
      if (/not found/i.test(response.log ?? '')) return undefined;
      throw new Error(`Akash query ${path} failed: ${response.log ?? `code ${response.code}`}`);
    }
    return Buffer.from(response.value ?? '', 'base64');
  }

  return {
    owner: async () => (await account()).owner,
    height: async () => (await client()).getHeight(),

    async broadcast(messages, memo) {
      const [c, { owner }] = await Promise.all([client(), account()]);
      const result = await c.signAndBroadcast(owner, messages, 'auto', memo);
      assertIsDeliverTxSuccess(result);
      return result.transactionHash;
    },

    async deployment(owner, dseq) {
      const value = await abciQuery(
        `/${akashDeployment.QueryServiceName}/Deployment`,
        QueryDeploymentRequest.encode(QueryDeploymentRequest.fromPartial({ id: { owner, dseq } })).finish(),
      );
      const deployment = value && QueryDeploymentResponse.decode(value).deployment;
      if (!deployment) return undefined;
      // Deployment_State: 1 active, 2 closed.
      return deployment.state === 1 ? 'active' : deployment.state === 2 ? 'closed' : 'invalid';
    },

    async openBids(owner, dseq) {
      const value = await abciQuery(
        `/${akashMarket.QueryServiceName}/Bids`,
        QueryBidsRequest.encode(QueryBidsRequest.fromPartial({ filters: { owner, dseq, state: 'open' }, pagination: PAGE })).finish(),
      );
      if (!value) return [];
      return QueryBidsResponse.decode(value).bids.flatMap(({ bid }) =>
        bid?.bidId && bid.price
          ? [{ provider: bid.bidId.provider, gseq: bid.bidId.gseq, oseq: bid.bidId.oseq, denom: bid.price.denom, price: Number(bid.price.amount) }]
          : [],
      );
    },

    async leases(owner, dseq) {
      const value = await abciQuery(
        `/${akashMarket.QueryServiceName}/Leases`,
        QueryLeasesRequest.encode(QueryLeasesRequest.fromPartial({ filters: { owner, dseq }, pagination: PAGE })).finish(),
      );
      if (!value) return [];
      return QueryLeasesResponse.decode(value).leases.flatMap(({ lease }) =>
        lease?.leaseId
          ? [
              {
                owner: lease.leaseId.owner,
                dseq: lease.leaseId.dseq.toString(),
                gseq: lease.leaseId.gseq,
                oseq: lease.leaseId.oseq,
                provider: lease.leaseId.provider,
                state: lease_StateToJSON(lease.state),
              },
            ]
          : [],
      );
    },

    async providerHostUri(provider) {
      const value = await abciQuery(
        `/${akashProvider.QueryServiceName}/Provider`,
        QueryProviderRequest.encode(QueryProviderRequest.fromPartial({ owner: provider })).finish(),
      );
      return (value && QueryProviderResponse.decode(value).provider?.hostUri) || undefined;
    },

    async certificates(owner, filter = {}) {
      const value = await abciQuery(
        `/${akashCert.QueryServiceName}/Certificates`,
        QueryCertificatesRequest.encode(
          QueryCertificatesRequest.fromPartial({ filter: { owner, serial: filter.serial ?? '', state: filter.state ?? '' }, pagination: PAGE }),
        ).finish(),
      );
      if (!value) return [];
      return QueryCertificatesResponse.decode(value).certificates.flatMap(({ certificate, serial }) =>
        certificate ? [{ serial, state: certificate_StateToJSON(certificate.state), cert: new TextDecoder().decode(certificate.cert) }] : [],
      );
    },
  };
}
