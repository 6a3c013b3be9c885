// The provider gateway client against a TEST DOUBLE of an Akash provider's gateway: a local HTTPS
// server (self-signed certificate made in the test) that demands a client certificate and speaks
// the provider's wire format. See provider-gateway-test-double.ts.
import { X509Certificate, createHash } from 'node:crypto';
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DepinJobSpec } from '../types.js';
import { generateClientCertificate } from './akash-cert.js';
import { ProviderGatewayError, createProviderGateway, serviceEndpoint, type ProviderGatewayTarget } from './akash-gateway.js';
import { akashManifest, akashRegistry, buildAkashSdl, createDeploymentMessage, sortedJson } from './akash-live.js';
import { startProviderGatewayTestDouble, type ProviderGatewayTestDouble } from './provider-gateway-test-double.js';

const { MsgCreateDeployment } = akashDeployment;
const OWNER = 'akash1qy352eufqy352eufqy352eufqy352eufh6rrvr';
const PROVIDER = 'akash18ga02jzaq8cw52anyhzkwta5wygufgu6zsz6xc';

const spec: DepinJobSpec = {
  instanceId: 'dep-gw-r0',
  model: 'llama-3-8b',
  engine: 'vllm',
  artifactUri: 'meta-llama/Meta-Llama-3-8B-Instruct',
  gpuPerReplica: 1,
  configuration: {},
  heartbeat: { url: 'https://orchestration.example/inventory/heartbeat', token: 'node-token', intervalMs: 5000 },
};

