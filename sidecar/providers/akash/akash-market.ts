// The market side of an Akash deployment: providers answer the deployment's order with bids; the
// owner accepts one with MsgCreateLease (akash.market.v1beta4, the market version that goes with
// deployment v1beta3 on the chain this sidecar signs for).
import akashMarket from '@akashnetwork/akash-api/akash/market/v1beta4';
import type { EncodeObject } from '@cosmjs/proto-signing';

const { MsgCreateLease } = akashMarket;
export const MSG_CREATE_LEASE = `/${MsgCreateLease.$type}`;

/** An open bid on one of the deployment's orders; price per block in `denom`. */
export interface AkashBid {
  provider: string;
  gseq: number;
  oseq: number;
  price: number;
  denom: string;
}

/** Identifies a lease (and its bid): the order's (owner, dseq, gseq, oseq) plus the provider. */
export interface AkashLeaseId {
  owner: string;
  dseq: string;
  gseq: number;
  oseq: number;
  provider: string;
}

export interface BidChoice {
  bid?: AkashBid;
  /** Why no bid was taken, when none was. */
  reason?: string;
}

/**
 * The cheapest open bid in `denom` at or below `maxPrice` (when configured). The chain already
 * refuses bids above the order's price; `maxPrice` lets configuration be stricter. Ties go to the
 * provider address that sorts first, so the choice does not depend on query order.
 */
export function chooseBid(bids: AkashBid[], options: { denom: string; maxPrice?: number }): BidChoice {
  if (bids.length === 0) return { reason: 'no provider has bid yet' };
  const inDenom = bids.filter((b) => b.denom === options.denom && Number.isFinite(b.price));
  if (inDenom.length === 0) return { reason: `${bids.length} bid(s), none priced in ${options.denom}` };
  const max = options.maxPrice;
  const acceptable = max === undefined ? inDenom : inDenom.filter((b) => b.price <= max);
  if (acceptable.length === 0) {
    const cheapest = Math.min(...inDenom.map((b) => b.price));
    return { reason: `${inDenom.length} bid(s), the cheapest ${cheapest} ${options.denom}/block is above max_price_uakt ${max}` };
  }
  const [bid] = [...acceptable].sort((a, b) => a.price - b.price || a.provider.localeCompare(b.provider) || a.gseq - b.gseq || a.oseq - b.oseq);
  return { bid };
}

export function createLeaseMessage(id: AkashLeaseId): EncodeObject {
  return {
    typeUrl: MSG_CREATE_LEASE,
    value: MsgCreateLease.fromPartial({ bidId: { owner: id.owner, dseq: id.dseq, gseq: id.gseq, oseq: id.oseq, provider: id.provider } }),
  };
}
