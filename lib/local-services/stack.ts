// Starts Inferia's own processes (gateways, sidecar, worker) against given services. Used by
// `inferia up` and by the end-to-end tests, so both run the stack the same way.
import { builtScript, INFERENCE_ENTRY, INFERENCE_NODE_OPTIONS } from './build.js';
import { ensureDashboardBuilt } from './dashboard-build.js';
import { Supervisor } from './supervisor.js';

export interface StackPorts {
  filtration: number;
  inference: number;
  orchestration: number;
  orchestrationGrpc: number;
  sidecar: number;
  /** The admin dashboard; left out, no dashboard is started. */
  dashboard?: number;
}

export interface StackOptions {
  /** DATABASE_URL, REDIS_URL, TEMPORAL_ADDRESS, secrets, INFERIA_ENV … */
  env: NodeJS.ProcessEnv;
  ports: StackPorts;
  color?: boolean;
  quiet?: boolean;
  /** Progress of slow preparation (the dashboard build). */
  progress?: (message: string) => void;
  /** Run the inference gateway as built JavaScript (dist/, see build.ts) rather than through tsx. */
  built?: boolean;
}

export interface Stack {
  supervisor: Supervisor;
  urls: { filtration: string; inference: string; orchestration: string; orchestrationGrpc: string; sidecar: string; dashboard?: string };
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const { ports } = opts;
  const local = (p: number) => `http://127.0.0.1:${p}`;
  const urls = {
    filtration: local(ports.filtration),
    inference: local(ports.inference),
    orchestration: local(ports.orchestration),
    orchestrationGrpc: `127.0.0.1:${ports.orchestrationGrpc}`,
    sidecar: local(ports.sidecar),
    ...(ports.dashboard ? { dashboard: local(ports.dashboard) } : {}),
  };
  const env: NodeJS.ProcessEnv = {
    ...opts.env,
    FILTRATION_PORT: String(ports.filtration),
    INFERENCE_PORT: String(ports.inference),
    ORCHESTRATION_PORT: String(ports.orchestration),
    ORCHESTRATION_GRPC_PORT: String(ports.orchestrationGrpc),
    SIDECAR_PORT: String(ports.sidecar),
    ...(ports.dashboard ? { DASHBOARD_PORT: String(ports.dashboard) } : {}),
    FILTRATION_URL: urls.filtration,
    INFERENCE_URL: urls.inference,
    ORCHESTRATION_URL: urls.orchestration,
    NOSANA_SIDECAR_URL: urls.sidecar,
  };
  const supervisor = new Supervisor({ color: opts.color ?? false, quiet: opts.quiet });
  if (ports.dashboard) await ensureDashboardBuilt(opts.progress ?? (() => {}));
  const http: { name: string; script: string; url: string; nodeOptions?: string[] }[] = [
    { name: 'filtration', script: 'gateways/filtration/main.ts', url: urls.filtration },
    { name: 'orchestration', script: 'gateways/orchestration/main.ts', url: urls.orchestration },
    { name: 'sidecar', script: 'sidecar/main.ts', url: urls.sidecar },
    opts.built
      ? { name: 'inference', script: builtScript(INFERENCE_ENTRY), url: urls.inference, nodeOptions: INFERENCE_NODE_OPTIONS }
      : { name: 'inference', script: INFERENCE_ENTRY, url: urls.inference },
    ...(urls.dashboard ? [{ name: 'dashboard', script: 'dashboard/server.ts', url: urls.dashboard }] : []),
  ];
  try {
    for (const p of http) supervisor.start({ name: p.name, script: p.script, env, nodeOptions: p.nodeOptions });
    supervisor.start({ name: 'worker', script: 'worker/main.ts', env });
    // Six TypeScript processes starting at once on a small, busy machine can take a while.
    await Promise.all(http.map((p) => supervisor.waitHealthy(p.name, `${p.url}/healthz`, 180_000)));
  } catch (err) {
    await supervisor.stopAll(3000);
    throw err;
  }
  return { supervisor, urls, env, stop: () => supervisor.stopAll() };
}
