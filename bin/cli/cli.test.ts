// The operator CLI's pure parts: names to ids, failures to exit codes, expiry spans, log stream
// ids, and the credentials file with its refresh lock.
import { mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, ConnectionError } from '../api-client.js';
import { parseExpiry } from '../commands/keys.js';
import { compareEntryIds } from '../commands/logs.js';
import { EXIT, UsageError, age, describeFailure } from './cli.js';
import { credentialsPath, deleteCredentials, readCredentials, withCredentialsLock, writeCredentials, type Credentials } from './credentials.js';
import { pick, replicaCounts, type DeploymentDetail } from './resources.js';
import { defaultOrchestrationUrl, normalizeUrl } from './session.js';

const deployments = [
  { id: '1a2b3c4d-0000-4000-8000-000000000001', name: 'chat', status: 'STOPPED' },
  { id: '1a2b9999-0000-4000-8000-000000000002', name: 'chat', status: 'RUNNING' },
  { id: '7f000000-0000-4000-8000-000000000003', name: 'embed', status: 'RUNNING' },
];
const pickDeployment = (ref: string) =>
  pick(deployments, ref, 'deployment', { id: (d) => d.id, name: (d) => d.name, prefer: (d) => d.status === 'RUNNING', describe: (d) => d.id.slice(0, 8) }).id;

describe('pick', () => {
  it('takes a full id, a unique prefix, or a name (a live one over stopped ones)', () => {
    expect(pickDeployment('7F000000-0000-4000-8000-000000000003')).toBe(deployments[2]!.id);
    expect(pickDeployment('7f00')).toBe(deployments[2]!.id);
    expect(pickDeployment('1a2b3')).toBe(deployments[0]!.id);
    expect(pickDeployment('chat')).toBe(deployments[1]!.id);
  });

  it('names the candidates of an ambiguous prefix, and says when nothing matches', () => {
    expect(() => pickDeployment('1a2b')).toThrow("'1a2b' matches 2 deployments: 1a2b3c4d, 1a2b9999; give more of the id");
    expect(() => pickDeployment('nope')).toThrow("no deployment matches 'nope'");
  });
});

describe('describeFailure', () => {
  const body = (code: string, message: string) => ({ error: { code, message, details: {} } });
  it('maps a 401 to exit code 2 with advice, other statuses to 1 with the server message', () => {
    expect(describeFailure(new ApiError(401, body('unauthorized', 'invalid or expired access token'), 'x'))).toMatchObject({
      exitCode: EXIT.auth,
      message: 'invalid or expired access token (HTTP 401 unauthorized)',
      hint: expect.stringContaining('inferia login'),
    });
    expect(describeFailure(new ApiError(409, body('conflict', 'pool local is used by 1 deployment(s)'), 'x'))).toEqual({
      exitCode: EXIT.error,
      message: 'pool local is used by 1 deployment(s) (HTTP 409 conflict)',
    });
    expect(describeFailure(new UsageError('--replicas: bad'))).toMatchObject({ exitCode: EXIT.error, message: '--replicas: bad' });
  });

  it('says which gateway could not be reached', () => {
    const err = new ConnectionError('http://127.0.0.1:1', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    expect(describeFailure(err)).toMatchObject({ exitCode: EXIT.error, message: 'cannot reach http://127.0.0.1:1 (ECONNREFUSED)', hint: expect.stringContaining('--url') });
  });
});

describe('small parsers', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads key expiries as spans from now or ISO times', () => {
    expect(parseExpiry('30d', now)).toBe('2026-01-31T00:00:00.000Z');
    expect(parseExpiry('90m', now)).toBe('2026-01-01T01:30:00.000Z');
    expect(parseExpiry('2027-06-01T12:00:00+02:00', now)).toBe('2027-06-01T10:00:00.000Z');
    expect(() => parseExpiry('tomorrow', now)).toThrow(UsageError);
  });

  it('orders Redis stream ids numerically', () => {
    expect(compareEntryIds('1700000000000-2', '1700000000000-10')).toBeLessThan(0);
    expect(compareEntryIds('1700000000001-0', '1700000000000-99')).toBeGreaterThan(0);
    expect(compareEntryIds('5-5', '5-5')).toBe(0);
  });

  it('prints ages, URLs and the default orchestration URL', () => {
    expect(age('2025-12-31T23:55:00Z', now)).toBe('5m ago');
    expect(age('2026-01-03T01:00:00Z', now)).toBe('in 2d');
    expect(age(null, now)).toBe('-');
    expect(normalizeUrl('https://inferia.example.com/', '--url')).toBe('https://inferia.example.com');
    expect(() => normalizeUrl('ftp://x', '--url')).toThrow('must be an http(s) URL');
    expect(defaultOrchestrationUrl('http://10.0.0.5:8000')).toBe('http://10.0.0.5:8080');
  });

  it('counts ready replicas against the target, leaving terminated nodes out', () => {
    const node = (state: string) => ({ state }) as DeploymentDetail['nodes'][number];
    const d = { replicas: 3, nodes: [node('READY'), node('BUSY'), node('PROVISIONING'), node('TERMINATED')], workflow_state: null } as unknown as DeploymentDetail;
    expect(replicaCounts(d)).toEqual({ ready: 2, desired: 3, live: 3, text: '2/3 ready, 1 provisioning' });
  });
});

describe('the credentials file', () => {
  const env = { INFERIA_HOME: join(mkdtempSync(join(tmpdir(), 'inferia-cli-unit-')), 'home') };
  const sample: Credentials = {
    filtration_url: 'http://127.0.0.1:8000',
    orchestration_url: 'http://127.0.0.1:8080',
    email: 'ops@example.com',
    user_id: null,
    org_id: 'org',
    role: 'owner',
    access_token: 'a',
    refresh_token: 'rt_b',
    expires_at: new Date().toISOString(),
  };

  it('is written for its owner only, read back, and deleted', () => {
    expect(readCredentials(env)).toBeUndefined();
    const file = writeCredentials(sample, env);
    expect(file).toBe(credentialsPath(env));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(env.INFERIA_HOME).mode & 0o777).toBe(0o700);
    expect(readCredentials(env)).toEqual(sample);
    expect(deleteCredentials(env)).toBe(true);
    expect(readCredentials(env)).toBeUndefined();
  });

  it('runs refreshes one at a time, and takes over a lock its holder left behind', async () => {
    let inside = 0;
    let most = 0;
    const section = () =>
      withCredentialsLock(async () => {
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 30));
        inside--;
      }, env);
    await Promise.all([section(), section(), section()]);
    expect(most).toBe(1);

    const lock = `${credentialsPath(env)}.lock`;
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await expect(withCredentialsLock(async () => 'took over', env)).resolves.toBe('took over');
  });
});
