// The platform as `npm run up` runs it (every gateway, the sidecar and a worker as processes, on the
// test's own task queue and ports), a deployed mock model, and a chat client that records what a
// caller sees. For tests that take a service away under the running platform.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { InferiaApi, waitForStatus } from '../../bin/api-client.js';
import type { Config } from '../../lib/config.js';
import { startStack, type Stack } from '../../lib/local-services/stack.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import type { DemoCredentials } from '../../prisma/seed.js';
import { freePort, waitFor } from './env.js';

export interface Platform {
  stack: Stack;
  api: InferiaApi;
  deploymentId: string;
  /** Starts one more inference gateway on the same services, with extra settings. */
  startInference(name: string, env: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the stack against `env` (DATABASE_URL, REDIS_URL … of the test), signs in as the org's
 * admin, deploys the registered `mock` model and waits until the inference gateway serves it.
 */
export async function startPlatform(config: Config, env: NodeJS.ProcessEnv, org: DemoCredentials): Promise<Platform> {
  mkdirSync(config.localEngineDir, { recursive: true });
  const ports = {
    filtration: await freePort(),
    inference: await freePort(),
    orchestration: await freePort(),
    orchestrationGrpc: await freePort(),
    sidecar: await freePort(),
  };
  const stack = await startStack({ env, ports, quiet: !process.env.E2E_VERBOSE });
  let deploymentId = '';
  const api = new InferiaApi(stack.urls);
  const stop = async () => {
    if (deploymentId) {
      await api.orchestration('POST', '/deployment/terminate', { deployment_id: deploymentId }).catch(() => undefined);
      await waitForStatus(api, deploymentId, ['STOPPED'], { timeoutMs: 30_000 }).catch(() => undefined);
    }
    await stack.stop();
    const engines = createLocalProvider({ engineDir: config.localEngineDir });
    for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
    const temporal = await createTemporalClient(config);
    for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
      await temporal.schedule.getHandle(reconcileScheduleId(provider, config.temporal.taskQueue)).delete().catch(() => undefined);
    }
    await temporal.connection.close();
  };
  try {
    await api.login(org.admin_email, org.admin_password);
    const out = await api.orchestration<{ deployment_id: string }>('POST', '/deployment/deploy', {
      model_name: 'mock',
      model_version: '1.0',
      replicas: 1,
      pool_id: org.pool_id,
      engine: 'mock',
      inference_model: 'mock',
    });
    deploymentId = out.deployment_id;
    await waitForStatus(api, deploymentId, ['RUNNING'], { timeoutMs: 120_000 });
    await waitFor(async () => (await chat(stack.urls.inference, org.api_key)).status === 200, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    stack,
    api,
    deploymentId,
    startInference: async (name, extra) => {
      const port = await freePort();
      stack.supervisor.start({ name, script: 'gateways/inference/main.ts', env: { ...stack.env, ...extra, INFERENCE_PORT: String(port) } });
      const url = `http://127.0.0.1:${port}`;
      await stack.supervisor.waitHealthy(name, `${url}/healthz`);
      return url;
    },
    stop,
  };
}

export interface ChatResult {
  status: number;
  requestId: string | null;
  ms: number;
  /** The answer's text, or the parsed error body. */
  content?: string;
  error?: { message: string; type: string; param: string | null; code: string | null };
  headers: Headers;
}

/**
 * One chat completion over HTTP (a stream read to its end when `stream`). A caller that waits more
 * than `timeoutMs` counts as a hang: status 0.
 */
export async function chat(
  inferenceUrl: string,
  apiKey: string,
  options: { stream?: boolean; content?: string; timeoutMs?: number } = {},
): Promise<ChatResult> {
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(`${inferenceUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: options.content ?? 'hello' }], stream: options.stream === true }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch {
    return { status: 0, requestId: null, ms: performance.now() - started, headers: new Headers() };
  }
  const requestId = res.headers.get('x-request-id');
  let text: string;
  try {
    text = await res.text();
  } catch {
    return { status: 0, requestId, ms: performance.now() - started, headers: res.headers };
  }
  const ms = performance.now() - started;
  if (!res.ok) {
    const body = JSON.parse(text) as { error: ChatResult['error'] };
    return { status: res.status, requestId, ms, error: body.error, headers: res.headers };
  }
  const content = options.stream
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data: {'))
        .map((l) => (JSON.parse(l.slice(6)) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '')
        .join('')
    : (JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
  return { status: res.status, requestId, ms, content, headers: res.headers };
}

/** The environment a platform of the test runs with, on top of what `npm test` set. */
export function platformEnv(overrides: Record<string, string>, dir: string): Record<string, string> {
  return {
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: join(dir, 'engines'),
    RECONCILE_INTERVAL_SECONDS: '3600',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}
