// Static endpoints and clusters (the ALCF adaptor model, seed 002): `endpoints.json` and
// `clusters.json` in the config folder (`INFERIA_CONFIG_DIR`, default `config/`). Both files are
// optional; a file that is present but wrong stops the gateway at start-up with the file, entry and
// field named — a typo must not silently drop a model.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { ClusterDefinition, CreateCluster } from '../../adapters/clusters/http-jobs.js';
import type { ClusterAdapter } from '../../adapters/clusters/types.js';
import type { CreateEndpoint, EndpointAdapter, EndpointDefinition } from '../../adapters/endpoints/types.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const list = z.array(z.string().min(1).max(200)).max(1000).default([]);
const EndpointEntry = z.object({
  id: z.string().min(1).max(200),
  endpoint_slug: z.string().min(1).max(200),
  cluster: z.string().min(1).max(200),
  framework: z.string().min(1).max(100),
  model: z.string().min(1).max(256),
  endpoint_adapter: z.string().min(1).max(500),
  allowed_globus_groups: list,
  allowed_domains: list,
  config: z.record(z.string(), z.unknown()).default({}),
});
const ClusterEntry = z.object({
  id: z.string().min(1).max(200),
  cluster_name: z.string().min(1).max(200),
  cluster_adapter: z.string().min(1).max(500),
  frameworks: list,
  openai_endpoints: list,
  allowed_globus_groups: list,
  allowed_domains: list,
  config: z.record(z.string(), z.unknown()).default({}),
});

export interface StaticEndpoint {
  definition: EndpointDefinition;
  adapter: EndpointAdapter;
}

export interface StaticConfig {
  endpoints: StaticEndpoint[];
  clusters: ClusterAdapter[];
}

function readEntries<T>(file: string, schema: z.ZodType<T>): T[] {
  if (!existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = z.array(schema).max(10_000).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [index, ...field] = issue.path;
    throw new Error(`${file}: entry ${String(index ?? '')}${field.length ? ` field ${field.join('.')}` : ''}: ${issue.message}`);
  }
  const ids = new Set<string>();
  for (const e of parsed.data as { id: string }[]) {
    if (ids.has(e.id)) throw new Error(`${file}: id ${e.id} appears twice`);
    ids.add(e.id);
  }
  return parsed.data;
}

/** An adapter path: relative to the config folder if the file is there, else to the repository root. */
async function importAdapter<T>(configDir: string, path: string, exportName: string, file: string): Promise<T> {
  const candidates = isAbsolute(path) ? [path] : [join(configDir, path), join(REPO_ROOT, path)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`${file}: adapter ${path} not found (looked in ${candidates.join(', ')})`);
  const mod = (await import(pathToFileURL(found).href)) as Record<string, unknown>;
  if (typeof mod[exportName] !== 'function') throw new Error(`${file}: adapter ${path} does not export ${exportName}()`);
  return mod[exportName] as T;
}

export async function loadStaticConfig(configDir: string): Promise<StaticConfig> {
  const dir = resolve(configDir);
  const endpointsFile = join(dir, 'endpoints.json');
  const clustersFile = join(dir, 'clusters.json');
  const endpointDefs = readEntries(endpointsFile, EndpointEntry) as EndpointDefinition[];
  const clusterDefs = readEntries(clustersFile, ClusterEntry) as ClusterDefinition[];
  const endpoints: StaticEndpoint[] = [];
  for (const definition of endpointDefs) {
    const create = await importAdapter<CreateEndpoint>(dir, definition.endpoint_adapter, 'createEndpoint', endpointsFile);
    const normalised = {
      ...definition,
      allowed_globus_groups: definition.allowed_globus_groups.map((g) => g.toLowerCase()),
      allowed_domains: definition.allowed_domains.map((d) => d.toLowerCase()),
    };
    endpoints.push({ definition: normalised, adapter: create(normalised) });
  }
  const clusters: ClusterAdapter[] = [];
  for (const definition of clusterDefs) {
    const create = await importAdapter<CreateCluster>(dir, definition.cluster_adapter, 'createCluster', clustersFile);
    clusters.push(create(definition, { endpoints: endpointDefs }));
  }
  return { endpoints, clusters };
}
