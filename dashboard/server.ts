// The admin dashboard's process (DASHBOARD_PORT, default 3001). `npm run up` builds the app
// first when its sources changed (lib/local-services/dashboard-build.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadConfig } from '../lib/config.js';
import { startTracing } from '../lib/tracing.js';
import { serve, serverOptions } from '../lib/http/server-options.js';
import { DIST_DIR, dashboardApp } from './app.js';

const config = loadConfig();
// Before the app is built: the common plugin adds its request spans only when tracing is on.
const tracing = await startTracing(config, 'dashboard');
if (!existsSync(join(DIST_DIR, 'index.html'))) {
  process.stderr.write('dashboard/dist is missing: `npm run up` builds it (or: npx vite build dashboard)\n');
  process.exit(1);
}
const app = Fastify(serverOptions('dashboard', config));
await app.register(dashboardApp, { config });
await serve(app, config.ports.dashboard, config.host, tracing);
