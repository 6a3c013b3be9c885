// DePIN sidecar (SIDECAR_PORT, default 3000): the Nosana and Akash calls live here, so the
// orchestration side talks plain HTTP to it. This slice serves health and its mode; the
// provider routes under /nosana/* and /akash/* are added with their adapters.
import Fastify from 'fastify';
import { loadConfig } from '../lib/config.js';
import { commonPlugin } from '../lib/http/common.js';
import { serve, serverOptions } from '../lib/http/server-options.js';

const config = loadConfig();
const app = Fastify(serverOptions('sidecar', config));
await app.register(commonPlugin, { service: 'sidecar', title: 'Inferia DePIN sidecar' });
app.get('/status', async () => ({ service: 'depin-sidecar', nosana_mode: config.nosanaMode, providers: [] as string[] }));
await serve(app, config.ports.sidecar, config.host);
