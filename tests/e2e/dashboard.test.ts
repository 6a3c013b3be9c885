// The admin dashboard as a person uses it, in headless Chromium (Debian's, driven by
// playwright-core), against the whole stack started here: sign in, enrol in 2FA with the QR code
// and sign in again with a code, create an API key (its secret shown once), deploy the mock model
// and watch it reach RUNNING without a reload, read its live logs, chat through the gateway with
// the new key and see the usage appear, terminate it, and find each action in the audit log. A
// viewer sees no button it cannot use. Every page is screenshotted (laptop and large widths) to
// .inferia/test/artifacts/dashboard/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { generate as totp } from 'otplib';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../adapters/providers/local/local-provider.js';
import type { Config } from '../../lib/config.js';
import { chromiumPath } from '../../lib/local-services/services.js';
import { startStack, type Stack } from '../../lib/local-services/stack.js';
import { ROOT } from '../../lib/local-services/supervisor.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

const LAPTOP = { width: 1366, height: 768 };
const LARGE = { width: 1920, height: 1080 };
const ARTIFACTS = join(resolve(process.env.INFERIA_DATA_DIR ?? join(ROOT, '.inferia', 'test')), 'artifacts', 'dashboard');
// A loaded two-core machine: conditions are awaited, never slept on, with room to spare.
const STEP_MS = 30_000;
const DEPLOY_MS = 150_000;

let stack: Stack;
let config: Config;
let services: ReturnType<typeof connect>;
let owner: DemoCredentials;
let viewer: DemoCredentials;
let context: BrowserContext;
let page: Page;
let profileDir: string;
let dashboard: string;
let apiKey = '';
let deploymentId = '';
const PASSWORD = 'a long dashboard password';

