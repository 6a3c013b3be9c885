// The `nosana` provider: engine replicas are Nosana jobs, created and watched through the DePIN
// sidecar (which holds the Solana wallet and the Nosana SDK; simulation or live per NOSANA_MODE).
import type { Config } from '../../../lib/config.js';
import type { ProviderAdapter } from '../types.js';
import { createDepinProvider, type DepinProviderOptions } from '../depin/depin-provider.js';

export type NosanaProviderOptions = DepinProviderOptions;

export function createNosanaProvider(options: NosanaProviderOptions): ProviderAdapter {
  return createDepinProvider('nosana', options);
}

/** Registry entry (lib/providers.ts). */
export const createProvider = (config: Config): ProviderAdapter =>
  createNosanaProvider({ sidecarUrl: config.urls.sidecar, serviceToken: config.secrets.internalServiceToken });
