// The dashboard's server: the app for every page path, /config.json with the gateways, a CSP
// that lets the app reach those gateways only, and a 404 (not the app) for a missing file.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { dashboardApp } from './app.js';

let app: FastifyInstance;
let dist: string;

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'inferia-dash-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  const config = loadConfig({ FILTRATION_URL: 'https://api.example.com', ORCHESTRATION_URL: 'http://10.0.0.5:8080', INFERENCE_URL: 'https://llm.example.com', TEMPORAL_UI_URL: 'https://temporal.example.com' });
  app = Fastify();
  await app.register(dashboardApp, { config, distDir: dist });
});

afterAll(async () => {
  await app?.close();
  rmSync(dist, { recursive: true, force: true });
});

describe('the dashboard server', () => {
  it('tells the app where the gateways are', async () => {
    const res = await app.inject('/config.json');
    expect(res.json()).toEqual({
      filtration_url: 'https://api.example.com',
      orchestration_url: 'http://10.0.0.5:8080',
      inference_url: 'https://llm.example.com/v1',
      temporal_ui_url: 'https://temporal.example.com',
    });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('serves the app for any page path, and caches hashed assets for good', async () => {
    for (const path of ['/', '/deployments/0b6a8d2e-0000-4000-8000-000000000000', '/audit?action=x']) {
      const res = await app.inject(path);
      expect(res.statusCode, path).toBe(200);
      expect(res.body, path).toContain('<div id="root">');
    }
    const asset = await app.inject('/assets/index-abc123.js');
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await app.inject('/assets/missing.js')).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/deployments' })).statusCode).toBe(404);
  });

  it('serves Prometheus metrics like every process', async () => {
    await app.inject('/config.json');
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/^inferia_http_requests_total\{.*route="\/config\.json".*service="dashboard".*\} \d+/m);
    expect(res.body).toContain('process_cpu_seconds_total');
  });

  it('lets the page connect to its gateways (HTTP and the log WebSocket) and nowhere else', async () => {
    const csp = String((await app.inject('/')).headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const connect = csp.split('; ').find((d) => d.startsWith('connect-src'))!.split(' ');
    expect(connect.sort()).toEqual(["'self'", 'connect-src', 'http://10.0.0.5:8080', 'https://api.example.com', 'ws://10.0.0.5:8080', 'wss://api.example.com'].sort());
  });
});
