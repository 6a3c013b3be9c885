// `inferia bench` (`npm run bench`): the inference hot-path benchmark. Starts private Postgres and
// Redis under .inferia/bench (no Temporal: nothing here runs a workflow), migrates, seeds an org
// whose `bench-mock` deployment points at a mock upstream, starts the mock, a plain reverse proxy
// and the filtration and inference gateways as they are built, runs bench/run.ts, then stops what
// it started. BENCH_DURATION_SECONDS (default 10), BENCH_WARMUP_SECONDS (1), BENCH_CONNECTIONS
// ("1,32"), BENCH_CPU_PROFILE=1 (a V8 CPU profile of the gateway); INFERIA_KEEP_SERVICES=1 leaves
// Postgres and Redis running.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { probeChain } from '../../bench/chain.js';
import { freePort } from '../../bench/load.js';
import { runBench } from '../../bench/run.js';
import { BENCH_MODEL, seedBench } from '../../bench/seed.js';
import { loadConfig } from '../../lib/config.js';
import { createDb, type Db } from '../../lib/db.js';
import { builtScript, ensureBuilt, INFERENCE_ENTRY, INFERENCE_NODE_OPTIONS } from '../../lib/local-services/build.js';
import { ensureSystemServices, resolveTestPorts, startPostgres, startRedis, stopPostgres, stopRedis } from '../../lib/local-services/services.js';
import { ROOT, Supervisor } from '../../lib/local-services/supervisor.js';
import { applyMigrations } from '../../lib/migrate.js';
import { loadOrCreateSecrets } from '../secrets.js';

const progress = (msg: string) => process.stdout.write(`[inferia bench] ${msg}\n`);

