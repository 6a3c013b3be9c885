// .env.example documents every variable the config reads, and nothing it does not.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('.env.example', () => {
  it('lists exactly the variables lib/config.ts reads', () => {
    const source = readFileSync(new URL('./config.ts', import.meta.url), 'utf8');
    const schema = source.slice(source.indexOf('const EnvSchema'), source.indexOf('export type RawEnv'));
    const read = new Set([...schema.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]));
    const whole = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const example = whole.slice(0, whole.indexOf('# --- used by `inferia up` only'));
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect([...read].filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !read.has(v))).toEqual([]);
  });
});
