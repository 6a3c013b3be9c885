// Provider and engine names the APIs accept. Kept here (not in adapters/) so gateways can
// validate a request without importing provider code; worker/ checks that each has an adapter.
export const PROVIDERS = ['local', 'kubernetes', 'skypilot', 'nosana', 'akash'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const ENGINES = ['mock', 'vllm', 'llama.cpp', 'openai'] as const;
export type EngineName = (typeof ENGINES)[number];

export const isProvider = (v: string): v is ProviderName => (PROVIDERS as readonly string[]).includes(v);
export const isEngine = (v: string): v is EngineName => (ENGINES as readonly string[]).includes(v);

export const NODE_STATE_VALUES = ['PROVISIONING', 'READY', 'BUSY', 'UNHEALTHY', 'TERMINATED'] as const;
export type NodeStateName = (typeof NODE_STATE_VALUES)[number];