function positive(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds, not '${raw}'`);
  return v;
}

function connectionsFromEnv(): number[] {
  const raw = process.env.BENCH_CONNECTIONS ?? '1,32';
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 1024)) {
    throw new Error(`BENCH_CONNECTIONS must be a comma-separated list of concurrencies (1–1024), not '${raw}'`);
  }
  return [...new Set(list)];
}

export async function bench(): Promise<number> {
  const env = process.env;
  const durationS = positive('BENCH_DURATION_SECONDS', 10);
  const warmupS = positive('BENCH_WARMUP_SECONDS', 1, true);
  const connections = connectionsFromEnv();
  const dataDir = resolve(env.INFERIA_BENCH_DATA_DIR ?? join(ROOT, '.inferia', 'bench'));
  const keep = env.INFERIA_KEEP_SERVICES === '1';
  const owned = { postgres: !env.DATABASE_URL, redis: !env.REDIS_URL };
  const ports = await resolveTestPorts(dataDir);
  const supervisor = new Supervisor({ color: false });
  let db: Db | undefined;

  let stopped: Promise<void> | undefined;
  const stopEverything = () =>
    (stopped ??= (async () => {
      await supervisor.stopAll(5000);
      await db?.$disconnect().catch(() => undefined);
      if (!keep) {
        if (owned.redis) stopRedis(dataDir, ports.redis);
        if (owned.postgres) stopPostgres(dataDir);
      }
    })());
  // Ctrl-C mid-run still stops the services (they run detached from this process).
  const onSignal = () => void stopEverything().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await ensureSystemServices(progress, owned);
    const databaseUrl = env.DATABASE_URL ?? (await startPostgres(dataDir, ports.postgres, progress));
    const redisUrl = env.REDIS_URL ?? (await startRedis(dataDir, ports.redis, progress, false));
    const applied = await applyMigrations(databaseUrl);
    if (applied.length) progress(`applied migrations: ${applied.join(', ')}`);

    const [mockPort, proxyPort, filtrationPort, inferencePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const local = (p: number) => `http://127.0.0.1:${p}`;
    const urls = { mock: local(mockPort), proxy: local(proxyPort), filtration: local(filtrationPort), inference: local(inferencePort) };
    const processEnv: NodeJS.ProcessEnv = {
      ...env,
      ...loadOrCreateSecrets(dataDir),
      INFERIA_ENV: 'development',
      INFERIA_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
      FILTRATION_PORT: String(filtrationPort),
      INFERENCE_PORT: String(inferencePort),
      FILTRATION_URL: urls.filtration,
    };

    await ensureBuilt(progress);
    db = createDb(databaseUrl, { max: 2 });
    const seed = await seedBench(db, loadConfig(processEnv), urls.mock);
    const countLogs = () => db!.inferenceLog.count({ where: { orgId: seed.orgId } });
    // Every run starts from the same table: rows of earlier runs make each insert dearer (indexes
    // larger than Postgres's buffers), and Postgres shares the machine with what is measured.
    const cleared = owned.postgres
      ? (await db.$executeRawUnsafe('TRUNCATE inference_logs'), 'all')
      : await db.inferenceLog.deleteMany({ where: { orgId: seed.orgId } }).then((r) => String(r.count));
    progress(`inference_logs: ${cleared} earlier rows of the benchmark removed (${owned.postgres ? 'the private database' : 'the benchmark org only'})`);

    progress('starting the mock upstream, the plain proxy and the gateways …');
    supervisor.onUnexpectedExit = (name, code) => progress(`${name} exited unexpectedly (code ${code}); its figures will be errors`);
    const mock = supervisor.start({ name: 'mock-upstream', script: 'bench/mock-upstream.ts', env: { ...processEnv, BENCH_PORT: String(mockPort) } });
    const proxy = supervisor.start({
      name: 'plain-proxy',
      script: 'bench/plain-proxy.ts',
      env: { ...processEnv, BENCH_PORT: String(proxyPort), BENCH_UPSTREAM_URL: urls.mock },
    });
    const filtration = supervisor.start({ name: 'filtration', script: 'gateways/filtration/main.ts', env: processEnv });
    // BENCH_CPU_PROFILE=1: the gateway writes a V8 CPU profile when it stops (open it in Chrome DevTools).
    const profileDir = join(dataDir, 'profiles');
    const preload = join(ROOT, 'bench', 'cpu-profile.mjs');
    const inferenceEnv =
      env.BENCH_CPU_PROFILE === '1'
        ? { ...processEnv, BENCH_CPU_PROFILE_DIR: profileDir, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(preload).href}`.trim() }
        : processEnv;
    // As `up` runs it: built JavaScript with its node options.
    const inference = supervisor.start({ name: 'inference', script: builtScript(INFERENCE_ENTRY), nodeOptions: INFERENCE_NODE_OPTIONS, env: inferenceEnv });
    await Promise.all([
      supervisor.waitHealthy('mock-upstream', `${urls.mock}/health`),
      supervisor.waitHealthy('plain-proxy', `${urls.proxy}/health`),
      supervisor.waitHealthy('filtration', `${urls.filtration}/healthz`),
      supervisor.waitHealthy('inference', `${urls.inference}/readyz`),
    ]);

    progress('probing which stages of the chain this build runs …');
    const chain = await probeChain({
      gatewayUrl: urls.inference,
      mockUrl: urls.mock,
      model: BENCH_MODEL,
      keys: { main: seed.apiKey, rateLimited: seed.rateLimitedKey, quotaLimited: seed.quotaLimitedKey },
      countLogs,
    });

    const seconds = connections.length * 3 * (2 * durationS + warmupS) + connections.length * 3 * (durationS + warmupS);
    progress(`measuring: JSON and SSE × c=${connections.join(',')} × direct, plain proxy, gateway (about ${Math.ceil(seconds)} s) …`);
    const redisPidFile = join(dataDir, 'redis', 'redis.pid');
    const redisPid = owned.redis && existsSync(redisPidFile) ? Number(readFileSync(redisPidFile, 'utf8').trim()) : undefined;
    const postmasterFile = join(dataDir, 'postgres', 'postmaster.pid');
    const postgresPid = owned.postgres && existsSync(postmasterFile) ? Number(readFileSync(postmasterFile, 'utf8').split('\n')[0]) : undefined;
    await runBench({
      urls: { direct: urls.mock, 'plain proxy': urls.proxy, gateway: urls.inference },
      apiKey: seed.apiKey,
      model: BENCH_MODEL,
      durationS,
      warmupS,
      connections,
      pids: { mock: mock.child.pid!, proxy: proxy.child.pid!, gateway: inference.child.pid!, filtration: filtration.child.pid!, redis: redisPid, postgres: postgresPid },
      chain,
      countLogs,
      outFile: join(ROOT, 'bench', 'results.json'),
      progress,
    });
    if (env.BENCH_CPU_PROFILE === '1') progress(`the gateway's CPU profile goes to ${profileDir} when it stops`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopEverything();
  }
}