async function shot(name: string, viewport = LAPTOP) {
  await page.setViewportSize(viewport);
  // Every page must fit the width it is shown at: a table may scroll inside its box, the page may not.
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
  expect(overflow, `${name} overflows the ${viewport.width} px width by ${overflow} px`).toBeLessThanOrEqual(0);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${viewport.width}.png`), fullPage: true });
}

/** Polls a locator's text until it matches (the page updates by itself; nothing reloads it). */
async function untilText(locator: Locator, pattern: RegExp, timeout = STEP_MS) {
  await expect.poll(async () => ((await locator.count()) > 0 ? await locator.first().innerText() : ''), { timeout, interval: 250 }).toMatch(pattern);
}

async function goto(path: string, ready: Locator | string) {
  await page.goto(`${dashboard}${path}`);
  await (typeof ready === 'string' ? page.getByRole('heading', { name: ready, level: 1 }) : ready).waitFor({ timeout: STEP_MS });
}

/** The code for the next 30-second step: the current one may already have been spent (each code works once). */
const nextCode = (secret: string) => totp({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

async function signIn(email: string, code?: () => Promise<string>) {
  await page.goto(`${dashboard}/`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (code) {
    await page.getByLabel('Code from your authenticator app').fill(await code());
    await page.getByRole('button', { name: 'Verify' }).click();
  }
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: STEP_MS });
}

async function signOut() {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: STEP_MS });
}

beforeAll(async () => {
  if (!existsSync(chromiumPath())) throw new Error(`Chromium not found at ${chromiumPath()}: install Debian's \`chromium\` package (npm test does so when run as root)`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const overrides = {
    TEMPORAL_TASK_QUEUE: uniq('e2e-dash'),
    ENGINE_HEARTBEAT_INTERVAL_MS: '1000',
    LOCAL_ENGINE_DIR: mkdtempSync(join(tmpdir(), 'inferia-dash-engines-')),
    LOG_LEVEL: 'warn',
  };
  config = testConfig(overrides);
  services = connect(config, 'e2e-dashboard');
  const slug = uniq('dash');
  owner = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local`, adminPassword: PASSWORD });
  viewer = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}-viewer@test.local`, adminPassword: PASSWORD, role: 'viewer' });
  const ports = {
    filtration: await freePort(),
    inference: await freePort(),
    orchestration: await freePort(),
    orchestrationGrpc: await freePort(),
    sidecar: await freePort(),
    dashboard: await freePort(),
  };
  stack = await startStack({ env: { ...process.env, ...overrides }, ports, quiet: !process.env.E2E_VERBOSE });
  dashboard = stack.urls.dashboard!;

  profileDir = mkdtempSync(join(tmpdir(), 'inferia-dash-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: LAPTOP,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(STEP_MS);
  page = context.pages()[0] ?? (await context.newPage());
}, 300_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (stack) {
    if (deploymentId) {
      // Whatever a failure left running: the service token stops it (the owner now needs a TOTP code).
      await fetch(`${stack.urls.orchestration}/deployment/terminate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${config.secrets.internalServiceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deployment_id: deploymentId }),
      }).catch(() => undefined);
    }
    await stack.stop();
  }
  const engines = createLocalProvider({ engineDir: config.localEngineDir });
  for (const node of await engines.discoverNodes()) await engines.stopEngine(node.providerInstanceId);
  const temporal = await createTemporalClient(config);
  for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
    await temporal.schedule.getHandle(reconcileScheduleId(provider, config.temporal.taskQueue)).delete().catch(() => undefined);
  }
  await temporal.connection.close();
  await services?.close();
}, 120_000);

describe('the admin dashboard, as an operator uses it', () => {
  it('signs in, enrols in two-factor authentication with the QR code, and signs in again with a code', async () => {
    await page.goto(`${dashboard}/deployments`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await shot('01-login');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Required.').first().waitFor(); // checked before anything is sent
    await page.getByLabel('E-mail').fill('not-an-address');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Enter an e-mail address.').waitFor();
    await page.getByLabel('E-mail').fill(owner.admin_email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /invalid/i }).waitFor(); // the gateway's answer, shown
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Deployments', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/deployments'); // back where the sign-in began

    await page.getByRole('link', { name: 'Account & 2FA' }).click();
    await page.getByRole('button', { name: 'Set up 2FA' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.getByTestId('totp-secret').innerText()).trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await shot('02-account-2fa-enrolment');
    await page.getByLabel('Code from the app').fill('12');
    await page.getByRole('button', { name: 'Turn on 2FA' }).click();
    await page.getByText('Six digits from your authenticator app.').waitFor();
    await page.getByLabel('Code from the app').fill(await totp({ secret }));
    await page.getByRole('button', { name: 'Turn on 2FA' }).click();
    await page.getByRole('button', { name: 'Turn off 2FA' }).waitFor();
    await expect.poll(() => page.getByTestId('totp-secret').count()).toBe(0); // the secret is gone from the page
    await shot('03-account-2fa-on');

    await signOut();
    await page.getByLabel('E-mail').fill(owner.admin_email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await shot('04-login-totp');
    await page.getByLabel('Code from your authenticator app').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: /TOTP code/ }).waitFor();
    await page.getByLabel('Code from your authenticator app').fill(await nextCode(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await untilText(page.locator('.whoami'), /2FA on/);
  }, 180_000);

  it('creates an API key with scopes, models and limits, and shows its secret once', async () => {
    await goto('/api-keys', 'API keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an API key' });
    await dialog.getByLabel('Requests per minute').fill('0');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    await dialog.getByText('Required.').waitFor();
    await dialog.getByText('Between 1 and 1000000.').waitFor();
    await dialog.getByLabel('Name', { exact: true }).fill('dashboard-e2e');
    await dialog.getByLabel('Allowed models').fill('mock');
    await dialog.getByLabel('Requests per minute').fill('600');
    await dialog.getByLabel('Tokens per minute').fill('100000');
    await shot('05-api-key-create');
    await dialog.getByRole('button', { name: 'Create key' }).click();

    const secret = page.getByTestId('new-key-secret');
    await secret.waitFor();
    apiKey = (await secret.innerText()).trim();
    expect(apiKey).toMatch(/^sk-inf-[0-9a-f]{12}\.[A-Za-z0-9_-]{32}$/);
    await shot('06-api-key-secret-once');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    const row = page.locator('tr', { hasText: 'dashboard-e2e' });
    await row.waitFor();
    await untilText(row, /inference[\s\S]*mock[\s\S]*600 req\/min[\s\S]*active/);
    expect(await page.content()).not.toContain(apiKey.split('.')[1]); // nothing shows the secret twice
    await shot('07-api-keys');
  }, 120_000);

  it('deploys the mock model and watches it reach RUNNING without a reload', async () => {
    await goto('/deployments', 'Deployments');
    await page.evaluate('window.__sameDocument = true');
    await page.getByRole('button', { name: 'Deploy a model' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy a model' });
    await dialog.getByRole('button', { name: 'Deploy' }).click();
    await dialog.getByText('Choose a registered model.').waitFor();
    await dialog.getByLabel('Model', { exact: true }).selectOption({ label: 'mock@1.0 (mock)' });
    await dialog.getByLabel('Compute pool').selectOption({ label: 'local (local)' });
    await dialog.getByLabel('Replicas', { exact: true }).fill('1');
    await shot('08-deploy-form');
    await dialog.getByRole('button', { name: 'Deploy' }).click();

    await page.waitForURL(/\/deployments\/[0-9a-f-]{36}$/);
    deploymentId = page.url().split('/').pop()!;
    const status = page.locator('.summary [data-status]');
    await untilText(status, /PENDING|DEPLOYING|RUNNING/);
    await shot('09-deployment-deploying');
    await untilText(status, /RUNNING/, DEPLOY_MS);
    expect(await page.evaluate<boolean>('window.__sameDocument === true')).toBe(true); // no reload on the way
    await untilText(page.locator('table tbody tr').first(), /READY/);
    const href = await page.getByTestId('temporal-link').getAttribute('href');
    expect(href).toBe(`${config.temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(`deployment:${deploymentId}`)}`);
  }, DEPLOY_MS + 60_000);

  it('streams the live logs, serves a chat with the new key, and shows the usage', async () => {
    await untilText(page.getByTestId('log-state'), /live/);
    await untilText(page.getByTestId('logs'), /\[mock-engine\] serving mock/);
    const openai = new OpenAI({ baseURL: `${stack.urls.inference}/v1`, apiKey, maxRetries: 0 });
    // The inference gateway's routing table picks the new replica up within its refresh interval.
    const answer = await waitFor(
      () => openai.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello from the dashboard test' }] }).catch(() => undefined),
      STEP_MS,
      500,
    );
    expect(answer.choices[0]?.message.content).toContain('You said: Hello from the dashboard test');
    await openai.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello again' }] });
    // The engine's request line arrives over the WebSocket: the page was not reloaded.
    await untilText(page.getByTestId('logs'), /POST \/v1\/chat\/completions 200/);
    await shot('10-deployment-running-logs');
    await shot('10-deployment-running-logs', LARGE);

    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
    // The inference log reaches Postgres within seconds; the page asks again every 15 s by itself.
    await untilText(page.getByTestId('total-requests'), /^([2-9]|\d{2,})/, 90_000);
    await page.getByLabel('Group by').selectOption('api_key');
    await page.locator('tr', { hasText: 'dashboard-e2e' }).waitFor();
    await page.getByLabel('Group by').selectOption('model');
    await page.locator('figure', { hasText: 'Requests' }).locator('svg rect').first().waitFor();
    await shot('11-usage');
    await shot('11-usage', LARGE);
  }, 180_000);

  it('scales the deployment to two replicas, then terminates it and sees it stop', async () => {
    await goto(`/deployments/${deploymentId}`, 'mock');
    await page.getByLabel('Scale to').fill('70');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Between 1 and 64.').waitFor(); // checked before anything is sent
    await page.getByLabel('Scale to').fill('2');
    await page.getByRole('button', { name: 'Apply' }).click();
    await untilText(page.getByTestId('replicas'), /^2$/);
    await expect.poll(() => page.locator('.card', { hasText: 'Replicas' }).locator('tbody [data-status="READY"]').count(), { timeout: 90_000 }).toBe(2);
    await untilText(page.locator('.summary [data-status]'), /RUNNING/, 90_000);
    await shot('12-deployment-scaled');
    await page.getByRole('button', { name: 'Terminate' }).click();
    await page.getByRole('button', { name: 'Yes, terminate' }).click();
    await untilText(page.locator('.summary [data-status]'), /STOPPING|STOPPED/);
    await untilText(page.locator('.summary [data-status]'), /STOPPED/, 90_000);
    await page.getByRole('button', { name: 'Start' }).waitFor(); // the actions follow the state
    await shot('12-deployment-stopped');
    await goto('/deployments', 'Deployments');
    await untilText(page.locator('tbody tr', { hasText: 'mock' }).first(), /STOPPED/);
    await shot('13-deployments');
    await shot('13-deployments', LARGE);
  }, 300_000);

  it('finds each action in the audit log', async () => {
    await goto('/audit', 'Audit log');
    const shown = async () => [...new Set(await page.locator('tbody tr[data-action]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action'))))].sort().join(' ');
    for (const action of ['auth.2fa_enable', 'api_key.create', 'deployment.scale', 'deployment.terminate', 'deployment.deploy']) {
      await page.getByLabel('Action', { exact: true }).fill(action);
      await expect.poll(shown, { timeout: STEP_MS }).toBe(action); // the filter ran on the gateway: only this action, and it is there
    }
    await page.locator('tr[data-action="deployment.deploy"]').first().click();
    await untilText(page.locator('tr.detail-row'), new RegExp(`mock@1\\.0[\\s\\S]*${owner.pool_id}`));
    await page.getByLabel('Action', { exact: true }).fill('');
    await page.getByLabel('Resource type').fill('deployment');
    await expect.poll(shown, { timeout: STEP_MS }).toBe('deployment.deploy deployment.scale deployment.terminate');
    await shot('14-audit');
  }, 120_000);

  it('shows every other page, filtered and paged, at laptop and large widths', async () => {
    await goto('/pools', 'Compute pools');
    await page.locator('tr', { hasText: 'local' }).first().click();
    await page.getByRole('heading', { name: 'Inventory of local' }).waitFor();
    await untilText(page.locator('.card', { hasText: 'Inventory of local' }).locator('tbody tr').first(), /TERMINATED|READY|BUSY|UNHEALTHY/);
    await shot('15-pools-inventory');
    await shot('15-pools-inventory', LARGE);

    await goto('/models', 'Model registry');
    await page.getByLabel('Filter models').fill('nothing-like-this');
    await page.getByText('Nothing matches the filter.').waitFor();
    await page.getByLabel('Filter models').fill('mock');
    await page.locator('tr', { hasText: 'inferia/mock-engine' }).waitFor();
    await shot('16-models');

    // A knowledge base: upload a document, read its chunks, test a question.
    await goto('/knowledge-bases', 'Knowledge bases');
    await page.getByRole('button', { name: 'New knowledge base' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('handbook');
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'handbook', level: 1 }).waitFor();
    await page.getByLabel('Add a document').setInputFiles({
      name: 'refunds.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from('# Refunds\n\nRefunds are paid within fourteen days of the return.\n\n# Plants\n\nThe office plants are watered on Mondays.\n'),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('tr', { hasText: 'refunds.md' }).waitFor();
    await page.getByLabel('Question').fill('when are refunds paid?');
    await page.getByRole('button', { name: 'Retrieve' }).click();
    await untilText(page.locator('.card', { hasText: 'Test a query' }).locator('tbody'), /fourteen days/);
    await shot('17-knowledge-base');
    await page.locator('tr', { hasText: 'refunds.md' }).getByRole('button', { name: 'Chunks' }).click();
    await page.getByRole('dialog').getByText('Refunds are paid').waitFor();
    await page.keyboard.press('Escape');

    await goto('/prompt-templates', 'Prompt templates');
    await page.getByRole('button', { name: 'New template' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('support');
    await page.getByRole('dialog').getByLabel('Template', { exact: true }).fill('You help customers of {{product}}.\n{{context}}');
    await page.getByRole('dialog').getByLabel('product').fill('Inferia');
    await untilText(page.getByRole('dialog').locator('pre'), /You help customers of Inferia\./);
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await page.locator('tr', { hasText: 'support' }).waitFor();
    await shot('18-prompt-templates');

    await goto('/guardrails', 'Guardrails');
    await page.getByRole('button', { name: 'New policy' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('no-pii');
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await untilText(page.locator('tr', { hasText: 'no-pii' }), /PII on input: redact[\s\S]*enabled/);
    await shot('19-guardrails');

    await goto('/providers', 'Providers');
    await page.getByRole('button', { name: 'Add provider' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('upstream');
    await dialog.getByLabel('Base URL').fill('https://203.0.113.10/v1');
    await dialog.getByLabel('Settings (JSON)').fill('{"models": ["upstream-model"]}');
    await dialog.getByLabel('Credential value').fill('sk-provider-secret-never-shown');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await untilText(page.locator('tr', { hasText: 'upstream' }), /stored/);
    expect(await page.content()).not.toContain('sk-provider-secret-never-shown'); // write-only
    await page.locator('tr', { hasText: 'upstream' }).getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByRole('dialog').getByLabel('Credential value').inputValue()).toBe('');
    await page.keyboard.press('Escape');
    await shot('20-providers');

    await goto('/users', 'Users, roles and groups');
    await page.locator('tr', { hasText: viewer.admin_email }).waitFor();
    await page.getByRole('button', { name: 'New group' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('research');
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    await page.locator('tr', { hasText: 'research' }).waitFor();
    await shot('21-users-roles-groups');
    await shot('21-users-roles-groups', LARGE);

    await goto('/account', 'Account');
    await shot('22-account');
  }, 240_000);

  it('shows a viewer no button it cannot use', async () => {
    await signOut();
    await signIn(viewer.admin_email);
    await untilText(page.getByTestId('role'), /viewer/);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Deployments' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Users & roles' }).count()).toBe(0);

    await goto('/deployments', 'Deployments');
    await page.locator('tbody tr', { hasText: 'mock' }).first().waitFor();
    for (const name of ['Deploy a model', 'Start', 'Terminate', 'Delete']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    await shot('23-viewer-deployments');
    await goto(`/deployments/${deploymentId}`, 'mock');
    for (const name of ['Start', 'Delete', 'Apply']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    await goto('/api-keys', 'API keys');
    await page.locator('tr', { hasText: 'dashboard-e2e' }).waitFor();
    for (const name of ['Create key', 'Revoke']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    for (const [path, heading, button] of [
      ['/pools', 'Compute pools', 'Create pool'],
      ['/models', 'Model registry', 'Register model'],
      ['/knowledge-bases', 'Knowledge bases', 'New knowledge base'],
      ['/prompt-templates', 'Prompt templates', 'New template'],
      ['/guardrails', 'Guardrails', 'New policy'],
      ['/providers', 'Providers', 'Add provider'],
    ] as const) {
      await goto(path, heading);
      expect(await page.getByRole('button', { name: button }).count(), `${path}: ${button}`).toBe(0);
      expect(await page.getByRole('button', { name: 'Delete' }).count(), `${path}: Delete`).toBe(0);
    }
    await page.goto(`${dashboard}/audit`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await shot('24-viewer-audit-refused');
  }, 180_000);
});
