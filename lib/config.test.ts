import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const strong = {
  JWT_SECRET: 'j'.repeat(40),
  INTERNAL_SERVICE_TOKEN: 's'.repeat(40),
  API_KEY_PEPPER: 'p'.repeat(40),
  ENCRYPTION_KEY: 'ab'.repeat(32),
};

describe('loadConfig', () => {
  it('gives the seed defaults for ports and the orchestration task queue', () => {
    const c = loadConfig({});
    expect(c.ports).toMatchObject({ filtration: 8000, inference: 8001, orchestration: 8080, orchestrationGrpc: 50051, sidecar: 3000, dashboard: 3001 });
    expect(c.temporal.taskQueue).toBe('inferia-orchestration');
    expect(c.urls.sidecar).toBe('http://127.0.0.1:3000');
    expect(c.isDev).toBe(true);
  });

  it('is pure: the same environment gives the same config', () => {
    expect(loadConfig({ ...strong, FILTRATION_PORT: '9000' })).toEqual(loadConfig({ ...strong, FILTRATION_PORT: '9000' }));
  });

  it('refuses to start in production with missing or development secrets', () => {
    expect(() => loadConfig({ INFERIA_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...strong, INFERIA_ENV: 'production', JWT_SECRET: 'insecure-dev-whatever-000000000000000' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ ...strong, INFERIA_ENV: 'production', ENCRYPTION_KEY: 'short' })).toThrow(/ENCRYPTION_KEY/);
    expect(loadConfig({ ...strong, INFERIA_ENV: 'production' }).secrets.encryptionKey).toHaveLength(32);
  });

  it('names the bad variable', () => {
    expect(() => loadConfig({ INFERENCE_PORT: 'eighty' })).toThrow(/INFERENCE_PORT/);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ ACCESS_TOKEN_TTL_SECONDS: '3600' })).toThrow(/ACCESS_TOKEN_TTL_SECONDS/);
  });

  it('reads the Batch API settings and where the worker reaches the inference gateway', () => {
    expect(loadConfig({}).batch).toEqual({ concurrency: 8, chunkSize: 100, maxFileBytes: 100 * 1024 * 1024, maxRequests: 50_000 });
    expect(loadConfig({ INFERENCE_PORT: '9001' }).urls.inference).toBe('http://127.0.0.1:9001');
    expect(loadConfig({ INFERENCE_URL: 'http://inference:8001', BATCH_CONCURRENCY: '2' })).toMatchObject({ urls: { inference: 'http://inference:8001' }, batch: { concurrency: 2 } });
    expect(() => loadConfig({ BATCH_CONCURRENCY: '0' })).toThrow(/BATCH_CONCURRENCY/);
  });

  it('allows the dashboard origin cross-origin, and refuses what is not an origin', () => {
    expect(loadConfig({ DASHBOARD_PORT: '4001' }).dashboardOrigins).toEqual(['http://127.0.0.1:4001', 'http://localhost:4001']);
    expect(loadConfig({ DASHBOARD_ORIGINS: 'https://ops.example.com/, http://10.0.0.5:3001' }).dashboardOrigins).toEqual(['https://ops.example.com', 'http://10.0.0.5:3001']);
    expect(() => loadConfig({ DASHBOARD_ORIGINS: 'https://ops.example.com/path' })).toThrow(/DASHBOARD_ORIGINS/);
  });

  it('parses booleans strictly', () => {
    expect(loadConfig({ TRUST_PROXY: 'yes' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({}).trustProxy).toBe(false);
  });

  it('keeps traces off by default and builds the OTLP traces URL from the standard variables', () => {
    expect(loadConfig({}).tracing).toEqual({ exporter: 'none', endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 1 });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing).toEqual({
      exporter: 'otlp',
      endpoint: 'http://collector:4318/v1/traces',
      sampleRatio: 0.25,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://vendor.example/otlp/traces' }).tracing.endpoint).toBe('https://vendor.example/otlp/traces');
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
  });
});
