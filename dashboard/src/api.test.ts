// The session logic a person never sees but always relies on: one refresh for many stale calls
// (a second use of a rotated refresh token would end the whole session), no retry of a 401 that
// is about a wrong code rather than the token, and the gateway's error words passed through.
import { describe, expect, it } from 'vitest';
import { Api, ApiError } from './api';

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
}

const config = { filtration_url: 'http://f', orchestration_url: 'http://o', inference_url: 'http://i/v1', temporal_ui_url: 'http://t' };
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('the API client', () => {
  it('refreshes once for concurrent calls, then retries them with the new token', async () => {
    const calls: string[] = [];
    let refreshes = 0;
    const fetchImpl = (async (url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).authorization ?? '';
      calls.push(`${init.method} ${url} ${auth}`);
      if (url.endsWith('/auth/refresh')) {
        refreshes += 1;
        await new Promise((r) => setTimeout(r, 10));
        return json(200, { access_token: `new-${refreshes}`, refresh_token: `rt-${refreshes}`, expires_in: 900 });
      }
      if (auth !== 'Bearer new-1') return json(401, { error: { code: 'unauthorized', message: 'invalid or expired access token', details: {} } });
      return json(200, { ok: true });
    }) as typeof fetch;
    const storage = memoryStorage();
    storage.setItem('inferia.refresh_token', 'rt-0');
    const api = new Api(config, storage, fetchImpl);
    const results = await Promise.all([api.get('/a'), api.get('/b'), api.get('/c', 'orchestration')]);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(refreshes).toBe(1);
    expect(storage.getItem('inferia.refresh_token')).toBe('rt-1');
    expect(calls.filter((c) => c.includes('http://o/c'))).toEqual(['GET http://o/c Bearer new-1']);
  });

  it('does not send a refused TOTP code twice', async () => {
    let posts = 0;
    const fetchImpl = (async (url: string) => {
      if (url.endsWith('/auth/login')) return json(200, { access_token: 'a', refresh_token: 'r', expires_in: 900 });
      if (url.endsWith('/auth/2fa/enable')) {
        posts += 1;
        return json(401, { error: { code: 'unauthorized', message: 'invalid TOTP code', details: {} } });
      }
      return json(500, {});
    }) as typeof fetch;
    const api = new Api(config, memoryStorage(), fetchImpl);
    await api.login('a@b.c', 'pw');
    await expect(api.post('/auth/2fa/enable', { totp_code: '000000' })).rejects.toMatchObject({ status: 401, message: 'invalid TOTP code' });
    expect(posts).toBe(1);
  });

  it('ends the session when the refresh token is refused', async () => {
    let lost = false;
    const storage = memoryStorage();
    storage.setItem('inferia.refresh_token', 'rt-spent');
    const fetchImpl = (async () => json(401, { error: { code: 'unauthorized', message: 'refresh token reused', details: {} } })) as unknown as typeof fetch;
    const api = new Api(config, storage, fetchImpl);
    api.onSessionLost = () => (lost = true);
    await expect(api.get('/management/api-keys')).rejects.toBeInstanceOf(ApiError);
    expect(lost).toBe(true);
    expect(api.hasSession).toBe(false);
  });

  it('keeps the gateway\'s message, code and field, and names an unreachable gateway', async () => {
    const api = new Api(config, memoryStorage(), (async () =>
      json(400, { error: { code: 'bad_request', message: 'body.replicas: Too big', details: { field: 'body.replicas' } } })) as unknown as typeof fetch);
    const err = (await api.post('/x', {}).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.code, err.message, err.field]).toEqual([400, 'bad_request', 'body.replicas: Too big', 'body.replicas']);
    const down = new Api(config, memoryStorage(), (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch);
    await expect(down.get('/x')).rejects.toMatchObject({ status: 0, code: 'network', message: expect.stringContaining('http://f') });
  });
});
