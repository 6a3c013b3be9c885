// The pure parts of live Akash (no chain here): SDL, deployment groups, manifest version, the
// signed messages as they encode on the wire, and configuration errors.
import akashDeployment from '@akashnetwork/akash-api/akash/deployment/v1beta3';
import { describe, expect, it } from 'vitest';
import { DepinConfigError, type DepinJobSpec } from '../types.js';
import {
  AKASH_DEFAULT_RPC,
  akashGroups,
  akashRegistry,
  akashManifest,
  buildAkashSdl,
  closeDeploymentMessage,
  createAkashLiveProvider,
  createDeploymentMessage,
  manifestVersion,
  sortedJson,
  validateAkashConfig,
} from './akash-live.js';

const { MsgCloseDeployment, MsgCreateDeployment } = akashDeployment;
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const OWNER = 'akash1qy352eufqy352eufqy352eufqy352eufh6rrvr';

const spec = (overrides: Partial<DepinJobSpec> = {}): DepinJobSpec => ({
  instanceId: 'dep-1-r0',
  model: 'llama-3-8b',
  engine: 'vllm',
  artifactUri: 'meta-llama/Meta-Llama-3-8B-Instruct',
  gpuPerReplica: 1,
  configuration: {},
  heartbeat: { url: 'https://orchestration.example/inventory/heartbeat', token: 'node-token', intervalMs: 5000 },
  ...overrides,
});

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

describe('Akash SDL', () => {
  it('describes one engine service exposed globally on port 80 with GPU defaults and the heartbeat env', () => {
    const sdl = buildAkashSdl(spec());
    expect(sdl.services.engine).toMatchObject({ image: 'vllm/vllm-openai:latest', expose: [{ port: 8000, as: 80, to: [{ global: true }] }] });
    expect(sdl.services.engine?.env).toEqual(
      expect.arrayContaining([
        'INFERIA_HEARTBEAT_URL=https://orchestration.example/inventory/heartbeat',
        'INFERIA_NODE_TOKEN=node-token',
        'INFERIA_PROVIDER=akash',
      ]),
    );
    expect(sdl.profiles.compute.engine?.resources).toEqual({
      cpu: { units: 4 },
      memory: { size: '32Gi' },
      storage: [{ size: '100Gi' }],
      gpu: { units: 1, attributes: { vendor: { nvidia: null } } },
    });
    expect(sdl.profiles.placement.akash?.pricing.engine).toEqual({ denom: 'uakt', amount: 10_000 });
  });

  it('takes sizes, GPU model and price from configuration', () => {
    const sdl = buildAkashSdl(spec({ gpuPerReplica: 2, configuration: { vcpu: 8, memory_gb: 64, storage_gb: 200, gpu_model: 'a100', max_price_uakt: 50_000 } }));
    expect(sdl.profiles.compute.engine?.resources).toMatchObject({
      cpu: { units: 8 },
      memory: { size: '64Gi' },
      gpu: { units: 2, attributes: { vendor: { nvidia: [{ model: 'a100' }] } } },
    });
    expect(akashGroups(sdl)[0]!.resources[0]!.resource.gpu.attributes).toEqual([{ key: 'vendor/nvidia/model/a100', value: 'true' }]);
    expect(() => buildAkashSdl(spec({ engine: 'openai' }))).toThrow(DepinConfigError);
  });
});

