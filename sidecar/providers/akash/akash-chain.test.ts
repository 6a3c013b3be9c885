// The chain's read side against a TEST DOUBLE of a CometBFT RPC endpoint (plain HTTP on
// 127.0.0.1): the ABCI query paths, the request filters and the decoding of the answers, all
// encoded with the akash-api types the real modules use.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import akashCert from '@akashnetwork/akash-api/akash/cert/v1beta3';
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import akashMarket from '@akashnetwork/akash-api/akash/market/v1beta4';
import akashProvider from '@akashnetwork/akash-api/akash/provider/v1beta3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAkashChain, type AkashChain } from './akash-chain.js';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const OWNER = 'akash1qy352eufqy352eufqy352eufqy352eufh6rrvr';
const PROVIDER = 'akash18ga02jzaq8cw52anyhzkwta5wygufgu6zsz6xc';

type Handler = (request: Buffer) => { value?: Uint8Array; code?: number; log?: string };

describe('Akash chain queries (against a CometBFT RPC TEST DOUBLE)', () => {
  let server: Server;
  let chain: AkashChain;
  const seen: { path: string; request: Buffer }[] = [];
  const handlers = new Map<string, Handler>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const { id, method, params } = JSON.parse(body) as { id: number; method: string; params: { path: string; data: string } };
        const request = Buffer.from(params.data, 'hex');
        seen.push({ path: params.path, request });
        const handler = method === 'abci_query' ? handlers.get(params.path) : undefined;
        const answer = handler ? handler(request) : { code: 6, log: `unknown query path ${params.path}` };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id,
            result: { response: { code: answer.code ?? 0, log: answer.log ?? '', value: answer.value ? Buffer.from(answer.value).toString('base64') : null } },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    chain = createAkashChain({ mnemonic: MNEMONIC, rpcUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('derives the owner from the mnemonic without touching the network', async () => {
    const before = seen.length;
    expect(await chain.owner()).toMatch(/^akash1[0-9a-z]{38}$/);
    expect(seen.length).toBe(before);
  });

  it('asks the market module for the open bids of one deployment and decodes their 18-decimal prices', async () => {
    const { QueryBidsRequest, QueryBidsResponse } = akashMarket;
    handlers.set('/akash.market.v1beta4.Query/Bids', (request) => {
      expect(QueryBidsRequest.decode(request).filters).toMatchObject({ owner: OWNER, state: 'open' });
      expect(QueryBidsRequest.decode(request).filters?.dseq.toString()).toBe('555');
      return {
        value: QueryBidsResponse.encode(
          QueryBidsResponse.fromPartial({
            bids: [
              { bid: { bidId: { owner: OWNER, dseq: 555, gseq: 1, oseq: 1, provider: PROVIDER }, state: 1, price: { denom: 'uakt', amount: '8.25' } } },
              { bid: { bidId: { owner: OWNER, dseq: 555, gseq: 1, oseq: 1, provider: 'akash1other' }, state: 1, price: { denom: 'uakt', amount: '12' } } },
            ],
          }),
        ).finish(),
      };
    });
    expect(await chain.openBids(OWNER, '555')).toEqual([
      { provider: PROVIDER, gseq: 1, oseq: 1, denom: 'uakt', price: 8.25 },
      { provider: 'akash1other', gseq: 1, oseq: 1, denom: 'uakt', price: 12 },
    ]);
  });

  it('reads leases with their state names, the deployment state, a provider host and certificates', async () => {
    const { QueryLeasesResponse } = akashMarket;
    handlers.set('/akash.market.v1beta4.Query/Leases', () => ({
      value: QueryLeasesResponse.encode(
        QueryLeasesResponse.fromPartial({ leases: [{ lease: { leaseId: { owner: OWNER, dseq: 555, gseq: 1, oseq: 1, provider: PROVIDER }, state: 1 } }] }),
      ).finish(),
    }));
    expect(await chain.leases(OWNER, '555')).toEqual([{ owner: OWNER, dseq: '555', gseq: 1, oseq: 1, provider: PROVIDER, state: 'active' }]);

    const { QueryDeploymentRequest, QueryDeploymentResponse } = akashDeployment;
    handlers.set('/akash.deployment.v1beta3.Query/Deployment', (request) => {
      const dseq = QueryDeploymentRequest.decode(request).id!.dseq.toString();
      if (dseq === '404') return { code: 1, log: 'deployment not found' };
      return { value: QueryDeploymentResponse.encode(QueryDeploymentResponse.fromPartial({ deployment: { deploymentId: { owner: OWNER, dseq }, state: 2 } })).finish() };
    });
    expect(await chain.deployment(OWNER, '555')).toBe('closed');
    expect(await chain.deployment(OWNER, '404')).toBeUndefined();

    const { QueryProviderRequest, QueryProviderResponse } = akashProvider;
    handlers.set('/akash.provider.v1beta3.Query/Provider', (request) =>
      QueryProviderRequest.decode(request).owner === PROVIDER
        ? { value: QueryProviderResponse.encode(QueryProviderResponse.fromPartial({ provider: { owner: PROVIDER, hostUri: 'https://provider.example:8443' } })).finish() }
        : { code: 1, log: 'invalid provider: address not found' },
    );
    expect(await chain.providerHostUri(PROVIDER)).toBe('https://provider.example:8443');
    expect(await chain.providerHostUri('akash1unknown')).toBeUndefined();

    const { QueryCertificatesRequest, QueryCertificatesResponse } = akashCert;
    handlers.set('/akash.cert.v1beta3.Query/Certificates', (request) => {
      expect(QueryCertificatesRequest.decode(request).filter).toMatchObject({ owner: PROVIDER, serial: '', state: 'valid' });
      return {
        value: QueryCertificatesResponse.encode(
          QueryCertificatesResponse.fromPartial({
            certificates: [{ serial: '77', certificate: { state: 1, cert: new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n…'), pubkey: new Uint8Array() } }],
          }),
        ).finish(),
      };
    });
    expect(await chain.certificates(PROVIDER, { state: 'valid' })).toEqual([{ serial: '77', state: 'valid', cert: '-----BEGIN CERTIFICATE-----\n…' }]);
  });

  it('names the query that failed for any other error', async () => {
    handlers.set('/akash.market.v1beta4.Query/Leases', () => ({ code: 18, log: 'invalid request' }));
    await expect(chain.leases(OWNER, '555')).rejects.toThrow('Akash query /akash.market.v1beta4.Query/Leases failed: invalid request');
  });
});
