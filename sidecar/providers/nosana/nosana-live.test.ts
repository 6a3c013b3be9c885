// The pure parts of live Nosana (no chain here): the job definition, the service URL, result
// logs, and configuration errors. Constructing the provider must not touch the network.
import { getJobExposedServices } from '@nosana/sdk';
import { Keypair } from '@solana/web3.js';
import { describe, expect, it } from 'vitest';
import { DepinConfigError, type DepinJobSpec } from '../types.js';
import { buildNosanaJobDefinition, createNosanaLiveProvider, logsFromResult, nosanaServiceUrl, validateNosanaConfig } from './nosana-live.js';

const spec = (overrides: Partial<DepinJobSpec> = {}): DepinJobSpec => ({
  instanceId: 'dep-1-r0',
  model: 'llama-3-8b',
  engine: 'vllm',
  artifactUri: 'hf://meta-llama/Meta-Llama-3-8B-Instruct',
  gpuPerReplica: 1,
  configuration: {},
  heartbeat: { url: 'https://orchestration.example/inventory/heartbeat', token: 'secret-node-token', intervalMs: 5000 },
  ...overrides,
});

const walletKey = () => JSON.stringify(Array.from(Keypair.generate().secretKey));
const market = () => Keypair.generate().publicKey.toBase58();

describe('Nosana job definition', () => {
  it('runs vLLM in one container op with the GPU, port 8000 exposed and health-checked', () => {
    const def = buildNosanaJobDefinition(spec({ configuration: { max_model_len: 8192 } }));
    expect(def).toMatchObject({ version: '0.1', type: 'container', meta: { trigger: 'inferia', inferia_instance_id: 'dep-1-r0' } });
    expect(def.ops).toHaveLength(1);
    const op = def.ops[0]!;
    expect(op).toMatchObject({ type: 'container/run', id: 'engine' });
    const args = op.args as { image: string; cmd: string[]; gpu: boolean; expose: { port: number; health_checks: { path: string }[] }[] };
    expect(args.image).toBe('vllm/vllm-openai:latest');
    expect(args.gpu).toBe(true);
    expect(args.cmd).toEqual([
      '--model', 'meta-llama/Meta-Llama-3-8B-Instruct', '--served-model-name', 'llama-3-8b', '--host', '0.0.0.0', '--port', '8000', '--max-model-len', '8192',
    ]);
    expect(args.expose).toEqual([
      { port: 8000, type: 'api', health_checks: [{ type: 'http', path: '/health', method: 'GET', expected_status: 200, continuous: false }] },
    ]);
  });

  it('keeps the node token and heartbeat URL out of the (public) definition', () => {
    const text = JSON.stringify(buildNosanaJobDefinition(spec()));
    expect(text).not.toContain('secret-node-token');
    expect(text).not.toContain('orchestration.example');
  });

  it('asks for a GPU only when the replica has one, and picks the matching llama.cpp image', () => {
    const cpu = buildNosanaJobDefinition(spec({ engine: 'llama.cpp', gpuPerReplica: 0, artifactUri: 'ggml-org/gemma-3-1b-it-GGUF' })).ops[0]!.args as {
      image: string;
      gpu: boolean;
      cmd: string[];
    };
    expect(cpu).toMatchObject({ image: 'ghcr.io/ggml-org/llama.cpp:server', gpu: false });
    expect(cpu.cmd.slice(0, 2)).toEqual(['-hf', 'ggml-org/gemma-3-1b-it-GGUF']);
    const gpu = buildNosanaJobDefinition(spec({ engine: 'llama.cpp', gpuPerReplica: 1 })).ops[0]!.args as { image: string; gpu: boolean; cmd: string[] };
    expect(gpu).toMatchObject({ image: 'ghcr.io/ggml-org/llama.cpp:server-cuda', gpu: true });
    expect(gpu.cmd).toContain('-ngl');
  });

  it('runs the mock engine only from an image the operator names', () => {
    expect(() => buildNosanaJobDefinition(spec({ engine: 'mock', gpuPerReplica: 0 }))).toThrow(/configuration\.image/);
    const args = buildNosanaJobDefinition(spec({ engine: 'mock', gpuPerReplica: 0, configuration: { image: 'registry.example/inferia:1' } })).ops[0]!
      .args as { image: string; cmd: string[]; env: Record<string, string> };
    expect(args.image).toBe('registry.example/inferia:1');
    expect(args.cmd).toEqual(['node', '--import', 'tsx', 'adapters/engines/mock/mock-engine.ts']);
    expect(args.env).toMatchObject({ INFERIA_ENGINE_HOST: '0.0.0.0', INFERIA_ENGINE_PORT: '8000', INFERIA_ENGINE_MODEL: 'llama-3-8b' });
  });

  it('refuses engines a container cannot run, and vLLM without a GPU', () => {
    expect(() => buildNosanaJobDefinition(spec({ engine: 'openai' }))).toThrow(DepinConfigError);
    expect(() => buildNosanaJobDefinition(spec({ gpuPerReplica: 0 }))).toThrow(/needs gpu_per_replica >= 1/);
  });
});

describe('Nosana service URL and results', () => {
  it('is the expose hash of the engine op and port, as the SDK computes it, on the network ingress', () => {
    const job = market(); // any base58 address
    const url = nosanaServiceUrl(job, 'mainnet');
    const [service] = getJobExposedServices(buildNosanaJobDefinition(spec()), job);
    expect(url).toBe(`https://${service!.hash}.node.k8s.prd.nos.ci`);
    expect(nosanaServiceUrl(job, 'devnet')).toBe(`https://${service!.hash}.node.k8s.dev.nos.ci`);
  });

  it('reads log lines from a flow result, flat or nested under state', () => {
    const opStates = [{ logs: [{ type: 'stdout', log: 'loading model\nserving' }, { type: 'stderr', log: 'warn\n' }] }, { logs: [] }];
    expect(logsFromResult({ opStates })).toEqual(['loading model', 'serving', 'warn']);
    expect(logsFromResult({ state: { opStates } })).toEqual(['loading model', 'serving', 'warn']);
    expect(logsFromResult(null)).toEqual([]);
  });
});

describe('live Nosana configuration', () => {
  it('names every missing setting', () => {
    expect(() => validateNosanaConfig({ network: 'mainnet' })).toThrow(/NOSANA_WALLET_KEY is not set.*NOSANA_MARKET is not set/);
    expect(() => createNosanaLiveProvider({ network: 'mainnet', market: market() })).toThrow(DepinConfigError);
  });

  it('rejects a wallet key or market that does not parse', () => {
    expect(() => validateNosanaConfig({ network: 'mainnet', walletKey: 'not-a-key', market: market() })).toThrow(/not a valid Solana secret key/);
    expect(() => validateNosanaConfig({ network: 'mainnet', walletKey: walletKey(), market: 'not base58 0OIl' })).toThrow(/is not a Solana address/);
  });

  it('constructs without network I/O and knows only jobs it created', async () => {
    const provider = createNosanaLiveProvider({ network: 'devnet', walletKey: walletKey(), market: market(), rpcUrl: 'http://127.0.0.1:9' });
    expect(provider).toMatchObject({ network: 'nosana', mode: 'live' });
    expect(await provider.getJob('SomeoneElsesJob111111111111111111111111111')).toBeUndefined();
    expect(await provider.listJobs()).toEqual([]);
  });
});
