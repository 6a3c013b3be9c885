// Chaos 4 — an engine process SIGKILLed behind a RUNNING deployment. The local provider runs each
// replica's engine as a real process on this host; the test kills it (its whole process group)
// under load. What must happen:
// - the inference gateway stops using it at once: a refused connection is retried on another
//   replica before the first byte, and the replica's circuit breaker opens after 3 failures;
// - the reconcile schedule (every RECONCILE_INTERVAL_SECONDS, 3 s here) finds the process gone,
//   marks the node TERMINATED (which drops it from every gateway's routing table) and signals the
//   deployment workflow, which replaces the replica: a new engine, the same replica index;
// - with a surviving replica no request started after the kill fails; with none, requests fail
//   fast (502 upstream_unavailable, or 404 model_not_found once the route is gone; never a 500 or a
//   hang) and are served again once the replacement is READY.
// Bounds are generous (a loaded 2-core machine): detection within 30 s, RUNNING again within 90 s.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localInstanceId, localScope } from '../../adapters/providers/local/local-provider.js';
import type { Config } from '../../lib/config.js';
import { createDb, type Db } from '../../lib/db.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq, waitFor } from '../helpers/env.js';
import { chat, platformEnv, startPlatform, type ChatResult, type Platform } from '../helpers/platform.js';
import { privateDir } from '../helpers/private-services.js';

const DETECT_MS = 30_000;
const RECOVER_MS = 90_000;

let folder: ReturnType<typeof privateDir>;
let config: Config;
let db: Db;
let org: DemoCredentials;
let platform: Platform;

interface NodeView {
  provider_instance_id: string;
  replica_index: number;
  state: string;
}
interface StatusView {
  status: string;
  nodes: NodeView[];
}

const status = () => platform.api.orchestration<StatusView>('GET', `/deployment/status/${platform.deploymentId}`);

/** RUNNING with `n` replicas, each READY: what "serving again" means for the workflow. */
async function runningWith(n: number): Promise<boolean> {
  const s = await status();
  const live = s.nodes.filter((node) => node.state !== 'TERMINATED');
  return s.status === 'RUNNING' && live.length === n && live.every((node) => node.state === 'READY');
}

/** Live engine processes of the deployment, from the process table (not our bookkeeping). */
function engineProcesses(): number {
  const out = execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => !l.trim().startsWith('Z') && l.includes('--inferia-instance=') && l.includes(platform.deploymentId)).length;
}

function enginePid(replicaIndex: number): number {
  const id = localInstanceId(localScope(config.localEngineDir), platform.deploymentId, replicaIndex);
  const file = join(config.localEngineDir, `${id}.pid`);
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
}

/** Gone or a zombie: it holds no socket any more. */
function dead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

function kill(pid: number) {
  expect(pid).toBeGreaterThan(0);
  try {
    process.kill(-pid, 'SIGKILL'); // the engine leads its own process group
  } catch {
    process.kill(pid, 'SIGKILL');
  }
}

/** Clients sending chats in a loop (a third of them streamed) until stopped. */
function load(clients: number) {
  const results: (ChatResult & { startedAt: number })[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, n) => {
    for (let i = 0; running; i++) {
      const startedAt = Date.now();
      const r = await chat(platform.stack.urls.inference, org.api_key, { stream: (i + n) % 3 === 0, content: `client ${n} request ${i}`, timeoutMs: 30_000 });
      results.push({ ...r, startedAt });
      if (r.status !== 200) await new Promise((res) => setTimeout(res, 100)); // no hot loop while nothing serves
    }
  });
  return {
    results,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}

/** True once the inference gateway has served through `n` distinct replicas (read from the request logs). */
async function servedBy(n: number): Promise<boolean> {
  const ids: string[] = [];
  for (let i = 0; i < 4 * n; i++) {
    const r = await chat(platform.stack.urls.inference, org.api_key, { content: `spread ${i}` });
    if (r.status === 200 && r.requestId) ids.push(r.requestId);
  }
  const rows = await waitFor(async () => {
    const found = await db.inferenceLog.findMany({ where: { requestId: { in: ids } }, select: { replica: true } });
    return found.length === ids.length ? found : undefined;
  }, 30_000, 250);
  return new Set(rows.map((r) => r.replica)).size >= n;
}

const replaceEvents = () => db.deploymentEvent.findMany({ where: { deploymentId: platform.deploymentId, kind: 'replace' }, orderBy: { at: 'asc' } });

