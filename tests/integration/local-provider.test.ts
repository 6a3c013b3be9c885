// The local provider against real processes: idempotent start and stop, logs, discovery.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalProvider, localInstanceId, localScope } from '../../adapters/providers/local/local-provider.js';
import type { EngineSpec } from '../../adapters/providers/types.js';
import { uniq, waitFor } from '../helpers/env.js';

const engineDir = mkdtempSync(join(tmpdir(), 'inferia-local-'));
const provider = createLocalProvider({ engineDir });

const spec = (deploymentId: string, engine = 'mock'): EngineSpec => ({
  deploymentId,
  replicaIndex: 0,
  poolId: 'pool',
  engine,
  model: 'local-test',
  artifactUri: 'inferia/mock-engine',
  gpuPerReplica: 0,
  configuration: {},
  // Nothing listens here: the engine serves anyway and logs that its heartbeat failed.
  heartbeat: { url: 'http://127.0.0.1:9/inventory/heartbeat', token: 't', intervalMs: 60_000 },
});

const started: string[] = [];
afterAll(async () => {
  for (const id of started) await provider.stopEngine(id);
});

describe('local provider', () => {
  it('starts one engine per replica however often it is asked, and stops it', async () => {
    const deploymentId = uniq('dep');
    const first = await provider.startEngine(spec(deploymentId));
    started.push(first.providerInstanceId);
    const again = await provider.startEngine(spec(deploymentId));
    expect(again.providerInstanceId).toBe(first.providerInstanceId);
    expect(again.metadata.pid).toBe(first.metadata.pid);
    expect(first.providerInstanceId).toBe(localInstanceId(localScope(engineDir), deploymentId, 0));

    const lines = await waitFor(async () => {
      const l = await provider.getLogs(first.providerInstanceId);
      return l.some((x) => x.includes('serving local-test')) ? l : undefined;
    }, 20_000);
    const url = /serving local-test on (\S+)/.exec(lines.join('\n'))![1]!;
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);

    expect((await provider.discoverNodes()).map((n) => n.providerInstanceId)).toContain(first.providerInstanceId);
    const gone = localInstanceId(localScope(engineDir), 'gone', 0);
    const elsewhere = localInstanceId(localScope('/another/host/folder'), 'theirs', 0);
    const rec = await provider.reconcile([first.providerInstanceId, gone, elsewhere]);
    expect(rec.vanished).toEqual([gone]); // another scope's engine is not ours to condemn
    expect(provider.owns?.(elsewhere)).toBe(false);

    await provider.stopEngine(first.providerInstanceId);
    await provider.stopEngine(first.providerInstanceId); // idempotent
    expect((await provider.getNodeMetadata(first.providerInstanceId)).running).toBe(false);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('adopts an engine whose pid file was never written (worker killed right after the spawn) instead of starting a second', async () => {
    const deploymentId = uniq('orphan');
    const first = await provider.startEngine(spec(deploymentId));
    started.push(first.providerInstanceId);
    rmSync(join(engineDir, `${first.providerInstanceId}.pid`));
    const again = await provider.startEngine(spec(deploymentId));
    expect(again.metadata).toMatchObject({ pid: first.metadata.pid, reused: true });
    expect((await provider.getNodeMetadata(first.providerInstanceId)).running).toBe(true);
    await provider.stopEngine(first.providerInstanceId);
    expect((await provider.getNodeMetadata(first.providerInstanceId)).running).toBe(false);
  });

  it('refuses an engine this host cannot run, with a reason', async () => {
    await expect(provider.startEngine(spec(uniq('dep'), 'vllm'))).rejects.toThrow(/cannot run on the local provider/);
  });

  it('lists this host as a resource', async () => {
    const [host] = await provider.listResources();
    expect(host?.vcpu).toBeGreaterThan(0);
    expect(host?.gpuCount).toBe(0);
  });
});
