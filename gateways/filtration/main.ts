// Filtration gateway process (FILTRATION_PORT, default 8000).
import Fastify from 'fastify';
import { loadConfig } from '../../lib/config.js';
import { createDb } from '../../lib/db.js';
import { reachable, serve, serverOptions } from '../../lib/http/server-options.js';
import { filtrationApp } from './app.js';
import { IdentityService } from './identity-service.js';

const config = loadConfig();
const db = createDb(config.databaseUrl);
const app = Fastify(serverOptions('filtration', config));
await app.register(filtrationApp, {
  config,
  identity: new IdentityService({ db, config }),
  ready: async () => ({ postgres: await reachable(() => db.$queryRaw`SELECT 1`) }),
});
app.addHook('onClose', async () => db.$disconnect());
await serve(app, config.ports.filtration, config.host);
