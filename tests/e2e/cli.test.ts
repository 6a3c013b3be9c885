// The operator CLI as an operator (or a script) runs it: `inferia <verb>` as a child process with
// no terminal, against every gateway started as in `up`. Each verb's stdout, stderr and exit code
// are checked: login with two-factor authentication, models, pools, deploy with its progress,
// status, logs (recent and followed over the WebSocket), scale, terminate, start, API keys that
// work on the inference gateway until revoked, --json, and the errors a person must understand.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { generate as generateTotp, generateSecret } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import { InferiaApi, waitForStatus } from '../../bin/api-client.js';
import type { Config } from '../../lib/config.js';
import { encryptSecret } from '../../lib/crypto.js';
import { ROOT } from '../../lib/local-services/supervisor.js';
import { startStack, type Stack } from '../../lib/local-services/stack.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let stack: Stack;
let config: Config;
let services: ReturnType<typeof connect>;
let org: DemoCredentials;
let totpSecret: string;
const home = mkdtempSync(join(tmpdir(), 'inferia-cli-home-'));
const credentialsFile = join(home, 'credentials.json');
const modelAlias = uniq('cli');
let deploymentId = '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, INFERIA_HOME: home, NO_COLOR: '1', ...extra };
  delete env.INFERIA_URL;
  delete env.INFERIA_ORCHESTRATION_URL;
  return env;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = cliEnv()): ChildProcessWithoutNullStreams & { out: Run; exited: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/inferia.ts', ...args], { cwd: ROOT, env, stdio: 'pipe' });
  const out: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  const exited = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ ...out, code }));
  });
  return Object.assign(child, { out, exited });
}

/** Runs `inferia ARGS` to the end, with `input` on stdin (no terminal). */
function cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = spawnCli(args, opts.env);
  child.stdin.end(opts.input ?? '');
  return child.exited;
}

const hasScript = spawnSync('script', ['--version']).status === 0;
const credentials = () => JSON.parse(readFileSync(credentialsFile, 'utf8')) as Record<string, string>;

beforeAll(async () => {
  const taskQueue = uniq('e2e-cli');
  const overrides = {
    TEMPORAL_TASK_QUEUE: taskQueue,
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), 'inferia-cli-engines-')),
    LOG_LEVEL: 'warn',
  };
  config = testConfig(overrides);
  services = connect(config, 'e2e-cli');
  const slug = uniq('cli');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
  // Two-factor authentication on, as an operator would have it.
  totpSecret = generateSecret();
  await services.db.user.update({
    where: { id: org.user_id },
    data: { totpEnabled: true, totpSecretEnc: encryptSecret(config.secrets.encryptionKey, totpSecret, `totp:${org.user_id}`) },
  });
  const ports = {
    filtration: await freePort(),
    inference: await freePort(),
    orchestration: await freePort(),
    orchestrationGrpc: await freePort(),
    sidecar: await freePort(),
  };
  stack = await startStack({ env: { ...process.env, ...overrides }, ports, quiet: !process.env.E2E_VERBOSE });
}, 240_000);

afterAll(async () => {
  if (stack && deploymentId) {
    const api = new InferiaApi(stack.urls, config.secrets.internalServiceToken);
    await api.orchestration('POST', '/deployment/terminate', { deployment_id: deploymentId }).catch(() => undefined);
    await waitForStatus(api, deploymentId, ['STOPPED'], { timeoutMs: 30_000 }).catch(() => undefined);
  }
  await stack?.stop();
  if (config) {
    const engines = createLocalProvider({ engineDir: config.localEngineDir });
    for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
    const temporal = await createTemporalClient(config);
    for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
      await temporal.schedule.getHandle(reconcileScheduleId(provider, config.temporal.taskQueue)).delete().catch(() => undefined);
    }
    await temporal.connection.close();
  }
  await services?.close();
}, 120_000);

