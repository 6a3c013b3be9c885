import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStaticConfig } from './static-config.js';

const dirWith = (files: Record<string, unknown>) => {
  const dir = mkdtempSync(join(tmpdir(), 'inferia-config-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
};

const endpoint = { id: 'e1', endpoint_slug: 's', cluster: 'c', framework: 'api', model: 'm', endpoint_adapter: 'adapters/endpoints/openai-compatible.ts', config: { base_url: 'http://127.0.0.1:9/v1' } };

describe('config/endpoints.json and clusters.json', () => {
  it('are optional', async () => {
    expect(await loadStaticConfig(dirWith({}))).toEqual({ endpoints: [], clusters: [] });
  });

  it('load adapters by path, with groups and domains lower-cased', async () => {
    const out = await loadStaticConfig(dirWith({ 'endpoints.json': [{ ...endpoint, allowed_domains: ['Anl.GOV'] }] }));
    expect(out.endpoints[0]?.definition.allowed_domains).toEqual(['anl.gov']);
    expect(typeof out.endpoints[0]?.adapter.submitTask).toBe('function');
  });

  it('stop the start with the file, entry and field named when something is wrong', async () => {
    await expect(loadStaticConfig(dirWith({ 'endpoints.json': [{ ...endpoint, model: '' }] }))).rejects.toThrow(/endpoints\.json: entry 0 field model/);
    await expect(loadStaticConfig(dirWith({ 'endpoints.json': '{ nope' }))).rejects.toThrow(/not valid JSON/);
    await expect(loadStaticConfig(dirWith({ 'endpoints.json': [endpoint, endpoint] }))).rejects.toThrow(/id e1 appears twice/);
    await expect(loadStaticConfig(dirWith({ 'endpoints.json': [{ ...endpoint, endpoint_adapter: 'nowhere.ts' }] }))).rejects.toThrow(/adapter nowhere\.ts not found/);
    await expect(loadStaticConfig(dirWith({ 'endpoints.json': [{ ...endpoint, config: {} }] }))).rejects.toThrow(/config\.base_url/);
    await expect(loadStaticConfig(dirWith({ 'clusters.json': [{ id: 'c', cluster_name: 'c', cluster_adapter: 'adapters/clusters/http-jobs.ts', config: { jobs_url: 'ftp://x' } }] }))).rejects.toThrow(
      /config\.jobs_url/,
    );
  });
});
