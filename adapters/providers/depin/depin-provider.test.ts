// How a sidecar job's state reads as an engine probe (the behaviour over HTTP is in the
// nosana and akash adapter tests, which run the real sidecar).
import { describe, expect, it } from 'vitest';
import { depinInstanceId, probeFromJob } from './depin-provider.js';

const job = (state: 'QUEUED' | 'RUNNING' | 'STOPPED' | 'FAILED' | 'COMPLETED', extra: { expose_url?: string; message?: string } = {}) => ({
  job_id: 'j1',
  instance_id: 'dep-r0',
  state,
  ...extra,
});

describe('DePIN job state as an engine probe', () => {
  it('maps each job state', () => {
    expect(probeFromJob(job('QUEUED', { message: 'waiting for a node' }))).toEqual({ state: 'PROVISIONING', message: 'waiting for a node' });
    expect(probeFromJob(job('RUNNING', { expose_url: 'https://x.example' }))).toEqual({ state: 'READY', exposeUrl: 'https://x.example' });
    expect(probeFromJob(job('RUNNING')).state).toBe('PROVISIONING');
    expect(probeFromJob(job('STOPPED')).state).toBe('TERMINATED');
    expect(probeFromJob(job('COMPLETED')).state).toBe('TERMINATED');
    expect(probeFromJob(job('FAILED', { message: 'engine process exited' }))).toEqual({ state: 'UNHEALTHY', message: 'engine process exited' });
    expect(probeFromJob(undefined).state).toBe('TERMINATED');
  });

  it('names instances by deployment and replica', () => {
    expect(depinInstanceId('dep-1', 2)).toBe('dep-1-r2');
  });
});
