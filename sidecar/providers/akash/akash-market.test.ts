// Bid selection and the lease message (pure: no chain here).
import akashMarket from '@akashnetwork/akash-api/akash/market/v1beta4';
import { describe, expect, it } from 'vitest';
import { akashRegistry } from './akash-chain.js';
import { chooseBid, createLeaseMessage, type AkashBid } from './akash-market.js';

const { MsgCreateLease } = akashMarket;
const OWNER = 'akash1qy352eufqy352eufqy352eufqy352eufh6rrvr';
const bid = (provider: string, price: number, overrides: Partial<AkashBid> = {}): AkashBid => ({ provider, gseq: 1, oseq: 1, price, denom: 'uakt', ...overrides });

describe('bid selection', () => {
  it('takes the cheapest open bid in uakt', () => {
    const choice = chooseBid([bid('akash1b', 12.5), bid('akash1a', 3.2), bid('akash1c', 7)], { denom: 'uakt' });
    expect(choice).toEqual({ bid: bid('akash1a', 3.2) });
  });

  it('respects the configured max price and says why nothing was taken', () => {
    expect(chooseBid([bid('akash1a', 120), bid('akash1b', 80)], { denom: 'uakt', maxPrice: 100 }).bid?.provider).toBe('akash1b');
    expect(chooseBid([bid('akash1a', 80)], { denom: 'uakt', maxPrice: 80 }).bid?.provider).toBe('akash1a');
    const none = chooseBid([bid('akash1a', 120), bid('akash1b', 101)], { denom: 'uakt', maxPrice: 100 });
    expect(none.bid).toBeUndefined();
    expect(none.reason).toMatch(/cheapest 101 uakt\/block is above max_price_uakt 100/);
  });

  it('ignores bids in another denomination and reports an empty market', () => {
    const usdc = 'ibc/170C677610AC31DF0904FFE09CD3B5C657492170E7E52372E48756B71E56F2F1';
    expect(chooseBid([bid('akash1a', 1, { denom: usdc }), bid('akash1b', 9)], { denom: 'uakt' }).bid?.provider).toBe('akash1b');
    expect(chooseBid([bid('akash1a', 1, { denom: usdc })], { denom: 'uakt' }).reason).toMatch(/none priced in uakt/);
    expect(chooseBid([], { denom: 'uakt' })).toEqual({ reason: 'no provider has bid yet' });
  });

  it('breaks price ties by provider address, whatever the query order', () => {
    const a = chooseBid([bid('akash1z', 5), bid('akash1m', 5)], { denom: 'uakt' });
    const b = chooseBid([bid('akash1m', 5), bid('akash1z', 5)], { denom: 'uakt' });
    expect(a.bid?.provider).toBe('akash1m');
    expect(b).toEqual(a);
  });
});

describe('MsgCreateLease', () => {
  it('names the chosen bid (owner, dseq, gseq, oseq, provider) and encodes through the registry', () => {
    const msg = createLeaseMessage({ owner: OWNER, dseq: '1234567', gseq: 1, oseq: 2, provider: 'akash1provider' });
    expect(msg.typeUrl).toBe('/akash.market.v1beta4.MsgCreateLease');
    const wire = MsgCreateLease.decode(akashRegistry.encode(msg));
    expect(wire.bidId?.owner).toBe(OWNER);
    expect(wire.bidId?.dseq.toString()).toBe('1234567');
    expect(wire.bidId?.gseq).toBe(1);
    expect(wire.bidId?.oseq).toBe(2);
    expect(wire.bidId?.provider).toBe('akash1provider');
  });
});