describe('Akash provider gateway over mTLS (against the provider gateway TEST DOUBLE)', () => {
  const mine = generateClientCertificate(OWNER);
  let double: ProviderGatewayTestDouble;
  let target: ProviderGatewayTarget;

  beforeAll(async () => {
    double = await startProviderGatewayTestDouble({ provider: PROVIDER, clientCertificatesOnChain: (owner) => (owner === OWNER ? [mine.cert] : []) });
    target = { hostUri: double.hostUri, provider: PROVIDER, serverCertificates: [double.certificatePem], client: { cert: mine.cert, key: mine.privateKey }, timeoutMs: 5000 };
  });
  afterAll(() => double.close());
  beforeEach(() => {
    double.presented.length = 0;
    double.serverNames.length = 0;
    double.requests.length = 0;
  });

  it('PUTs the manifest the deployment version was computed from, presenting our client certificate', async () => {
    const sdl = buildAkashSdl(spec);
    const manifestJson = sortedJson(akashManifest(sdl));
    await createProviderGateway(target).submitManifest('4001', manifestJson);

    expect(double.presented).toEqual([
      { subjectCN: OWNER, issuerCN: OWNER, serial: mine.serial, fingerprint256: new X509Certificate(mine.cert).fingerprint256 },
    ]);
    expect(double.serverNames).toEqual(['mtls.127.0.0.1']); // the SNI that selects the provider's mTLS config
    expect(double.requests).toEqual([{ method: 'PUT', path: '/deployment/4001/manifest', status: 200 }]);

    const body = double.manifests.get('4001')!;
    expect(body).toBe(manifestJson);
    // The provider accepts a manifest only if its hash is the version in MsgCreateDeployment.
    const version = MsgCreateDeployment.decode(akashRegistry.encode(createDeploymentMessage({ owner: OWNER, dseq: '4001', sdl }))).version;
    expect(createHash('sha256').update(body).digest().toString('hex')).toBe(Buffer.from(version).toString('hex'));
    const [group] = JSON.parse(body) as { name: string; services: { name: string; image: string; count: number; expose: unknown[] }[] }[];
    expect(group?.name).toBe('akash');
    expect(group?.services[0]).toMatchObject({ name: 'engine', image: 'vllm/vllm-openai:latest', count: 1 });
    expect(group?.services[0]?.expose).toEqual([expect.objectContaining({ port: 8000, externalPort: 80, proto: 'TCP', global: true, hosts: null })]);
  });

  it('reads lease status: 404 (undefined) before the manifest, then the service with its ingress URI', async () => {
    const gateway = createProviderGateway(target);
    const lease = { dseq: '4002', gseq: 1, oseq: 1 };
    expect(await gateway.leaseStatus(lease)).toBeUndefined();
    await gateway.submitManifest('4002', sortedJson(akashManifest(buildAkashSdl(spec))));
    const status = await gateway.leaseStatus(lease);
    expect(status?.services?.engine).toMatchObject({ name: 'engine', available: 1, total: 1, uris: [double.ingressHost] });
    expect(serviceEndpoint(status!, 'engine', 8000)).toEqual({ url: `http://${double.ingressHost}`, ready: true, available: 1, total: 1 });
    expect(double.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /lease/4002/1/1/status 404',
      'PUT /deployment/4002/manifest 200',
      'GET /lease/4002/1/1/status 200',
    ]);
  });

  it('reads the last log lines of the engine service over the lease-logs WebSocket', async () => {
    const gateway = createProviderGateway(target);
    await gateway.submitManifest('4003', sortedJson(akashManifest(buildAkashSdl(spec))));
    double.logLines = [
      { name: 'engine', message: 'INFO loading model' },
      { name: 'engine', message: 'INFO model loaded' },
      { name: 'engine', message: 'INFO Uvicorn running on http://0.0.0.0:8000' },
    ];
    expect(await gateway.leaseLogs({ dseq: '4003', gseq: 1, oseq: 1 }, { tail: 2, service: 'engine' })).toEqual([
      'INFO model loaded',
      'INFO Uvicorn running on http://0.0.0.0:8000',
    ]);
    expect(double.requests.at(-1)).toEqual({ method: 'GET', path: '/lease/4003/1/1/logs?follow=false&tail=2&service=engine', status: 101 });
    await expect(gateway.leaseLogs({ dseq: '4999', gseq: 1, oseq: 1 }, { tail: 10 })).rejects.toThrow(/closed the log stream \(4001/);
  });

  it('sends nothing to a server whose certificate is neither on chain for the provider nor publicly trusted', async () => {
    await expect(createProviderGateway({ ...target, serverCertificates: [] }).submitManifest('4004', '[]')).rejects.toThrow(/self-signed certificate/);
    await expect(createProviderGateway({ ...target, provider: 'akash1someoneelse' }).leaseStatus({ dseq: '4004', gseq: 1, oseq: 1 })).rejects.toThrow(
      /CN akash18ga02jzaq8cw52anyhzkwta5wygufgu6zsz6xc is not akash1someoneelse/,
    );
    expect(double.requests).toEqual([]);
    expect(double.manifests.has('4004')).toBe(false);
  });

  it('is refused by the provider with a client certificate that is not on chain', async () => {
    const stranger = generateClientCertificate(OWNER);
    const refused = createProviderGateway({ ...target, client: { cert: stranger.cert, key: stranger.privateKey } }).submitManifest('4005', '[]');
    await expect(refused).rejects.toBeInstanceOf(ProviderGatewayError);
    await expect(refused).rejects.toMatchObject({ status: 401 });
    expect(double.presented.map((p) => p.serial)).toEqual([stranger.serial]);
  });
});

describe('service endpoint from lease status', () => {
  const service = { name: 'engine', total: 1, uris: null, observed_generation: 1, replicas: 1, updated_replicas: 1 };
  it('falls back to a forwarded port, and reports a service that is not available yet', () => {
    const forwarded = {
      services: { engine: { ...service, available: 1, ready_replicas: 1, available_replicas: 1 } },
      forwarded_ports: { engine: [{ host: 'provider.example', port: 8000, externalPort: 31234, proto: 'TCP', name: 'engine' }] },
      ips: null,
    };
    expect(serviceEndpoint(forwarded, 'engine', 8000)).toEqual({ url: 'http://provider.example:31234', ready: true, available: 1, total: 1 });
    const starting = { services: { engine: { ...service, uris: ['x.ingress.example'], available: 0, ready_replicas: 0, available_replicas: 0 } }, forwarded_ports: null, ips: null };
    expect(serviceEndpoint(starting, 'engine', 8000)).toEqual({ url: 'http://x.ingress.example', ready: false, available: 0, total: 1 });
    expect(serviceEndpoint({ services: null, forwarded_ports: null, ips: null }, 'engine', 8000)).toEqual({ ready: false, available: 0, total: 0 });
  });
});
