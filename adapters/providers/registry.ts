// Provider name → adapter, built from the registry in lib/providers.ts: each listed module
// exports `createProvider(config)`. Loaded only by the worker (and tools), never by a gateway.
import type { Config } from '../../lib/config.js';
import { PROVIDER_MODULES } from '../../lib/providers.js';
import type { ProviderAdapter } from './types.js';

export type ProviderRegistry = ReadonlyMap<string, ProviderAdapter>;

export interface ProviderModule {
  createProvider(config: Config): ProviderAdapter;
}

export async function createProviderRegistry(config: Config): Promise<ProviderRegistry> {
  const adapters = await Promise.all(
    Object.entries(PROVIDER_MODULES).map(async ([name, path]) => {
      const mod = (await import(path)) as ProviderModule;
      const adapter = mod.createProvider(config);
      if (adapter.name !== name) throw new Error(`provider module ${path} builds '${adapter.name}', registered as '${name}'`);
      return adapter;
    }),
  );
  return new Map(adapters.map((a) => [a.name, a]));
}
