// The provider registry: each name and the module under adapters/providers/ that builds its
// adapter (the module exports `createProvider(config)`). Adding a provider is its folder plus one
// line here. Names live in lib/ so gateways validate `provider` without importing provider code;
// only the worker loads the modules (adapters/providers/registry.ts).
export const PROVIDER_MODULES = {
  local: './local/local-provider.js',
  kubernetes: './kubernetes/kubernetes-provider.js',
  skypilot: './skypilot/skypilot-provider.js',
  nosana: './nosana/nosana-provider.js',
  akash: './akash/akash-provider.js',
} as const;
export type ProviderName = keyof typeof PROVIDER_MODULES;
export const PROVIDERS = Object.keys(PROVIDER_MODULES) as [ProviderName, ...ProviderName[]];

export const ENGINES = ['mock', 'vllm', 'llama.cpp', 'openai'] as const;
export type EngineName = (typeof ENGINES)[number];

export const isProvider = (v: string): v is ProviderName => (PROVIDERS as readonly string[]).includes(v);
export const isEngine = (v: string): v is EngineName => (ENGINES as readonly string[]).includes(v);

export const NODE_STATE_VALUES = ['PROVISIONING', 'READY', 'BUSY', 'UNHEALTHY', 'TERMINATED'] as const;
export type NodeStateName = (typeof NODE_STATE_VALUES)[number];
