// Every route of every HTTP gateway fuzzed from its own OpenAPI document (schemathesis): valid and
// invalid bodies, path and query strings, and headers (the bearer token the document declares),
// with a valid credential, with none, with a wrong one and with another org's. No answer may be a
// 5xx or take longer than MAX_RESPONSE_S; a caller without the right credential changes nothing the
// org owns; after the valid-credential passes the org's data still holds its invariants.
//
// INFERIA_FUZZ_EXAMPLES (default 4) sets the examples per operation of the credentialed passes;
// raise it for a deeper run. Reports and server logs: .inferia/test/fuzz/<pass>/.
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../lib/local-services/supervisor.js';
import { ensureSchemathesis, runSchemathesis, type FuzzResult, type FuzzRun } from '../helpers/schemathesis.js';
import { uniq } from '../helpers/env.js';
import { startFuzzStack, type FuzzStack } from './stack.js';
import { changedTables, invariantViolations, orgFingerprint } from './state.js';

type Gateway = 'filtration' | 'orchestration' | 'inference' | 'sidecar';
const GATEWAYS: Gateway[] = ['filtration', 'orchestration', 'inference', 'sidecar'];
const EXAMPLES = Number(process.env.INFERIA_FUZZ_EXAMPLES ?? 4);
const MAX_RESPONSE_S = 15;
const HOOKS = join(ROOT, 'tests', 'fuzz', 'hooks.py');
const REPORTS = join(process.env.INFERIA_DATA_DIR ?? join(ROOT, '.inferia', 'test'), 'fuzz');

let stack: FuzzStack;
let bin: string;
/** Real ids of the fuzz org's objects, by OpenAPI path template (the hooks aim part of the cases at them). */
let pathIds: Record<string, Record<string, string>>;
/** Body fields that name real objects, by OpenAPI path (the hooks put them in part of the cases). */
let bodyIds: Record<string, Record<string, string>>;
const timings: string[] = [];

interface OperationDoc {
  security?: unknown[];
  requestBody?: unknown;
  parameters?: { in: string; name: string; schema?: { type?: string } }[];
}
const docs: Partial<Record<Gateway, { paths: Record<string, Record<string, OperationDoc>> }>> = {};

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Where each gateway's log file ends now: what a pass logged is what comes after. */
type LogMark = Record<Gateway, number>;
function logMark(): LogMark {
  const mark = {} as LogMark;
  for (const g of GATEWAYS) {
    try {
      mark[g] = statSync(join(stack.logDir, `${g}.log`)).size;
    } catch {
      mark[g] = 0;
    }
  }
  return mark;
}

/**
 * What the gateways logged since `mark` that a fuzz pass must not cause: errors (a 5xx, a crash)
 * and input only the database refused (the request got a 400, but its validation is missing).
 */
