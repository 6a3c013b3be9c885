// The admin dashboard's server, a Fastify plugin: the built app (dashboard/dist) and
// /config.json, which tells the app where the gateways and the Temporal UI are. The browser then
// calls the gateways itself (they allow this origin: DASHBOARD_ORIGINS), so each gateway sees the
// operator's own address in its audit log and sign-in throttling.
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../lib/config.js';
import { commonPlugin } from '../lib/http/common.js';

export const DIST_DIR = fileURLToPath(new URL('./dist', import.meta.url));

export interface DashboardRuntimeConfig {
  filtration_url: string;
  orchestration_url: string;
  inference_url: string;
  temporal_ui_url: string;
}

export function runtimeConfig(config: Config): DashboardRuntimeConfig {
  return {
    filtration_url: config.urls.filtration,
    orchestration_url: config.urls.orchestration,
    inference_url: `${config.urls.inference}/v1`,
    temporal_ui_url: config.temporal.uiUrl,
  };
}

/** Only what the app needs: its own scripts and styles, the gateways (HTTP and the log WebSocket), QR codes as data: images. */
export function contentSecurityPolicy(rc: DashboardRuntimeConfig): string {
  const origins = [rc.filtration_url, rc.orchestration_url].map((u) => new URL(u).origin);
  const sockets = origins.map((o) => o.replace(/^http/, 'ws'));
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${[...new Set([...origins, ...sockets])].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

export async function dashboardApp(app: FastifyInstance, opts: { config: Config; distDir?: string }) {
  const dist = opts.distDir ?? DIST_DIR;
  const rc = runtimeConfig(opts.config);
  const csp = contentSecurityPolicy(rc);
  // The app routes in the browser (/deployments/…): any other GET that is not a file gets the app.
  const notFound = (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (req.method !== 'GET' || /\.[a-z0-9]+$/i.test(path)) {
      return reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${path}`, details: {} } });
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  };
  await app.register(commonPlugin, { service: 'dashboard', title: 'Inferia dashboard', notFoundHandler: notFound });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', csp);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  app.get('/config.json', { schema: { hide: true } }, async (_req, reply) => reply.header('cache-control', 'no-store').send(rc));
  await app.register(fastifyStatic, {
    root: dist,
    wildcard: false,
    index: false,
    // Hashed file names under assets/ never change; index.html always may.
    setHeaders: (reply, path) => void reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
}
