// The README's first command, as a newcomer runs it: `npm run up` (bin/bootstrap.mjs up) with
// its own private Postgres, Redis and Temporal dev server under a fresh data folder. It must
// print the demo credentials, serve a chat, stop cleanly on Ctrl-C, and keep the data.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../lib/local-services/system.js';
import { ROOT } from '../../lib/local-services/supervisor.js';
import { freePort, waitFor } from '../helpers/env.js';

interface Demo {
  admin_email: string;
  admin_password: string;
  api_key: string;
  org_id: string;
  user_id: string;
  pool_id: string;
  deployment_id: string;
  urls: Record<string, string>;
}

const dataDir = mkdtempSync(join(tmpdir(), 'inferia-up-'));
chmodSync(dataDir, 0o755); // the private Postgres runs as user postgres and must reach its folder
let child: ChildProcess | undefined;
let output = '';

async function startUp(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'bootstrap.mjs'), 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return proc;
}

async function stopUp(proc: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.kill('SIGINT');
  return exited;
}

afterAll(async () => {
  if (child && child.exitCode === null) await stopUp(child);
});

describe('npm run up', () => {
  it('brings the platform up, serves the demo chat, stops on Ctrl-C and keeps the data', async () => {
    const ports = {
      INFERIA_POSTGRES_PORT: await freePort(),
      INFERIA_REDIS_PORT: await freePort(),
      INFERIA_TEMPORAL_PORT: await freePort(),
      INFERIA_TEMPORAL_UI_PORT: await freePort(),
      FILTRATION_PORT: await freePort(),
      INFERENCE_PORT: await freePort(),
      ORCHESTRATION_PORT: await freePort(),
      ORCHESTRATION_GRPC_PORT: await freePort(),
      SIDECAR_PORT: await freePort(),
      DASHBOARD_PORT: await freePort(),
    };
    // A clean environment: no external services, no secrets, as on a newcomer's machine.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, INFERIA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    // The Temporal CLI the test command found or built (no second build).
    for (const k of ['TEMPORAL_CLI', 'GOPATH', 'GOBIN']) if (process.env[k]) env[k] = process.env[k];
    for (const [k, v] of Object.entries(ports)) env[k] = String(v);
    const demoFile = join(dataDir, 'demo.json');

    child = await startUp(env);
    const demo = await waitFor(async () => (existsSync(demoFile) ? (JSON.parse(readFileSync(demoFile, 'utf8')) as Demo) : undefined), 150_000, 500).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- up printed ---\n${output.slice(-4000)}`);
      },
    );
    expect(output).toContain('Inferia is up');
    expect(output).toContain(demo.api_key);
    expect(demo).toMatchObject({ admin_email: 'admin@inferia.local' });
    for (const field of ['admin_password', 'user_id', 'org_id', 'pool_id', 'deployment_id']) expect(demo[field as keyof Demo], field).toBeTruthy();
    expect(demo.urls.inference).toBe(`http://127.0.0.1:${ports.INFERENCE_PORT}/v1`);
    expect(demo.urls.temporal_ui).toBe(`http://127.0.0.1:${ports.INFERIA_TEMPORAL_UI_PORT}`);

    const openai = new OpenAI({ baseURL: demo.urls.inference, apiKey: demo.api_key, maxRetries: 0 });
    const answer = await openai.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello' }] });
    expect(answer.choices[0]?.message.content).toContain('You said: Hello');
    const ui = await fetch(demo.urls.temporal_ui!);
    expect(ui.status).toBe(200);
    expect(output).toContain(`http://127.0.0.1:${ports.DASHBOARD_PORT}`);
    const page = await fetch(`${demo.urls.dashboard}/deployments`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<div id="root">');
    const runtime = (await (await fetch(`${demo.urls.dashboard}/config.json`)).json()) as Record<string, string>;
    expect(runtime).toMatchObject({ filtration_url: `http://127.0.0.1:${ports.FILTRATION_PORT}`, temporal_ui_url: demo.urls.temporal_ui });

    expect(await stopUp(child)).toBe(0);
    for (const port of Object.values(ports)) expect(await isPortOpen(port), `port ${port} still open`).toBe(false);

    // Again: same data, same credentials, the demo deployment serving again.
    output = '';
    child = await startUp(env);
    await waitFor(async () => output.includes('Inferia is up'), 150_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}\n--- up printed ---\n${output.slice(-4000)}`);
    });
    const again = JSON.parse(readFileSync(demoFile, 'utf8')) as Demo;
    expect(again.api_key).toBe(demo.api_key);
    expect(again.deployment_id).toBe(demo.deployment_id);
    const second = await openai.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'still here' }] });
    expect(second.choices[0]?.message.content).toContain('You said: still here');
    expect(await stopUp(child)).toBe(0);
  }, 400_000);
});
