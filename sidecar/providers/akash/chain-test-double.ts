// TEST DOUBLE of the Akash chain (the AkashChain interface) — for tests only, never used by the
// sidecar. State lives in memory; every broadcast message is encoded with the sidecar's registry
// and decoded back with the akash-api types, so a message the real chain could not decode fails
// here too. Providers "bid" through `bids`, a function of the deployment.
import { X509Certificate } from 'node:crypto';
import akashCert from '@akashnetwork/akash-api/akash/cert/v1beta3';
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import akashMarket from '@akashnetwork/akash-api/akash/market/v1beta4';
import type { EncodeObject } from '@cosmjs/proto-signing';
import { akashRegistry, type AkashChain, type AkashLease, type ChainCertificate, type DeploymentState } from './akash-chain.js';
import type { AkashBid } from './akash-market.js';

const { MsgCloseDeployment, MsgCreateDeployment } = akashDeployment;
const { MsgCreateLease } = akashMarket;
const { MsgCreateCertificate } = akashCert;

export interface ChainTestDouble extends AkashChain {
  /** Every transaction broadcast, as the decoded messages (typeUrl + value). */
  transactions: { memo: string; messages: { typeUrl: string; value: unknown }[] }[];
  deployments: Map<string, DeploymentState>;
  leaseBook: AkashLease[];
  certificateBook: Map<string, ChainCertificate[]>;
  providers: Map<string, string>;
  /** Open bids on a deployment; nothing by default. */
  bids: (dseq: string) => AkashBid[];
  /** Makes the next broadcast fail with this message. */
  failNextBroadcast?: string;
}

export function createChainTestDouble(owner: string): ChainTestDouble {
  let height = 1_000;
  const decoders: Record<string, { decode(bytes: Uint8Array): unknown }> = {
    [`/${MsgCreateDeployment.$type}`]: MsgCreateDeployment,
    [`/${MsgCloseDeployment.$type}`]: MsgCloseDeployment,
    [`/${MsgCreateLease.$type}`]: MsgCreateLease,
    [`/${MsgCreateCertificate.$type}`]: MsgCreateCertificate,
  };
  const chain: ChainTestDouble = {
    transactions: [],
    deployments: new Map(),
    leaseBook: [],
    certificateBook: new Map(),
    providers: new Map(),
    bids: () => [],

    owner: async () => owner,
    height: async () => ++height,

    async broadcast(messages: EncodeObject[], memo: string) {
      if (chain.failNextBroadcast) {
        const message = chain.failNextBroadcast;
        chain.failNextBroadcast = undefined;
        throw new Error(message);
      }
      const decoded = messages.map((m) => {
        const decoder = decoders[m.typeUrl];
        if (!decoder) throw new Error(`the chain test double cannot decode ${m.typeUrl}`);
        return { typeUrl: m.typeUrl, value: decoder.decode(akashRegistry.encode(m)) };
      });
      for (const { typeUrl, value } of decoded) apply(typeUrl, value);
      chain.transactions.push({ memo, messages: decoded });
      height += 1;
      return `TX${chain.transactions.length}`;
    },

    deployment: async (_owner, dseq) => chain.deployments.get(dseq),
    openBids: async (_owner, dseq) => (chain.deployments.get(dseq) === 'active' && !chain.leaseBook.some((l) => l.dseq === dseq) ? chain.bids(dseq) : []),
    leases: async (_owner, dseq) => chain.leaseBook.filter((l) => l.dseq === dseq),
    providerHostUri: async (provider) => chain.providers.get(provider),
    certificates: async (who, filter = {}) =>
      (chain.certificateBook.get(who) ?? []).filter((c) => (!filter.serial || c.serial === filter.serial) && (!filter.state || c.state === filter.state)),
  };

  function apply(typeUrl: string, value: unknown) {
    switch (typeUrl) {
      case `/${MsgCreateDeployment.$type}`: {
        const msg = value as ReturnType<typeof MsgCreateDeployment.decode>;
        chain.deployments.set(msg.id!.dseq.toString(), 'active');
        break;
      }
      case `/${MsgCloseDeployment.$type}`: {
        const dseq = (value as ReturnType<typeof MsgCloseDeployment.decode>).id!.dseq.toString();
        chain.deployments.set(dseq, 'closed');
        for (const lease of chain.leaseBook) if (lease.dseq === dseq) lease.state = 'closed';
        break;
      }
      case `/${MsgCreateLease.$type}`: {
        const id = (value as ReturnType<typeof MsgCreateLease.decode>).bidId!;
        chain.leaseBook.push({ owner: id.owner, dseq: id.dseq.toString(), gseq: id.gseq, oseq: id.oseq, provider: id.provider, state: 'active' });
        break;
      }
      case `/${MsgCreateCertificate.$type}`: {
        const msg = value as ReturnType<typeof MsgCreateCertificate.decode>;
        const pem = new TextDecoder().decode(msg.cert);
        const serial = BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString(10);
        const book = chain.certificateBook.get(msg.owner) ?? [];
        if (book.some((c) => c.serial === serial)) throw new Error('certificate already exists');
        chain.certificateBook.set(msg.owner, [...book, { serial, state: 'valid', cert: pem }]);
        break;
      }
    }
  }

  return chain;
}