describe('Akash deployment messages', () => {
  it('encodes MsgCreateDeployment with the groups, the 18-decimal price, the deposit and the manifest version', () => {
    const sdl = buildAkashSdl(spec());
    const msg = createDeploymentMessage({ owner: OWNER, dseq: '1234567', sdl });
    expect(msg.typeUrl).toBe('/akash.deployment.v1beta3.MsgCreateDeployment');
    const wire = MsgCreateDeployment.decode(MsgCreateDeployment.encode(MsgCreateDeployment.fromPartial(msg.value as object)).finish());
    expect(wire.id?.owner).toBe(OWNER);
    expect(wire.id?.dseq.toString()).toBe('1234567');
    expect(wire.deposit).toMatchObject({ denom: 'uakt', amount: '5000000' });
    expect(wire.depositor).toBe(OWNER);
    expect(Array.from(wire.version)).toEqual(Array.from(manifestVersion(akashManifest(sdl))));
    expect(wire.version).toHaveLength(32);

    const [group] = wire.groups;
    expect(group?.name).toBe('akash');
    const [unit] = group!.resources;
    expect(unit?.count).toBe(1);
    expect(Number(unit?.price?.amount)).toBe(10_000); // decoded back from 10000 followed by 18 zeros
    const r = unit!.resource!;
    expect(text(r.cpu?.units?.val)).toBe('4000');
    expect(text(r.memory?.quantity?.val)).toBe(String(32 * 2 ** 30));
    expect(text(r.storage[0]?.quantity?.val)).toBe(String(100 * 2 ** 30));
    expect(text(r.gpu?.units?.val)).toBe('1');
    expect(r.gpu?.attributes).toEqual([expect.objectContaining({ key: 'vendor/nvidia/model/*', value: 'true' })]);
    expect(r.endpoints).toEqual([expect.objectContaining({ kind: 0, sequenceNumber: 0 })]);
  });

  it('signs through a cosmjs registry that encodes the Akash messages (price scaled once)', () => {
    const msg = createDeploymentMessage({ owner: OWNER, dseq: '7', sdl: buildAkashSdl(spec()) });
    const first = MsgCreateDeployment.decode(akashRegistry.encode(msg));
    const second = MsgCreateDeployment.decode(akashRegistry.encode(msg)); // simulate, then sign: encoded twice
    expect(Number(first.groups[0]?.resources[0]?.price?.amount)).toBe(10_000);
    expect(second).toEqual(first);
    expect(MsgCloseDeployment.decode(akashRegistry.encode(closeDeploymentMessage(OWNER, '7'))).id?.dseq.toString()).toBe('7');
  });

  it('encodes MsgCloseDeployment for the owner and dseq', () => {
    const msg = closeDeploymentMessage(OWNER, '99');
    expect(msg.typeUrl).toBe('/akash.deployment.v1beta3.MsgCloseDeployment');
    const wire = MsgCloseDeployment.decode(MsgCloseDeployment.encode(MsgCloseDeployment.fromPartial(msg.value as object)).finish());
    expect(wire.id?.owner).toBe(OWNER);
    expect(wire.id?.dseq.toString()).toBe('99');
  });
});

describe('Akash manifest version', () => {
  it('hashes the manifest with keys sorted and HTML characters escaped as Go writes them', () => {
    expect(sortedJson({ b: 1, a: { d: [{ z: 1, y: '<&>' }], c: null } })).toBe('{"a":{"c":null,"d":[{"y":"\\u003c\\u0026\\u003e","z":1}]},"b":1}');
    const manifest = akashManifest(buildAkashSdl(spec()));
    const json = sortedJson(manifest);
    expect(json).toContain('"size":{"val":"34359738368"}'); // memory appears as size, not quantity
    expect(json).toContain('"endpoints":[{"sequence_number":0}]');
    expect(json).toContain('"httpOptions":{"maxBodySize":10485760,');
  });

  it('is stable for the same replica and changes with what the provider would run', () => {
    const a = manifestVersion(akashManifest(buildAkashSdl(spec())));
    expect(manifestVersion(akashManifest(buildAkashSdl(spec())))).toEqual(a);
    expect(manifestVersion(akashManifest(buildAkashSdl(spec({ configuration: { image: 'vllm/vllm-openai:v0.9.0' } }))))).not.toEqual(a);
    expect(manifestVersion(akashManifest(buildAkashSdl(spec({ gpuPerReplica: 2 }))))).not.toEqual(a);
  });
});

describe('live Akash configuration', () => {
  it('names a missing or malformed mnemonic and a bad RPC URL', () => {
    expect(() => validateAkashConfig({})).toThrow(/AKASH_MNEMONIC is not set/);
    expect(() => validateAkashConfig({ mnemonic: 'one two three' })).toThrow(/has 3 words/);
    expect(() => validateAkashConfig({ mnemonic: MNEMONIC, rpcUrl: 'rpc.example:26657' })).toThrow(/AKASH_RPC_URL/);
    expect(validateAkashConfig({ mnemonic: ` ${MNEMONIC} ` })).toEqual({ mnemonic: MNEMONIC, rpcUrl: AKASH_DEFAULT_RPC });
  });

  it('constructs without network I/O and knows only deployments it created', async () => {
    const provider = createAkashLiveProvider({ mnemonic: MNEMONIC, rpcUrl: 'http://127.0.0.1:9' });
    expect(provider).toMatchObject({ network: 'akash', mode: 'live' });
    expect(await provider.getJob('123')).toBeUndefined();
    expect(await provider.jobLogs('123', 10)).toBeUndefined();
    expect(await provider.listJobs()).toEqual([]);
  });
});
