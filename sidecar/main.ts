// DePIN sidecar (SIDECAR_PORT, default 3000): the Nosana and Akash calls live here, so the
// worker's adapters talk plain HTTP to it.
//
// NOSANA_MODE picks the mode of BOTH networks (the variable predates Akash support):
//   simulation (default) — jobs are mock-engine processes on this host, engine files under
//                          <INFERIA_DATA_DIR>/sidecar-engines; no chain, no wallet;
//   live                 — Nosana needs NOSANA_WALLET_KEY and NOSANA_MARKET (NOSANA_NETWORK,
//                          SOLANA_RPC_URL optional); Akash needs AKASH_MNEMONIC (AKASH_RPC_URL
//                          optional). A missing setting stops the sidecar at start, naming it.
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadConfig } from '../lib/config.js';
import { startTracing } from '../lib/tracing.js';
import { serve, serverOptions } from '../lib/http/server-options.js';
import { sidecarApp } from './app.js';
import { createAkashLiveProvider } from './providers/akash/akash-live.js';
import { createNosanaLiveProvider } from './providers/nosana/nosana-live.js';
import { createSimulatedProvider } from './providers/simulation.js';
import { DepinConfigError, type DepinProvider } from './providers/types.js';

const config = loadConfig();
// Before the app is built: the common plugin adds its request spans only when tracing is on.
const tracing = await startTracing(config, 'sidecar');

function liveProviders(): { nosana: DepinProvider; akash: DepinProvider } {
  const ledgerDir = join(config.dataDir, 'sidecar');
  const problems: string[] = [];
  const attempt = <T>(make: () => T): T | undefined => {
    try {
      return make();
    } catch (err) {
      if (!(err instanceof DepinConfigError)) throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const nosana = attempt(() =>
    createNosanaLiveProvider({ ...config.providers.nosana, ledgerFile: join(ledgerDir, `nosana-${config.providers.nosana.network}-jobs.json`) }),
  );
  const akash = attempt(() => createAkashLiveProvider({ ...config.providers.akash, ledgerFile: join(ledgerDir, 'akash-jobs.json') }));
  if (!nosana || !akash) {
    console.error(`DePIN sidecar cannot start:\n  - ${problems.join('\n  - ')}`);
    process.exit(1);
  }
  return { nosana, akash };
}

const engineDir = join(config.dataDir, 'sidecar-engines');
const providers =
  config.nosanaMode === 'live'
    ? liveProviders()
    : { nosana: createSimulatedProvider('nosana', { engineDir }), akash: createSimulatedProvider('akash', { engineDir }) };

const app = Fastify(serverOptions('sidecar', config));
await app.register(sidecarApp, { config, ...providers });
app.log.info({ mode: config.nosanaMode }, 'DePIN sidecar providers ready');
await serve(app, config.ports.sidecar, config.host, tracing);