describe('inferia login', () => {
  it('needs a session before any verb (exit code 2)', async () => {
    const r = await cli(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not logged in');
    expect(r.stderr).toContain('inferia login');
  });

  it('asks for the TOTP code of a 2FA account, refuses a wrong one with the server message, then signs in', async () => {
    const base = ['login', '--email', org.admin_email, '--password-stdin', '--url', stack.urls.filtration, '--orchestration-url', stack.urls.orchestration];
    const noCode = await cli(base, { input: `${org.admin_password}\n` });
    expect(noCode.code).toBe(2);
    expect(noCode.stderr).toContain('two-factor');
    expect(noCode.stderr).toContain('--totp');

    const wrong = await cli([...base, '--totp', '000000'], { input: org.admin_password });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/invalid TOTP code \(HTTP 401 unauthorized\)/);

    const ok = await cli([...base, '--totp', await generateTotp({ secret: totpSecret }), '--json'], { input: `${org.admin_password}\n` });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const summary = JSON.parse(ok.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ email: org.admin_email, org_id: org.org_id, role: 'owner', filtration_url: stack.urls.filtration, orchestration_reachable: true });
    expect(ok.stdout).not.toContain('token');

    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(credentials()).toMatchObject({ filtration_url: stack.urls.filtration, orchestration_url: stack.urls.orchestration, email: org.admin_email });
    expect(credentials().refresh_token).toMatch(/^rt_/);

    const who = await cli(['whoami']);
    expect(who.code).toBe(0);
    expect(who.stdout).toContain(`${org.admin_email} (owner)`);
    expect(who.stdout).toMatch(/2FA:\s+on/);
  });

  it('refuses a password login without a terminal or --password-stdin', async () => {
    const r = await cli(['login', '--email', org.admin_email, '--url', stack.urls.filtration]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--password-stdin');
  });
});

describe('inferia models and pools', () => {
  it('lists the registered models, registers one, and shows a server 4xx with its message', async () => {
    const table = await cli(['models']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+VERSION\s+BACKEND\s+ARTIFACT\s+CREATED$/);
    expect(table.stdout).toMatch(/^mock\s+1\.0\s+mock\s+inferia\/mock-engine/m);

    const registered = await cli(['models', 'register', `${modelAlias}@2`, '--backend', 'mock', '--artifact', 'inferia/mock-engine', '--json']);
    expect(registered.code).toBe(0);
    expect(JSON.parse(registered.stdout)).toMatchObject({ model_name: modelAlias, model_version: '2', backend: 'mock' });

    const again = await cli(['models', 'register', `${modelAlias}@2`, '--backend', 'mock', '--artifact', 'inferia/mock-engine']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`model ${modelAlias} version 2 is already registered (HTTP 409 conflict)`);

    const json = await cli(['models', '--json']);
    const names = (JSON.parse(json.stdout) as { models: { model_name: string; model_version: string }[] }).models.map((m) => `${m.model_name}@${m.model_version}`);
    expect(names).toEqual(expect.arrayContaining(['mock@1.0', `${modelAlias}@2`]));
  });

  it('lists pools with an inventory summary', async () => {
    const table = await cli(['pools']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+PROVIDER\s+STATUS\s+NODES\s+READY\s+GPUS\s+CREATED$/);
    expect(table.stdout).toMatch(new RegExp(`^${org.pool_id.slice(0, 8)}\\s+local\\s+local\\s+ACTIVE\\s+0\\s+0\\s+0`, 'm'));
    const json = JSON.parse((await cli(['pools', '--json'])).stdout) as { pools: { pool_id: string; inventory: { nodes: number } }[] };
    expect(json.pools).toEqual([expect.objectContaining({ pool_id: org.pool_id, inventory: expect.objectContaining({ nodes: 0, ready: 0 }) })]);
  });
});

