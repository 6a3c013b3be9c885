import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSchemathesis, runsFuzzSuite, SCHEMATHESIS_VERSION } from './schemathesis.js';

describe('runsFuzzSuite', () => {
  it('is true for the whole suite and for filters that reach tests/fuzz, false for others', () => {
    expect(runsFuzzSuite([])).toBe(true);
    expect(runsFuzzSuite(['--reporter=dot'])).toBe(true);
    expect(runsFuzzSuite(['tests/fuzz'])).toBe(true);
    expect(runsFuzzSuite(['./tests/fuzz/harness.test.ts'])).toBe(true);
    expect(runsFuzzSuite(['tests/'])).toBe(true);
    expect(runsFuzzSuite(['tests/integration/bad-input.test.ts'])).toBe(false);
    expect(runsFuzzSuite(['gateways', 'lib/http'])).toBe(false);
  });
});

describe('ensureSchemathesis', () => {
  const saved = process.env.INFERIA_FUZZ_VENV;
  afterEach(() => {
    if (saved === undefined) delete process.env.INFERIA_FUZZ_VENV;
    else process.env.INFERIA_FUZZ_VENV = saved;
  });

  it('returns the installed pinned version without installing again', async () => {
    const venv = join(mkdtempSync(join(tmpdir(), 'inferia-venv-')), 'venv');
    mkdirSync(join(venv, 'bin'), { recursive: true });
    writeFileSync(join(venv, 'bin', 'schemathesis'), '#!/bin/sh\n');
    chmodSync(join(venv, 'bin', 'schemathesis'), 0o755);
    writeFileSync(join(venv, 'inferia-installed'), `${SCHEMATHESIS_VERSION}\n`);
    process.env.INFERIA_FUZZ_VENV = venv;
    const said: string[] = [];
    expect(await ensureSchemathesis((m) => said.push(m))).toBe(join(venv, 'bin', 'schemathesis'));
    expect(said).toEqual([]);
  });
});
