// Provider name → adapter. Adding a provider is one folder under adapters/providers/ and one line here.
import type { Config } from '../../lib/config.js';
import { createAkashProvider } from './akash/akash-provider.js';
import { createKubernetesProvider } from './kubernetes/kubernetes-provider.js';
import { createLocalProvider } from './local/local-provider.js';
import { createNosanaProvider } from './nosana/nosana-provider.js';
import { createSkypilotProvider } from './skypilot/skypilot-provider.js';
import type { ProviderAdapter } from './types.js';

export type ProviderRegistry = ReadonlyMap<string, ProviderAdapter>;

export function createProviderRegistry(config: Config): ProviderRegistry {
  const adapters: ProviderAdapter[] = [
    createLocalProvider({ engineDir: config.localEngineDir }),
    createKubernetesProvider(config.providers.kubernetes),
    createSkypilotProvider(config.providers.skypilot),
    createNosanaProvider({ sidecarUrl: config.urls.sidecar, serviceToken: config.secrets.internalServiceToken }),
    createAkashProvider({ sidecarUrl: config.urls.sidecar, serviceToken: config.secrets.internalServiceToken }),
  ];
  return new Map(adapters.map((a) => [a.name, a]));
}

