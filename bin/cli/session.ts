// An authenticated API for the operator verbs, from the stored credentials. The access token is
// refreshed shortly before it expires and after a 401; the rotated pair is saved at once.
import { ApiError, InferiaApi, type TokenPair } from '../api-client.js';
import { UsageError, authError } from './cli.js';
import { readCredentials, withCredentialsLock, writeCredentials, type Credentials } from './credentials.js';

export const DEFAULT_FILTRATION_URL = 'http://127.0.0.1:8000';

export function normalizeUrl(raw: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${flag}: not a URL: '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag}: must be an http(s) URL, got '${raw}'`);
  return url.toString().replace(/\/+$/, '');
}

/** With no orchestration URL given: the filtration gateway's host on the orchestration port (8080). */
export function defaultOrchestrationUrl(filtrationUrl: string): string {
  const url = new URL(filtrationUrl);
  url.port = '8080';
  return url.toString().replace(/\/+$/, '');
}

export interface GlobalValues {
  url?: string;
  'orchestration-url'?: string;
}

/** The filtration URL asked for (flag, then INFERIA_URL), if any. */
export function requestedFiltrationUrl(values: GlobalValues, env: NodeJS.ProcessEnv): string | undefined {
  if (values.url) return normalizeUrl(values.url, '--url');
  if (env.INFERIA_URL) return normalizeUrl(env.INFERIA_URL, 'INFERIA_URL');
  return undefined;
}

export function requestedOrchestrationUrl(values: GlobalValues, env: NodeJS.ProcessEnv): string | undefined {
  if (values['orchestration-url']) return normalizeUrl(values['orchestration-url'], '--orchestration-url');
  if (env.INFERIA_ORCHESTRATION_URL) return normalizeUrl(env.INFERIA_ORCHESTRATION_URL, 'INFERIA_ORCHESTRATION_URL');
  return undefined;
}

const EARLY_REFRESH_MS = 30_000;

export function credentialsFrom(pair: TokenPair, base: Omit<Credentials, 'access_token' | 'refresh_token' | 'expires_at' | 'org_id'>): Credentials {
  return {
    ...base,
    org_id: pair.org_id,
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: new Date(Date.now() + pair.expires_in * 1000).toISOString(),
  };
}

export class Session {
  private constructor(
    private credentials: Credentials,
    readonly api: InferiaApi,
  ) {}

  /** Opens the stored session; exit code 2 when there is none (or it is for another gateway). */
  static async open(values: GlobalValues, env: NodeJS.ProcessEnv = process.env): Promise<Session> {
    const stored = readCredentials(env);
    if (!stored) throw authError('not logged in');
    const wanted = requestedFiltrationUrl(values, env);
    if (wanted && wanted !== stored.filtration_url) {
      throw authError(`not logged in to ${wanted} (the stored session is for ${stored.filtration_url})`);
    }
    const urls = { filtration: stored.filtration_url, orchestration: requestedOrchestrationUrl(values, env) ?? stored.orchestration_url };
    const refreshToken = (): Promise<string> => session.refresh(env);
    const session: Session = new Session(stored, new InferiaApi(urls, stored.access_token, { refreshToken }));
    if (Date.parse(stored.expires_at) - EARLY_REFRESH_MS <= Date.now()) session.api.setToken(await refreshToken());
    return session;
  }

  /**
   * A fresh access token. Under the lock: when another process has already rotated the pair,
   * its new access token is used instead of spending the refresh token again.
   */
  private refresh(env: NodeJS.ProcessEnv): Promise<string> {
    return withCredentialsLock(async () => {
      const current = readCredentials(env);
      if (!current || current.filtration_url !== this.credentials.filtration_url) throw authError('logged out');
      if (current.refresh_token !== this.credentials.refresh_token && Date.parse(current.expires_at) - EARLY_REFRESH_MS > Date.now()) {
        this.credentials = current;
        return current.access_token;
      }
      let pair: TokenPair;
      try {
        pair = await new InferiaApi(this.api.urls).refreshSession(current.refresh_token);
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw authError(`your session has ended: ${err.serverMessage}`);
        throw err;
      }
      this.credentials = credentialsFrom(pair, current);
      writeCredentials(this.credentials, env);
      return pair.access_token;
    }, env);
  }
}