function logProblems(mark: LogMark): string[] {
  const lines: string[] = [];
  for (const g of GATEWAYS) {
    let text = '';
    try {
      text = readFileSync(join(stack.logDir, `${g}.log`)).subarray(mark[g]).toString('utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { level: number; msg?: string; url?: string; err?: { message?: string } };
      if (e.level < 50 && !e.msg?.startsWith('input refused by the database')) continue;
      lines.push(`${g}: ${e.msg ?? ''}: ${(e.err?.message ?? '').replace(/\s+/g, ' ').slice(0, 600)}`);
    }
  }
  return [...new Set(lines)].slice(0, 30);
}

async function fuzz(gateway: Gateway, name: string, run: Omit<FuzzRun, 'name' | 'schemaUrl' | 'reportDir'>): Promise<FuzzResult & { logged: string[] }> {
  const mark = logMark();
  const result = await runSchemathesis(bin, {
    name: `${gateway}-${name}`,
    schemaUrl: `${stack.urls[gateway]}/openapi.json`,
    reportDir: REPORTS,
    maxResponseTime: MAX_RESPONSE_S,
    hooks: HOOKS,
    ...run,
    env: {
      FUZZ_IDS: JSON.stringify(pathIds),
      FUZZ_BODY_IDS: JSON.stringify(bodyIds),
      FUZZ_NODE_PROVIDER: stack.node.provider,
      FUZZ_NODE_INSTANCE: stack.node.instanceId,
      FUZZ_MODEL: stack.model,
      ...run.env,
    },
  });
  timings.push(`${gateway}-${name}: ${result.operations} operations, ${result.seconds.toFixed(0)} s`);
  return { ...result, logged: logProblems(mark) };
}

/**
 * Schemathesis' own crashes (a generator bug, not an answer of ours) are reported, not failed on;
 * a network error (a timeout, a dropped connection) is ours.
 */
const toolError = (message: string) => /^Runtime Error/m.test(message) && !/timed? ?out|Connection|Network Error/i.test(message);

/** Fails with every failing operation and the reproduction schemathesis printed for it. */
function expectClean(label: string, result: FuzzResult & { logged: string[] }) {
  const problems = [...result.errors.filter((e) => !toolError(e.message)), ...result.failures];
  for (const e of result.errors.filter((x) => toolError(x.message))) process.stdout.write(`[fuzz] ${label}: schemathesis crashed on ${e.operation} (not counted): ${e.message.split('\n')[0]}\n`);
  if (problems.length > 0 || result.logged.length > 0) {
    throw new Error(
      `${label}: ${problems.length} failing operation(s) of ${result.operations}:\n\n` +
        problems.map((p) => `■ ${p.operation}\n${p.message.slice(0, 4000)}`).join('\n\n') +
        (result.logged.length > 0 ? `\n\nThe gateways logged:\n${result.logged.join('\n')}` : ''),
    );
  }
  expect(result.operations).toBeGreaterThan(0);
}

async function api<T>(gateway: Gateway, method: string, path: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(`${stack.urls[gateway]}${path}`, {
    method,
    headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  bin = await ensureSchemathesis();
  stack = await startFuzzStack('fuzz');
  for (const g of GATEWAYS) docs[g] = (await (await fetch(`${stack.urls[g]}/openapi.json`)).json()) as (typeof docs)[Gateway];

  // One object of each kind in the fuzz org, for the cases aimed at real ids.
  const { admin, service } = stack.tokens;
  const org = stack.org;
  const key = await api<{ id: string }>('filtration', 'POST', '/management/api-keys', admin, { name: 'fuzz fixture' });
  const group = await api<{ id: string }>('filtration', 'POST', '/admin/groups', admin, { name: uniq('fixture') });
  const guardrail = await api<{ id: string }>('filtration', 'POST', '/management/guardrails', admin, { name: 'fixture', config: { rules: [{ type: 'pii', action: 'redact' }] } });
  const provider = await api<{ id: string }>('filtration', 'POST', '/management/providers', admin, { name: 'fixture', provider: 'local' });
  const template = await api<{ id: string }>('filtration', 'POST', '/management/prompt-templates', admin, { name: 'fixture', template: 'Hello {{name}}' });
  const kb = await api<{ id: string }>('filtration', 'POST', '/management/knowledge-bases', admin, { name: 'fixture' });
  const doc = await api<{ id: string }>('filtration', 'POST', `/management/knowledge-bases/${kb.id}/documents`, admin, { filename: 'a.txt', content: 'Some text to chunk.' });
  const member = await stack.db.user.create({ data: { email: `${uniq('member')}@fuzz.test`, passwordHash: 'x' } });
  const viewer = await stack.db.role.findFirstOrThrow({ where: { orgId: null, name: 'viewer' } });
  await stack.db.membership.create({ data: { userId: member.id, orgId: org.org_id, roleId: viewer.id } });
  const deployment = await stack.db.deployment.create({
    data: { orgId: org.org_id, ownerId: org.user_id, modelName: 'mock', modelVersion: '1.0', inferenceModel: 'mock', poolId: org.pool_id, engine: 'mock', workflowId: `deployment:${uniq('fixture')}`, status: 'STOPPED' },
  });
  const jobSpec = {
    instance_id: 'fixture',
    model: 'mock',
    engine: 'mock',
    artifact_uri: 'inferia/mock-engine',
    gpu_per_replica: 0,
    heartbeat: { url: 'http://127.0.0.1:9/inventory/heartbeat', token: 'x', interval_ms: 1000 },
  };
  const job = await api<{ job_id: string }>('sidecar', 'POST', '/nosana/jobs', service, jobSpec);
  const akashJob = await api<{ job_id: string }>('sidecar', 'POST', '/akash/jobs', service, jobSpec);
  // A batch input file and a batch of the inference org (the worker runs it through the upstream double).
  const form = new FormData();
  form.append('purpose', 'batch');
  const line = { custom_id: 'fixture-1', method: 'POST', url: '/v1/chat/completions', body: { model: stack.model, messages: [{ role: 'user', content: 'hi' }] } };
  form.append('file', new Blob([`${JSON.stringify(line)}\n`]), 'fixture.jsonl');
  const uploaded = await fetch(`${stack.urls.inference}/v1/files`, { method: 'POST', headers: bearer(stack.tokens.apiKey), body: form });
  expect(uploaded.status).toBe(200);
  const file = (await uploaded.json()) as { id: string };
  const batch = await api<{ id: string }>('inference', 'POST', '/v1/batches', stack.tokens.apiKey, { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  bodyIds = { '/v1/batches': { input_file_id: file.id } };
  const kbDoc = { id: kb.id, document_id: doc.id };
  pathIds = {
    '/management/api-keys/{id}': { id: key.id },
    '/admin/users/{id}/role': { id: member.id },
    '/admin/groups/{id}/members': { id: group.id },
    '/admin/groups/{id}': { id: group.id },
    '/management/providers/{id}': { id: provider.id },
    '/management/guardrails/{id}': { id: guardrail.id },
    '/management/prompt-templates/{id}': { id: template.id },
    '/management/knowledge-bases/{id}': { id: kb.id },
    '/management/knowledge-bases/{id}/documents': { id: kb.id },
    '/management/knowledge-bases/{id}/documents/{document_id}/chunks': kbDoc,
    '/management/knowledge-bases/{id}/documents/{document_id}': kbDoc,
    '/management/deployments/{id}': { id: deployment.id },
    '/management/deployments/{id}/logs': { id: deployment.id },
    '/management/deployments/{id}/start': { id: deployment.id },
    '/management/deployments/{id}/terminate': { id: deployment.id },
    '/management/deployments/{id}/scale': { id: deployment.id },
    '/management/pools/{id}/inventory': { id: org.pool_id },
    '/management/pools/{id}': { id: org.pool_id },
    '/deployment/getModel/{name}/{version}': { name: org.model_name, version: org.model_version },
    '/deployment/listModels/{model_name}': { model_name: org.model_name },
    '/deployment/listPools/{owner_id}': { owner_id: org.org_id },
    '/deployment/list/pool/{pool_id}/inventory': { pool_id: org.pool_id },
    '/deployment/deletepool/{pool_id}': { pool_id: org.pool_id },
    '/deployment/status/{deployment_id}': { deployment_id: deployment.id },
    '/deployment/delete/{deployment_id}': { deployment_id: deployment.id },
    '/deployment/logs/{deployment_id}': { deployment_id: deployment.id },
    '/deployment/logs/{deployment_id}/stream': { deployment_id: deployment.id },
    '/v1/models/{model}': { model: stack.model },
    '/v1/clusters/{cluster}/jobs': { cluster: 'local' },
    '/nosana/jobs/{job_id}': { job_id: job.job_id },
    '/nosana/jobs/{job_id}/stop': { job_id: job.job_id },
    '/nosana/jobs/{job_id}/logs': { job_id: job.job_id },
    '/akash/jobs/{job_id}': { job_id: akashJob.job_id },
    '/akash/jobs/{job_id}/stop': { job_id: akashJob.job_id },
    '/akash/jobs/{job_id}/logs': { job_id: akashJob.job_id },
    '/v1/files/{file_id}': { file_id: file.id },
    '/v1/files/{file_id}/content': { file_id: file.id },
    '/v1/batches/{batch_id}': { batch_id: batch.id },
    '/v1/batches/{batch_id}/cancel': { batch_id: batch.id },
    '/management/knowledge-bases/{id}/query': { id: kb.id },
  };
}, 300_000);

afterAll(async () => {
  await stack?.close();
  if (timings.length > 0) process.stdout.write(`[fuzz] passes:\n  ${timings.join('\n  ')}\n`);
});

describe('OpenAPI documents', () => {
  it('describe every route with its input schemas and who may call it', () => {
    const problems: string[] = [];
    for (const g of GATEWAYS) {
      const paths = docs[g]!.paths;
      expect(Object.keys(paths).length).toBeGreaterThan(0);
      for (const [path, ops] of Object.entries(paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (!Array.isArray(op.security)) problems.push(`${g} ${method.toUpperCase()} ${path}: no security`);
          for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
            if (!op.parameters?.some((p) => p.in === 'path' && p.name === name && p.schema)) problems.push(`${g} ${method.toUpperCase()} ${path}: path parameter ${name} undescribed`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('describe every route the gateways serve (so the fuzzer reaches each one)', () => {
    const missing: string[] = [];
    for (const g of GATEWAYS) {
      const paths = docs[g]!.paths;
      for (const r of stack.routes[g]) {
        // HEAD mirrors GET; OPTIONS is the CORS preflight; hidden: /healthz, /readyz, /metrics, /openapi.json.
        if (r.hidden || r.method === 'HEAD' || r.method === 'OPTIONS') continue;
        const path = r.url.replace(/:(\w+)/g, '{$1}');
        if (!paths[path]?.[r.method.toLowerCase()]) missing.push(`${g} ${r.method} ${path}`);
      }
      expect(stack.routes[g].length).toBeGreaterThan(Object.keys(paths).length);
    }
    expect(missing).toEqual([]);
  });
});

describe('who is asking', () => {
  it('every route that needs a credential refuses none, a malformed, forged, expired or wrong-kind one (401/403), before reading the body', async () => {
    const { config, org, tokens } = stack;
    const sign = (secret: string, opts: jwt.SignOptions) =>
      jwt.sign({ org: org.org_id, role: 'owner', ims: Date.now() }, secret, { subject: org.user_id, issuer: config.jwt.issuer, audience: config.jwt.audience, ...opts });
    const forged = sign('not-the-secret', { algorithm: 'HS256', expiresIn: 600 });
    const expired = sign(config.secrets.jwtSecret, { algorithm: 'HS256', expiresIn: -60 });
    const unsigned = sign('', { algorithm: 'none' });
    const wrongKind: Record<Gateway, string> = { filtration: tokens.apiKey, orchestration: tokens.apiKey, inference: tokens.admin, sidecar: tokens.admin };
    const bad = (g: Gateway) => [undefined, 'garbage', forged, expired, unsigned, wrongKind[g]];
    const problems: string[] = [];
    for (const g of GATEWAYS) {
      for (const [path, ops] of Object.entries(docs[g]!.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (!op.security || op.security.length === 0) continue;
          const url = path.replace(/\{\w+\}/g, () => randomUUID());
          // A body the route would accept in shape, where it names its node (the node token is checked against it).
          const body = op.requestBody ? (path.startsWith('/inventory/') ? { provider: 'local', provider_instance_id: stack.node.instanceId, state: 'READY', lines: [] } : { x: 1 }) : undefined;
          const tries = path.startsWith('/inventory/') ? [undefined, 'garbage', tokens.admin, tokens.service, tokens.apiKey] : bad(g);
          if (path.startsWith('/internal/')) tries.push(tokens.admin);
          if (g === 'filtration' && !path.startsWith('/internal/')) tries.push(tokens.service);
          for (const token of tries) {
            const res = await fetch(`${stack.urls[g]}${url}`, {
              method: method.toUpperCase(),
              headers: { ...(token === undefined ? {} : bearer(token)), ...(body ? { 'content-type': 'application/json' } : {}) },
              body: body ? JSON.stringify(body) : undefined,
            });
            await res.arrayBuffer();
            if (res.status !== 401 && res.status !== 403) problems.push(`${g} ${method.toUpperCase()} ${url} with ${token === undefined ? 'no token' : `${token.slice(0, 12)}…`}: ${res.status}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('fuzzing without the right credential', () => {
  it("never answers 5xx or hangs, and changes nothing the org owns (no credential, a generated one, another org's owner)", async () => {
    const { db, org, tokens } = stack;
    const before = await orgFingerprint(db, org.org_id);
    const inferenceBefore = await orgFingerprint(db, stack.inferenceOrg.org_id);
    const failures: string[] = [];
    const check = (label: string, r: Awaited<ReturnType<typeof fuzz>>) => {
      try {
        expectClean(label, r);
      } catch (err) {
        failures.push((err as Error).message);
      }
    };
    // Without a header schemathesis generates the bearer token the document declares (random
    // strings): header fuzzing of the credential. Wrong-kind credentials are swept above.
    for (const g of GATEWAYS) check(`${g} anonymous`, await fuzz(g, 'anonymous', { mode: 'all', maxExamples: 3, phases: ['examples', 'fuzzing'] }));
    // Another org's owner, aimed at this org's objects: everything is someone else's (404), nothing changes.
    for (const g of ['filtration', 'orchestration'] as const) {
      const r = await fuzz(g, 'other-org', {
        mode: 'positive',
        maxExamples: 3,
        phases: ['fuzzing'],
        headers: bearer(tokens.otherOrgAdmin),
        env: { FUZZ_REAL_SHARE: '0.9' },
        excludePathRegex: '^/auth/(logout|register|login|refresh)$',
      });
      check(`${g} other org`, r);
    }
    // Another org's API key, aimed at the inference org's files and batches: 404, nothing changes.
    check(
      'inference other org',
      await fuzz('inference', 'other-org', { mode: 'positive', maxExamples: 3, phases: ['fuzzing'], headers: bearer(tokens.otherOrgApiKey), env: { FUZZ_REAL_SHARE: '0.9' } }),
    );
    expect(failures.join('\n\n')).toBe('');
    expect(changedTables(before, await orgFingerprint(db, org.org_id))).toEqual([]);
    expect(changedTables(inferenceBefore, await orgFingerprint(db, stack.inferenceOrg.org_id))).toEqual([]);
  }, 900_000);
});

describe('fuzzing with a valid credential', () => {
  const since = new Date();
  const checks = ['not_a_server_error', 'ignored_auth'];
  const passes: [Gateway, string, () => Partial<FuzzRun>][] = [
    // The caller's own session stays alive (logout ends it); sign-in routes are public and fuzzed above.
    ['filtration', 'owner', () => ({ headers: bearer(stack.tokens.admin), excludePathRegex: '^/auth/(logout|register|login|refresh)$|^/internal/' })],
    ['filtration', 'service', () => ({ headers: bearer(stack.tokens.service), includePathRegex: '^/internal/' })],
    ['orchestration', 'owner', () => ({ headers: bearer(stack.tokens.admin), includePathRegex: '^/deployment/' })],
    ['orchestration', 'node', () => ({ headers: bearer(stack.tokens.node), includePathRegex: '^/inventory/' })],
    ['inference', 'api-key', () => ({ headers: bearer(stack.tokens.apiKey) })],
    ['sidecar', 'service', () => ({ headers: bearer(stack.tokens.service) })],
  ];
  for (const [gateway, who, options] of passes) {
    it(`${gateway} (${who}): no 5xx, no hang, valid and invalid input`, async () => {
      const r = await fuzz(gateway, who, { mode: 'all', maxExamples: EXAMPLES, checks, ...options() });
      expectClean(`${gateway} ${who}`, r);
    }, 900_000);
  }

  it('leaves the org\'s data consistent: invariants hold, audit rows only for requests that succeeded', async () => {
    expect(await invariantViolations(stack.db, stack.org, since, stack.responses)).toEqual([]);
    expect(await invariantViolations(stack.db, stack.inferenceOrg, since, stack.responses)).toEqual([]);
  });
});