beforeAll(async () => {
  folder = privateDir('engine-kill');
  const overrides = platformEnv({ TEMPORAL_TASK_QUEUE: uniq('engine-kill'), RECONCILE_INTERVAL_SECONDS: '3' }, folder.dir);
  config = testConfig(overrides);
  db = createDb(config.databaseUrl, { max: 3 });
  const slug = uniq('enginekill');
  org = await seedOrg(db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  platform = await startPlatform(config, { ...process.env, ...overrides }, org);
  await platform.api.orchestration('POST', '/deployment/scale', { deployment_id: platform.deploymentId, replicas: 2 });
  await waitFor(() => runningWith(2), 120_000, 500);
  await waitFor(() => servedBy(2), 60_000, 500); // the gateway routes to both
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  await db?.$disconnect();
  folder?.remove();
}, 120_000);

describe('chaos: engine process SIGKILLed behind a RUNNING deployment', () => {
  it('one of two engines killed under load → no request started after the kill fails, none hangs; replaced (RUNNING, 2 READY, 2 engines) within 90 s', async () => {
    expect(engineProcesses()).toBe(2);
    const traffic = load(3);
    await waitFor(async () => traffic.results.filter((r) => r.status === 200).length >= 10, 60_000, 50);

    const oldPid = enginePid(0);
    kill(oldPid);
    await waitFor(async () => dead(oldPid), 10_000, 20);
    const killedAt = Date.now();

    // The workflow hears of it through reconciliation and replaces replica 0.
    const [event] = await waitFor(async () => {
      const events = await replaceEvents();
      return events.length > 0 ? events : undefined;
    }, DETECT_MS, 250);
    expect(event!.message).toMatch(/replacing replica 0 .*TERMINATED/);
    const detectedMs = Date.now() - killedAt;
    await waitFor(async () => (await runningWith(2)) && enginePid(0) !== oldPid && !dead(enginePid(0)), RECOVER_MS, 500);
    const recoveredMs = Date.now() - killedAt;
    expect(recoveredMs).toBeLessThan(RECOVER_MS); // the stated bound, from the kill
    await waitFor(() => servedBy(2), 60_000, 500); // the replacement serves too
    const results = await traffic.stop();

    expect(results.filter((r) => r.status === 0)).toEqual([]); // nobody waited 30 s for an answer
    const after = results.filter((r) => r.startedAt >= killedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((r) => r.status !== 200).map((r) => ({ status: r.status, error: r.error }))).toEqual([]);
    expect(after.every((r) => r.content?.startsWith('This is the mock engine serving mock.'))).toBe(true);
    expect(engineProcesses()).toBe(2); // the replacement, not an extra one
    const s = await status();
    expect(s.nodes.filter((n) => n.state === 'READY').map((n) => n.replica_index).sort()).toEqual([0, 1]);

    console.log(
      `[engine-kill] one of two: ${results.length} requests (${after.length} after the kill, all 200, ` +
        `${results.filter((r) => r.startedAt < killedAt && r.status !== 200).length} in flight at the kill failed); ` +
        `replacement started ${detectedMs} ms and RUNNING with 2 READY ${recoveredMs} ms after the kill`,
    );
  }, 300_000);

  it('every engine killed → requests fail fast (502 upstream_unavailable or 404 model_not_found, never 500, never a hang), served again within 90 s', async () => {
    const pids = [enginePid(0), enginePid(1)];
    const replacedBefore = (await replaceEvents()).length;
    const traffic = load(2);
    await waitFor(async () => traffic.results.filter((r) => r.status === 200).length >= 5, 60_000, 50);
    pids.forEach(kill);
    await waitFor(async () => pids.every(dead), 10_000, 20);
    const killedAt = Date.now();

    // Both replicas replaced (the workflow heard of it), RUNNING with two live engines, and serving.
    await waitFor(async () => (await replaceEvents()).length >= replacedBefore + 2, DETECT_MS, 250);
    await waitFor(async () => (await runningWith(2)) && [0, 1].every((i) => !pids.includes(enginePid(i)) && !dead(enginePid(i))), RECOVER_MS, 500);
    await waitFor(async () => traffic.results.slice(-5).filter((r) => r.startedAt > killedAt && r.status === 200).length === 5, RECOVER_MS, 250);
    const recoveredMs = Date.now() - killedAt;
    expect(recoveredMs).toBeLessThan(RECOVER_MS); // the stated bound, from the kill
    const results = await traffic.stop();

    expect(results.filter((r) => r.status === 0)).toEqual([]);
    const failed = results.filter((r) => r.startedAt >= killedAt && r.status !== 200);
    const back = results.filter((r) => r.startedAt >= killedAt && r.status === 200).sort((a, b) => a.startedAt - b.startedAt)[0];
    for (const f of failed) {
      expect([502, 404]).toContain(f.status);
      expect(f.error?.code).toBe(f.status === 502 ? 'upstream_unavailable' : 'model_not_found');
      expect(f.ms).toBeLessThan(15_000); // fails fast rather than waiting for the replacement
    }
    expect(engineProcesses()).toBe(2);
    expect((await replaceEvents()).length).toBeGreaterThanOrEqual(replacedBefore + 2);
    expect(pids.every((p) => p !== enginePid(0) && p !== enginePid(1))).toBe(true);

    console.log(
      `[engine-kill] all engines: ${failed.length} requests refused while none served (slowest ${Math.round(Math.max(0, ...failed.map((f) => f.ms)))} ms); ` +
        `first served again ${back ? back.startedAt - killedAt : '?'} ms after the kill; 5 in a row served ${recoveredMs} ms after it`,
    );
  }, 300_000);
});
