// The container a live DePIN job runs for an engine: image, entrypoint and arguments, serving the
// OpenAI-compatible API on ENGINE_PORT. Pure, shared by the Nosana job definition and the Akash SDL.
import { DepinConfigError, type DepinJobSpec } from './types.js';

export const ENGINE_PORT = 8000;

export interface EngineContainer {
  image: string;
  /** Replaces the image's entrypoint; undefined keeps it. */
  entrypoint?: string[];
  args: string[];
  env: Record<string, string>;
  gpu: boolean;
  /** Answers 200 once the model is loaded. */
  healthPath: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

/** `hf://org/model` and `org/model` both name a Hugging Face repository. */
const hfRepo = (uri: string) => uri.replace(/^hf:\/\//, '');

export function engineContainer(spec: DepinJobSpec): EngineContainer {
  const gpu = spec.gpuPerReplica > 0;
  const image = str(spec.configuration.image);
  switch (spec.engine) {
    case 'vllm': {
      if (!gpu) throw new DepinConfigError("engine 'vllm' needs gpu_per_replica >= 1 on a DePIN network");
      const args = ['--model', hfRepo(spec.artifactUri), '--served-model-name', spec.model, '--host', '0.0.0.0', '--port', String(ENGINE_PORT)];
      if (spec.gpuPerReplica > 1) args.push('--tensor-parallel-size', String(spec.gpuPerReplica));
      const maxLen = int(spec.configuration.max_model_len);
      if (maxLen) args.push('--max-model-len', String(maxLen));
      return { image: image ?? 'vllm/vllm-openai:latest', args, env: {}, gpu, healthPath: '/health' };
    }
    case 'llama.cpp': {
      const source = /^https?:\/\//.test(spec.artifactUri) ? ['--model-url', spec.artifactUri] : ['-hf', hfRepo(spec.artifactUri)];
      const args = [...source, '--alias', spec.model, '--host', '0.0.0.0', '--port', String(ENGINE_PORT), ...(gpu ? ['-ngl', '999'] : [])];
      return { image: image ?? `ghcr.io/ggml-org/llama.cpp:${gpu ? 'server-cuda' : 'server'}`, args, env: {}, gpu, healthPath: '/health' };
    }
    case 'mock': {
      // The mock engine ships in the Inferia image (see Dockerfile); where that image is published is the operator's call.
      if (!image) throw new DepinConfigError("engine 'mock' on a live DePIN network needs configuration.image (an Inferia image that contains the mock engine)");
      return {
        image,
        args: ['node', '--import', 'tsx', 'adapters/engines/mock/mock-engine.ts'],
        env: { INFERIA_ENGINE_MODEL: spec.model, INFERIA_ENGINE_HOST: '0.0.0.0', INFERIA_ENGINE_PORT: String(ENGINE_PORT) },
        gpu,
        healthPath: '/health',
      };
    }
    default:
      throw new DepinConfigError(`engine '${spec.engine}' cannot run as a DePIN container (use vllm, llama.cpp or mock)`);
  }
}