describe('inferia deploy, status, logs, scale, terminate, start', () => {
  it('deploys with live progress until RUNNING, printing the id on stdout', async () => {
    const r = await cli(['deploy', '--model', `${modelAlias}@2`, '--pool', 'local', '--replicas', '1', '--engine', 'mock', '--name', modelAlias, '--timeout', '120']);
    expect(r.stderr).toContain(`Deploying ${modelAlias}@2 on pool local (local), 1 replica as '${modelAlias}'`);
    expect(r.code).toBe(0);
    deploymentId = r.stdout.trim();
    expect(deploymentId).toMatch(/^[0-9a-f-]{36}$/);
    // Progress: status transitions, replica counts, then the verdict.
    expect(r.stderr).toMatch(/status\s+DEPLOYING/);
    expect(r.stderr).toMatch(/replicas\s+1\/1 ready/);
    expect(r.stderr).toMatch(/status\s+RUNNING/);
    expect(r.stderr).toContain(`Deployment ${deploymentId.slice(0, 8)} is RUNNING`);
    expect(r.stderr.indexOf('DEPLOYING')).toBeLessThan(r.stderr.lastIndexOf('RUNNING'));
  }, 150_000);

  it("refuses a model that is not registered, with the server's 404 for an unknown version", async () => {
    const r = await cli(['deploy', '--model', 'no-such-model', '--pool', 'local']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("model 'no-such-model' is not registered");
    const version = await cli(['deploy', '--model', 'mock@9.9', '--pool', 'local', '--no-wait']);
    expect(version.code).toBe(1);
    expect(version.stderr).toContain('model mock version 9.9 is not registered (HTTP 404 not_found)');
  });

  it('exits 3 with the reason when the deployment FAILS', async () => {
    const r = await cli(['deploy', '--model', `${modelAlias}@2`, '--pool', 'local', '--engine', 'vllm', '--name', `${modelAlias}-gpu`, '--timeout', '120', '--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/status\s+FAILED: .*engine 'vllm' cannot run on the local provider/);
    expect(r.stderr).toMatch(/Deployment [0-9a-f]{8} \(.+-gpu\) FAILED: /);
    expect(JSON.parse(r.stdout)).toMatchObject({ inference_model: `${modelAlias}-gpu`, status: 'FAILED' });
  }, 150_000);

  it('stops waiting at --timeout with exit 4, the deployment carrying on', async () => {
    const name = `${modelAlias}-slow`;
    const r = await cli(['deploy', '--model', `${modelAlias}@2`, '--pool', 'local', '--name', name, '--config', '{"startup_delay_ms":8000}', '--timeout', '1']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/Timed out after 1 s waiting for RUNNING \(now (PENDING|DEPLOYING).*\); it carries on: inferia status [0-9a-f]{8}/);
    const id = r.stdout.trim();
    const stopped = await cli(['terminate', name, '--wait', '--timeout', '90']);
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toContain(`Deployment ${id.slice(0, 8)} is STOPPED.`);
  }, 150_000);

  it('shows every deployment, or one by name or id prefix, as a table or JSON', async () => {
    const list = await cli(['status']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${deploymentId.slice(0, 8)}\\s+${modelAlias}\\s+${modelAlias}@2\\s+local\\s+1\\s+mock\\s+RUNNING`, 'm'));

    const one = await cli(['status', modelAlias]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`Deployment   ${deploymentId}`);
    expect(one.stdout).toMatch(/Replicas\s+1\/1 ready/);
    expect(one.stdout).toMatch(/^REPLICA\s+STATE\s+INSTANCE\s+URL\s+HEARTBEAT$/m);
    expect(one.stdout).toContain('Recent events:');

    const json = JSON.parse((await cli(['status', deploymentId.slice(0, 6), '--json'])).stdout) as { deployment_id: string; status: string; nodes: { state: string }[] };
    expect(json).toMatchObject({ deployment_id: deploymentId, status: 'RUNNING' });
    expect(json.nodes.filter((n) => n.state === 'READY')).toHaveLength(1);

    const missing = await cli(['status', 'no-such-deployment']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no deployment matches 'no-such-deployment'");
  });

  it("prints the engine's recent output, and follows new lines over the WebSocket until Ctrl-C", async () => {
    const recent = await waitFor(async () => {
      const r = await cli(['logs', modelAlias, '--tail', '50']);
      return r.code === 0 && r.stdout.includes('[mock-engine] serving') ? r : undefined;
    }, 30_000, 1000);
    expect(recent.stdout).toMatch(/^\[r0\] \[mock-engine\] serving/m);
    const doc = JSON.parse((await cli(['logs', deploymentId, '--json'])).stdout) as { deployment_id: string; lines: { line: string; replica: number }[] };
    expect(doc.deployment_id).toBe(deploymentId);
    expect(doc.lines.some((l) => l.line.includes('serving') && l.replica === 0)).toBe(true);
    // Without the orchestration gateway, recent lines still come through the filtration gateway.
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const detour = await cli(['logs', modelAlias, '--tail', '1', '--orchestration-url', nowhere]);
    expect(detour.code).toBe(0);
    expect(detour.stderr).toContain(`cannot reach ${nowhere} (ECONNREFUSED); reading the last lines through ${stack.urls.filtration}`);
    expect(detour.stdout.trim().split('\n')).toHaveLength(1);

    const follow = spawnCli(['logs', deploymentId, '-f', '--tail', '5', '--json']);
    try {
      await waitFor(async () => follow.out.stdout.includes('"replica":0'), 20_000);
      // A request makes the engine log a new line; it arrives over the socket.
      const node = (await services.db.inventoryNode.findFirstOrThrow({ where: { deploymentId, state: 'READY' } })).exposeUrl!;
      await fetch(`${node}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: modelAlias, messages: [{ role: 'user', content: 'follow me' }] }),
      });
      await waitFor(async () => follow.out.stdout.includes('POST /v1/chat/completions 200'), 20_000);
    } finally {
      follow.kill('SIGINT');
    }
    const done = await follow.exited;
    expect(done.code).toBe(0);
    const lines = done.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; line: string });
    expect(lines.length).toBeGreaterThan(1);
    expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length); // nothing printed twice
    expect(done.stderr).toBe('');
  }, 90_000);

  it('scales with --wait until the new replica is READY', async () => {
    const r = await cli(['scale', modelAlias, '2', '--wait', '--timeout', '90']);
    expect(r.stderr).toContain(`Scaling ${modelAlias} (${deploymentId.slice(0, 8)}) from 1 to 2 replicas`);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/scale\s+scaling from 1 to 2 replicas/);
    expect(r.stderr).toMatch(/replicas\s+2\/2 ready/);
    const bad = await cli(['scale', modelAlias, '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--replicas: must be a whole number from 1 to 64');
  }, 120_000);

  it('terminates with --wait until STOPPED, and starts it again', async () => {
    const r = await cli(['terminate', deploymentId.slice(0, 8), '--wait', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/status\s+STOPPING/);
    expect((JSON.parse(r.stdout) as { status: string }).status).toBe('STOPPED');

    const again = await cli(['terminate', deploymentId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('cannot terminate a deployment that is STOPPED');
    expect(again.stderr).toContain('(HTTP 409 conflict)');

    const started = await cli(['start', deploymentId, '--wait', '--timeout', '90']);
    expect(started.code).toBe(0);
    expect(started.stderr).toMatch(/status\s+RUNNING/);
    expect((JSON.parse((await cli(['status', deploymentId, '--json'])).stdout) as { status: string }).status).toBe('RUNNING');
  }, 150_000);
});

describe('inferia keys', () => {
  it('creates a key whose secret alone goes to stdout, which serves until it is revoked', async () => {
    const created = await cli(['keys', 'create', '--name', `${modelAlias}-key`, '--model', modelAlias, '--rpm', '100', '--expires', '1d']);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^sk-inf-[0-9a-f]{12}\.[A-Za-z0-9_-]{32}$/);
    expect(created.stderr).toContain('not shown again');
    expect(created.stderr).not.toContain(secret);

    const list = await cli(['keys']);
    // `in 1d` when the listing comes within half a second of the creation.
    expect(list.stdout).toMatch(new RegExp(`${modelAlias}-key\\s+sk-inf-[0-9a-f]{12}\\s+inference\\s+${modelAlias}\\s+100\\s+-\\s+in (?:1d|2[0-3]h)\\s+-\\s+active`));
    const json = await cli(['keys', 'list', '--json']);
    expect(json.stdout).not.toContain(secret.split('.')[1]);
    const listed = (JSON.parse(json.stdout) as { keys: { name: string; allowed_models: string[] }[] }).keys.find((k) => k.name === `${modelAlias}-key`);
    expect(listed?.allowed_models).toEqual([modelAlias]);

    const client = new OpenAI({ baseURL: `${stack.urls.inference}/v1`, apiKey: secret, maxRetries: 0 });
    const answer = await waitFor(() => client.chat.completions.create({ model: modelAlias, messages: [{ role: 'user', content: 'via the CLI key' }] }).catch(() => undefined), 15_000, 500);
    expect(answer.choices[0]?.message.content).toContain('You said: via the CLI key');

    const revoked = await cli(['keys', 'revoke', `${modelAlias}-key`, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ name: `${modelAlias}-key`, revoked_at: expect.any(String) });
    await waitFor(
      async () =>
        client.models.list().then(
          () => false,
          (err: unknown) => err instanceof OpenAI.AuthenticationError,
        ),
      5_000,
      100,
    );
    expect((await cli(['keys'])).stdout).toMatch(new RegExp(`${modelAlias}-key.*revoked`));
  });

  it('shows the server message of a 4xx', async () => {
    const r = await cli(['keys', 'create', '--name', 'x', '--scope', 'root']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("scopes: unknown scope 'root'");
    expect(r.stderr).toContain('(HTTP 400 bad_request)');
    expect(r.stdout).toBe('');
  });
});

describe('the session', () => {
  it('refreshes an expired access token with the refresh token, and saves the rotated pair', async () => {
    const before = credentials();
    writeFileSync(credentialsFile, JSON.stringify({ ...before, access_token: 'expired', expires_at: new Date(Date.now() - 1000).toISOString() }), { mode: 0o600 });
    const r = await cli(['pools', '--json']);
    expect(r.code).toBe(0);
    const after = credentials();
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.access_token).not.toBe('expired');
    // A 401 on a token that looked fresh is refreshed too.
    writeFileSync(credentialsFile, JSON.stringify({ ...after, access_token: 'revoked' }), { mode: 0o600 });
    expect((await cli(['models', '--json'])).code).toBe(0);
    expect(credentials().refresh_token).not.toBe(after.refresh_token);
  });

  it('says the session has ended (exit code 2) when the tokens are no good', async () => {
    const good = credentials();
    try {
      writeFileSync(credentialsFile, JSON.stringify({ ...good, access_token: 'bad', refresh_token: 'rt_not-a-real-token' }), { mode: 0o600 });
      const r = await cli(['status']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('your session has ended: invalid refresh token');
      expect(r.stderr).toContain("run 'inferia login'");
    } finally {
      writeFileSync(credentialsFile, JSON.stringify(good), { mode: 0o600 });
    }
  });

  it.skipIf(!hasScript)('asks for the password and the TOTP code at a terminal without echoing them', async () => {
    // `script` gives the CLI a pseudo-terminal, as a person at a shell would have.
    const command = [process.execPath, '--import', 'tsx', 'bin/inferia.ts', 'login', '--email', org.admin_email].join(' ');
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: ROOT, env: cliEnv(), stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // A code of the next time step: this test's earlier login spent the current one.
    const code = await generateTotp({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) + 30 });
    try {
      await waitFor(async () => output.includes('Password: '), 20_000, 100);
      child.stdin.write(`${org.admin_password}\r`);
      await waitFor(async () => output.includes('Two-factor code: '), 20_000, 100);
      child.stdin.write(`${code}\r`);
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
    expect(output).toContain(`Logged in to ${stack.urls.filtration} as ${org.admin_email}`);
    expect(output).not.toContain(org.admin_password);
    expect(output).not.toContain(code);
    expect((await cli(['whoami', '--json'])).code).toBe(0);
  }, 60_000);

  it('logs out: the server ends the session and the credentials file is gone', async () => {
    const { refresh_token: refreshToken } = credentials();
    const r = await cli(['logout']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Logged out of ${stack.urls.filtration}`);
    expect(() => statSync(credentialsFile)).toThrow();
    const reuse = await fetch(`${stack.urls.filtration}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    expect(reuse.status).toBe(401);
    expect((await cli(['status'])).code).toBe(2);
  });
});
