// The `akash` provider: engine replicas are Akash deployments, created and watched through the
// DePIN sidecar (which holds the deployer mnemonic and the chain client; simulation or live per
// NOSANA_MODE, which sets the mode of both DePIN networks).
import type { Config } from '../../../lib/config.js';
import type { ProviderAdapter } from '../types.js';
import { createDepinProvider, type DepinProviderOptions } from '../depin/depin-provider.js';

export type AkashProviderOptions = DepinProviderOptions;

export function createAkashProvider(options: AkashProviderOptions): ProviderAdapter {
  return createDepinProvider('akash', options);
}

/** Registry entry (lib/providers.ts). */
export const createProvider = (config: Config): ProviderAdapter =>
  createAkashProvider({ sidecarUrl: config.urls.sidecar, serviceToken: config.secrets.internalServiceToken });
