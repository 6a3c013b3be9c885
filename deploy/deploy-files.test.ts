// The compose file and the Kubernetes manifests name processes, ports and variables of the code:
// each name must exist, so the files cannot drift from what the processes read. Where Debian's
// docker-compose is installed (`npm test` installs it when it can), the compose file is also
// validated by it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, loadConfig } from '../lib/config.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const known = new Set(ENV_VARIABLES);
const defaults = loadConfig({ INFERIA_ENV: 'test' }).ports;
/** Script → the ports its process listens on by default. */
const PORTS: Record<string, number[]> = {
  'gateways/filtration/main.ts': [defaults.filtration],
  'gateways/inference/main.ts': [defaults.inference],
  'gateways/orchestration/main.ts': [defaults.orchestration, defaults.orchestrationGrpc],
  'sidecar/main.ts': [defaults.sidecar],
  'dashboard/server.ts': [defaults.dashboard],
  'worker/main.ts': [9464],
  'bin/inferia.ts': [],
};

const scriptOf = (command: unknown): string => {
  expect(Array.isArray(command), 'command is a list').toBe(true);
  const script = (command as string[]).find((a) => a.endsWith('.ts'));
  expect(script, `command ${JSON.stringify(command)} runs a script`).toBeDefined();
  expect(existsSync(join(ROOT, script!)), `${script} exists`).toBe(true);
  return script!;
};

/** YAML merge keys (`<<: *anchor`), as Compose resolves them: the node's own keys win. */
function merged(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(merged);
  if (!node || typeof node !== 'object') return node;
  const { '<<': base, ...own } = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const b of [base].flat()) if (b && typeof b === 'object') Object.assign(out, merged(b));
  for (const [k, v] of Object.entries(own)) out[k] = merged(v);
  return out;
}

describe('docker-compose.yml', () => {
  const compose = merged(yaml.load(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'))) as {
    services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string>; ports?: string[]; healthcheck?: unknown; restart?: string }>;
  };
  const ours = Object.entries(compose.services).filter(([, s]) => s.image === 'inferia:latest');

  it('runs every Inferia process, each from a script that exists, with health checks and restarts', () => {
    const scripts = ours.map(([, s]) => scriptOf(s.command));
    expect(new Set(scripts)).toEqual(new Set(Object.keys(PORTS)));
    for (const [name, s] of ours) {
      if (name === 'migrate') {
        expect(s.restart).toBe('no');
        continue;
      }
      expect(s.healthcheck, `${name} has a health check`).toBeDefined();
      expect(s.restart, `${name} restarts`).toBe('unless-stopped');
    }
    for (const name of ['postgres', 'redis', 'temporal', 'temporal-ui']) expect(compose.services[name]?.healthcheck ?? compose.services[name], name).toBeDefined();
  });

  it('sets only variables the code reads, and publishes the ports the processes listen on', () => {
    for (const [name, s] of ours) {
      for (const variable of Object.keys(s.environment ?? {})) expect(known.has(variable), `${name}: ${variable} is read by lib/config.ts`).toBe(true);
      const script = scriptOf(s.command);
      for (const mapping of s.ports ?? []) {
        const container = Number(String(mapping).split(':').at(-1));
        expect(PORTS[script], `${name} publishes ${mapping}`).toContain(container);
      }
    }
  });

  it('is valid for docker-compose', () => {
    const which = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' });
    if (which.status !== 0) {
      // `npm test` installs docker-compose when it runs as root; CI must validate the file.
      expect(process.env.CI, 'docker-compose is missing on CI').not.toBe('true');
      return;
    }
    const secrets = { POSTGRES_PASSWORD: 'x', JWT_SECRET: 'x', ENCRYPTION_KEY: 'x', INTERNAL_SERVICE_TOKEN: 'x', API_KEY_PEPPER: 'x' };
    const out = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', env: { ...process.env, ...secrets } });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
  });
});

describe('deploy/kubernetes', () => {
  const dir = join(ROOT, 'deploy', 'kubernetes');
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => yaml.loadAll(readFileSync(join(dir, f), 'utf8')).map((doc) => ({ file: f, doc: doc as Record<string, any> }))); // eslint-disable-line @typescript-eslint/no-explicit-any

  it('lists every manifest in the kustomization except the secret example', () => {
    const kustomization = docs.find((d) => d.file === 'kustomization.yaml')!.doc as { resources: string[] };
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'secret.example.yaml');
    expect(new Set(kustomization.resources)).toEqual(new Set(files));
  });

  it('runs scripts that exist, on the ports they listen on, with variables the code reads', () => {
    const config = docs.filter((d) => d.doc?.kind === 'ConfigMap' || d.doc?.kind === 'Secret').flatMap((d) => Object.keys(d.doc.data ?? d.doc.stringData ?? {}));
    for (const variable of config) expect(known.has(variable), `${variable} is read by lib/config.ts`).toBe(true);
    const scripts = new Set<string>();
    for (const { file, doc } of docs) {
      const spec = doc?.spec?.template?.spec;
      if (!spec) continue;
      for (const c of spec.containers as { command: string[]; env?: { name: string }[]; ports?: { containerPort: number }[] }[]) {
        const script = scriptOf(c.command);
        scripts.add(script);
        for (const e of c.env ?? []) expect(known.has(e.name), `${file}: ${e.name}`).toBe(true);
        for (const p of c.ports ?? []) expect(PORTS[script], `${file}: port ${p.containerPort}`).toContain(p.containerPort);
      }
    }
    expect(scripts).toEqual(new Set(Object.keys(PORTS)));
  });

  it('gives every Service a selector that matches a Deployment', () => {
    const labels = docs.filter((d) => d.doc?.kind === 'Deployment').map((d) => d.doc.spec.template.metadata.labels['app.kubernetes.io/name']);
    for (const s of docs.filter((d) => d.doc?.kind === 'Service')) expect(labels).toContain(s.doc.spec.selector['app.kubernetes.io/name']);
  });
});
