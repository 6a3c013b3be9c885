// `inferia up`: the whole platform on its embedded default, in the foreground.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { loadConfig } from '../../lib/config.js';
import { createDb } from '../../lib/db.js';
import {
  UP_PORTS,
  ensureSystemServices,
  startPostgres,
  startRedis,
  startTemporal,
  stopPostgres,
  stopRedis,
  stopTemporal,
} from '../../lib/local-services/services.js';
import { ensureBuilt } from '../../lib/local-services/build.js';
import { startStack, type Stack } from '../../lib/local-services/stack.js';
import { isPortOpen } from '../../lib/local-services/system.js';
import { applyMigrations } from '../../lib/migrate.js';
import { seedDemo, type DemoCredentials } from '../../prisma/seed.js';
import { InferiaApi, waitForStatus } from '../api-client.js';
import { DEFAULT_FILTRATION_URL, defaultOrchestrationUrl } from '../cli/session.js';
import { loadOrCreateSecrets } from '../secrets.js';

const tty = process.stdout.isTTY === true;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const progress = (msg: string) => process.stdout.write(`[inferia] ${msg}\n`);

/** Ports of the private services; overridable so two platforms (or a test) can run side by side. */
function servicePorts(env: NodeJS.ProcessEnv) {
  const port = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}: must be a port number (1-65535), got '${raw}'`);
    return n;
  };
  return {
    postgres: port('INFERIA_POSTGRES_PORT', UP_PORTS.postgres),
    redis: port('INFERIA_REDIS_PORT', UP_PORTS.redis),
    temporal: port('INFERIA_TEMPORAL_PORT', UP_PORTS.temporal),
    temporalUi: port('INFERIA_TEMPORAL_UI_PORT', UP_PORTS.temporalUi),
  };
}

export async function up(): Promise<number> {
  const env = process.env;
  const dataDir = resolve(env.INFERIA_DATA_DIR ?? '.inferia');
  const ports = servicePorts(env);
  const started = { postgres: false, redis: false, temporal: false };
  let stack: Stack | undefined;
  let shuttingDown = false;

  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    progress('stopping …');
    await stack?.stop();
    const engines = createLocalProvider({ engineDir: join(dataDir, 'engines') });
    for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
    if (started.temporal) await stopTemporal(dataDir);
    if (started.redis) stopRedis(dataDir, ports.redis);
    if (started.postgres) stopPostgres(dataDir);
    progress('stopped; data kept in ' + dataDir);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    const secrets = loadOrCreateSecrets(dataDir);
    await ensureSystemServices(progress, { postgres: !env.DATABASE_URL, redis: !env.REDIS_URL });
    const databaseUrl = env.DATABASE_URL ?? (await startPostgres(dataDir, ports.postgres, progress));
    started.postgres = !env.DATABASE_URL;
    const redisUrl = env.REDIS_URL ?? (await startRedis(dataDir, ports.redis, progress, true));
    started.redis = !env.REDIS_URL;
    const temporal = env.TEMPORAL_ADDRESS
      ? { address: env.TEMPORAL_ADDRESS, uiUrl: env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233' }
      : await startTemporal(dataDir, ports, progress);
    started.temporal = !env.TEMPORAL_ADDRESS;

    const applied = await applyMigrations(databaseUrl);
    progress(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');

    const baseEnv: NodeJS.ProcessEnv = {
      ...env,
      INFERIA_ENV: env.INFERIA_ENV ?? 'development',
      INFERIA_DATA_DIR: dataDir,
      LOCAL_ENGINE_DIR: env.LOCAL_ENGINE_DIR ?? join(dataDir, 'engines'),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_UI_URL: temporal.uiUrl,
      ...secrets,
    };
    const config = loadConfig(baseEnv);

    const demoFile = join(dataDir, 'demo.json');
    const previous = existsSync(demoFile) ? (JSON.parse(readFileSync(demoFile, 'utf8')) as Partial<DemoCredentials>) : undefined;
    const db = createDb(databaseUrl, { max: 2 });
    const demo = await seedDemo(db, config, previous);

    const busy: string[] = [];
    for (const [name, port] of Object.entries(config.ports)) {
      if (await isPortOpen(port)) busy.push(`${port} (${name})`);
    }
    if (busy.length > 0) {
      throw new Error(`port(s) ${busy.join(', ')} already in use: stop what holds them, or set FILTRATION_PORT, INFERENCE_PORT, ORCHESTRATION_PORT, ORCHESTRATION_GRPC_PORT, SIDECAR_PORT, DASHBOARD_PORT`);
    }
    progress('starting the gateways, the sidecar, the worker and the dashboard …');
    await ensureBuilt(progress);
    stack = await startStack({ env: baseEnv, ports: config.ports, color: tty, progress, built: true });
    stack.supervisor.onUnexpectedExit = (name, code) => {
      progress(`${name} exited unexpectedly (code ${code}); stopping everything`);
      void shutdown(1);
    };

    const api = new InferiaApi(stack.urls);
    await api.login(demo.admin_email, demo.admin_password);
    await restartOrphanedLocalDeployments(db, api, join(dataDir, 'engines'));
    const deploymentId = await ensureDemoDeployment(db, api, demo);
    await db.$disconnect();

    const summary = {
      ...demo,
      deployment_id: deploymentId,
      urls: {
        dashboard: stack.urls.dashboard ?? '',
        inference: `${stack.urls.inference}/v1`,
        filtration: stack.urls.filtration,
        orchestration: stack.urls.orchestration,
        orchestration_grpc: stack.urls.orchestrationGrpc,
        sidecar: stack.urls.sidecar,
        temporal_ui: temporal.uiUrl,
        temporal: temporal.address,
        postgres: databaseUrl,
        redis: redisUrl,
      },
    };
    writeFileSync(demoFile, JSON.stringify(summary, null, 2), { mode: 0o600 });
    printSummary({ ...summary, demo_file: demoFile });
    await new Promise(() => {}); // run until a signal arrives
    return 0;
  } catch (err) {
    progress(`failed: ${(err as Error).message}`);
    await shutdown(1);
    return 1;
  }
}

/**
 * Local engines stop with `up`; a deployment the workflow still holds RUNNING is restarted
 * through the public API (terminate, then start) so it serves again.
 */
async function restartOrphanedLocalDeployments(db: ReturnType<typeof createDb>, api: InferiaApi, engineDir: string) {
  const local = createLocalProvider({ engineDir });
  const running = await db.deployment.findMany({
    where: { status: 'RUNNING', pool: { provider: 'local' } },
    include: { nodes: true },
  });
  for (const d of running) {
    const alive = await Promise.all(d.nodes.map(async (n) => (await local.getNodeMetadata(n.providerInstanceId)).running === true));
    if (d.nodes.length > 0 && alive.every(Boolean)) continue;
    progress(`restarting deployment ${d.id} (${d.inferenceModel}): its local engines stopped with the platform`);
    await api.orchestration('POST', '/deployment/terminate', { deployment_id: d.id, org_id: d.orgId });
    await waitForStatus(api, d.id, ['STOPPED'], { timeoutMs: 60_000 });
    await api.orchestration('POST', '/deployment/start', { deployment_id: d.id, org_id: d.orgId });
    await waitForStatus(api, d.id, ['RUNNING'], { onChange: (st, reason) => progress(`  deployment ${d.id}: ${st}${reason ? ` (${reason})` : ''}`) }).catch(
      (err: Error) => progress(`  deployment ${d.id} did not come back: ${err.message}`),
    );
  }
}

async function ensureDemoDeployment(db: ReturnType<typeof createDb>, api: InferiaApi, demo: DemoCredentials): Promise<string> {
  const existing = await db.deployment.findFirst({
    where: { orgId: demo.org_id, inferenceModel: demo.model_name },
    orderBy: { createdAt: 'desc' },
  });
  let id = existing?.id;
  if (!id) {
    progress(`deploying the demo model '${demo.model_name}' on the local pool …`);
    const out = await api.orchestration<{ deployment_id: string }>('POST', '/deployment/deploy', {
      model_name: demo.model_name,
      model_version: demo.model_version,
      pool_id: demo.pool_id,
      replicas: 1,
      org_id: demo.org_id,
    });
    id = out.deployment_id;
  } else if (existing?.status === 'STOPPED' || existing?.status === 'FAILED') {
    progress(`demo deployment is ${existing.status}; leaving it so (start it with POST /deployment/start)`);
    return id;
  }
  await waitForStatus(api, id, ['RUNNING'], { onChange: (s, reason) => progress(`  deployment ${id}: ${s}${reason ? ` (${reason})` : ''}`) });
  return id;
}

/** The login flags needed when the gateways are not on the CLI's default ports. */
function cliUrlFlags(urls: Record<string, string>): string {
  const filtration = urls.filtration ?? DEFAULT_FILTRATION_URL;
  const orchestration = urls.orchestration ?? defaultOrchestrationUrl(filtration);
  return (
    (filtration === DEFAULT_FILTRATION_URL ? '' : ` --url ${filtration}`) +
    (orchestration === defaultOrchestrationUrl(filtration) ? '' : ` --orchestration-url ${orchestration}`)
  );
}

function printSummary(s: { demo_file: string; admin_email: string; admin_password: string; api_key: string; org_id: string; deployment_id: string; urls: Record<string, string> }) {
  const line = '─'.repeat(72);
  const rows: [string, string][] = [
    ['Dashboard', `${s.urls.dashboard}  (sign in with the admin login below)`],
    ['OpenAI-compatible API', s.urls.inference!],
    ['Filtration gateway', s.urls.filtration!],
    ['Orchestration gateway', `${s.urls.orchestration}  (gRPC ${s.urls.orchestration_grpc})`],
    ['DePIN sidecar', s.urls.sidecar!],
    ['Temporal UI', s.urls.temporal_ui!],
    ['Temporal', s.urls.temporal!],
  ];
  const out = [
    '',
    line,
    bold(' Inferia is up'),
    line,
    ...rows.map(([k, v]) => ` ${k.padEnd(24)} ${v}`),
    '',
    ` ${'Admin login'.padEnd(24)} ${s.admin_email} / ${s.admin_password}`,
    ` ${'API key'.padEnd(24)} ${s.api_key}`,
    ` ${'Org id'.padEnd(24)} ${s.org_id}`,
    ` ${'Demo deployment'.padEnd(24)} ${s.deployment_id} (model "mock", RUNNING)`,
    '',
    ' Try it:',
    `   curl ${s.urls.inference}/chat/completions \\`,
    `     -H "Authorization: Bearer ${s.api_key}" -H "Content-Type: application/json" \\`,
    `     -d '{"model":"mock","messages":[{"role":"user","content":"Hello"}]}'`,
    '',
    ' Operator CLI (asks for the admin password above):',
    `   npm run inferia -- login --email ${s.admin_email}${cliUrlFlags(s.urls)}`,
    '   npm run inferia -- status          # then: deploy, logs -f, scale, keys … (npm run inferia -- --help)',
    '',
    ` Credentials and URLs are also in ${s.demo_file}. Ctrl-C stops everything; data is kept.`,
    line,
    '',
  ];
  process.stdout.write(out.join('\n'));
}
