// One behaviour suite for the DePIN adapters (nosana, akash): the real adapter against the real
// sidecar app in simulation mode over loopback, with a tiny heartbeat receiver standing in for the
// orchestration gateway. Each adapter's test file calls it with its own factory.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config.js';
import { sidecarApp } from '../../../sidecar/app.js';
import { createSimulatedProvider } from '../../../sidecar/providers/simulation.js';
import { uniq, waitFor } from '../../../tests/helpers/env.js';
import { ProviderConfigError, type EngineSpec, type ProviderAdapter } from '../types.js';
import type { DepinProviderOptions } from './depin-provider.js';

interface Beat {
  authorization?: string;
  body: Record<string, unknown>;
}

export function describeDepinAdapter(network: 'nosana' | 'akash', create: (options: DepinProviderOptions) => ProviderAdapter) {
  describe(`${network} provider adapter against the sidecar (simulation)`, () => {
    const config = loadConfig({ INFERIA_ENV: 'test', LOG_LEVEL: 'silent' });
    const engineDir = mkdtempSync(join(tmpdir(), `inferia-${network}-`));
    const simulated = { nosana: createSimulatedProvider('nosana', { engineDir }), akash: createSimulatedProvider('akash', { engineDir }) };
    const beats: Beat[] = [];
    let sidecar: FastifyInstance;
    let gateway: Server;
    let heartbeatUrl: string;
    let adapter: ProviderAdapter;
    const started: string[] = [];

    const spec = (deploymentId: string, overrides: Partial<EngineSpec> = {}): EngineSpec => ({
      deploymentId,
      replicaIndex: 0,
      poolId: 'pool-1',
      engine: 'mock',
      model: `${network}-model`,
      artifactUri: 'inferia/mock-engine',
      gpuPerReplica: 0,
      configuration: {},
      heartbeat: { url: heartbeatUrl, token: 'node-token', intervalMs: 60_000 },
      ...overrides,
    });

    beforeAll(async () => {
      gateway = createServer((req, res) => {
        let data = '';
        req.on('data', (c: Buffer) => (data += c.toString()));
        req.on('end', () => {
          // Engines may post other node-agent traffic (log batches) to sibling routes; only heartbeats count here.
          if (req.url === '/inventory/heartbeat') beats.push({ authorization: req.headers.authorization, body: JSON.parse(data) as Record<string, unknown> });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        });
      });
      await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
      heartbeatUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/inventory/heartbeat`;
      sidecar = Fastify({ logger: false });
      await sidecar.register(sidecarApp, { config, ...simulated });
      const sidecarUrl = await sidecar.listen({ host: '127.0.0.1', port: 0 });
      adapter = create({ sidecarUrl, serviceToken: config.secrets.internalServiceToken });
    });

    afterAll(async () => {
      for (const id of started) await adapter.stopEngine(id).catch(() => undefined);
      for (const job of await simulated[network].listJobs()) await simulated[network].stopJob(job.jobId);
      await sidecar?.close();
      await new Promise<void>((r) => (gateway ? gateway.close(() => r()) : r()));
      rmSync(engineDir, { recursive: true, force: true });
    });

    it(`starts an engine that serves, heartbeats as '${network}', and stops it`, async () => {
      const deploymentId = uniq('dep');
      const instance = await adapter.startEngine(spec(deploymentId));
      started.push(instance.providerInstanceId);
      expect(adapter.name).toBe(network);
      expect(instance.providerInstanceId).toBe(`sim-${network}-${deploymentId}-r0`);
      expect(instance.metadata).toMatchObject({ network, instance_id: `${deploymentId}-r0` });

      const again = await adapter.startEngine(spec(deploymentId));
      expect(again.providerInstanceId).toBe(instance.providerInstanceId);

      const ready = await waitFor(async () => {
        const probe = await adapter.probeEngine(instance.providerInstanceId);
        return probe.state === 'READY' ? probe : undefined;
      }, 30_000);
      expect(ready.exposeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const chat = await fetch(`${ready.exposeUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: `${network}-model`, messages: [{ role: 'user', content: 'ping' }] }),
      });
      expect(((await chat.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe(
        `This is the mock engine serving ${network}-model. You said: ping`,
      );

      const beat = await waitFor(async () => beats.find((b) => b.body.provider_instance_id === instance.providerInstanceId), 15_000);
      expect(beat.body).toMatchObject({ provider: network, state: 'READY', expose_url: ready.exposeUrl });
      expect(beat.authorization).toBe('Bearer node-token');

      const logs = await adapter.getLogs(instance.providerInstanceId, { tail: 20 });
      expect(logs.some((l) => l.includes(`serving ${network}-model on ${ready.exposeUrl}`))).toBe(true);
      expect(logs.length).toBeLessThanOrEqual(20);

      expect((await adapter.discoverNodes()).map((n) => n.providerInstanceId)).toContain(instance.providerInstanceId);
      const reconciled = await adapter.reconcile([instance.providerInstanceId, `sim-${network}-gone-r0`]);
      expect(reconciled.vanished).toEqual([`sim-${network}-gone-r0`]);
      expect(reconciled.discovered.map((n) => n.providerInstanceId)).not.toContain(instance.providerInstanceId);
      expect(await adapter.getNodeMetadata(instance.providerInstanceId)).toMatchObject({ found: true, job_state: 'RUNNING' });

      await adapter.stopEngine(instance.providerInstanceId);
      expect(await adapter.probeEngine(instance.providerInstanceId)).toMatchObject({ state: 'TERMINATED' });
      await expect(fetch(`${ready.exposeUrl}/health`)).rejects.toThrow();
      await adapter.stopEngine(instance.providerInstanceId); // idempotent
      expect((await adapter.reconcile([instance.providerInstanceId])).vanished).toEqual([instance.providerInstanceId]);
    });

    it('treats a job the sidecar does not know as stopped and terminated', async () => {
      await adapter.stopEngine(`sim-${network}-never-r0`);
      expect(await adapter.probeEngine(`sim-${network}-never-r0`)).toMatchObject({ state: 'TERMINATED' });
      expect(await adapter.getLogs(`sim-${network}-never-r0`)).toEqual([]);
    });

    it('fails for good (ProviderConfigError) when the sidecar refuses the request', async () => {
      const wrongToken = create({ sidecarUrl: `http://127.0.0.1:${(sidecar.server.address() as AddressInfo).port}`, serviceToken: 'wrong' });
      const refused = await wrongToken.startEngine(spec(uniq('dep'))).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ProviderConfigError);
      expect((refused as Error).message).toMatch(new RegExp(`POST /${network}/jobs answered 401`));

      const bad = await adapter.startEngine(spec(uniq('dep'), { heartbeat: { url: 'not a url', token: 't', intervalMs: 1000 } })).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(ProviderConfigError);
      expect((bad as Error).message).toMatch(/heartbeat\.url/);
    });

    it('names the route when the sidecar is unreachable', async () => {
      const down = create({ sidecarUrl: 'http://127.0.0.1:9', serviceToken: 'x', timeoutMs: 2000 });
      await expect(down.probeEngine('any')).rejects.toThrow(new RegExp(`unreachable for GET /${network}/jobs/any`));
    });

    it('lists resources and hands out a pool handle', async () => {
      const [resource] = await adapter.listResources();
      expect(resource).toMatchObject({ name: `${network}:simulated`, gpuCount: 0, available: true });
      expect(await adapter.provisionNode('pool-9', {})).toBe(`${network}:pool-9`);
      await adapter.deprovisionNode(`${network}:pool-9`);
    });
  });
}
