// The dashboard's only way to the platform: the gateways' public HTTP APIs, with the signed-in
// user's bearer token. The access token lives in memory; the refresh token in sessionStorage (this
// tab only, gone when it closes) so a reload keeps the session. Refresh tokens rotate and a reused
// one ends the whole session, so concurrent refreshes are folded into one.

export interface RuntimeConfig {
  filtration_url: string;
  orchestration_url: string;
  inference_url: string;
  temporal_ui_url: string;
}

export type Gateway = 'filtration' | 'orchestration';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The request field the server named as wrong, when it did. */
  get field(): string | undefined {
    return typeof this.details.field === 'string' ? this.details.field : undefined;
  }
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

const REFRESH_KEY = 'inferia.refresh_token';
/** The gateways' answers to a missing, expired or ended access token (lib/http/auth.ts, lib/sessions.ts). */
const TOKEN_REFUSED = /access token|session has ended|authentication required/i;
/** Refresh this long before the access token expires. */
const EARLY_MS = 60_000;

/** Reads `{error: {code, message, details}}` (or anything else) into an ApiError. */
export function errorFrom(status: number, body: unknown, fallback: string): ApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (e && typeof e === 'object') {
    return new ApiError(
      status,
      typeof e.code === 'string' ? e.code : 'error',
      typeof e.message === 'string' ? e.message : fallback,
      e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {},
    );
  }
  return new ApiError(status, 'error', fallback);
}

export class Api {
  private accessToken: string | null = null;
  private accessExpiresAt = 0;
  private refreshing: Promise<void> | null = null;
  /** Called when the session ends without the user asking (refresh refused). */
  onSessionLost: (() => void) | null = null;

  constructor(
    readonly config: RuntimeConfig,
    private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> = sessionStorage,
    private readonly fetchImpl: typeof fetch = (...a) => fetch(...a),
  ) {}

  get hasSession(): boolean {
    return this.accessToken !== null || this.storage.getItem(REFRESH_KEY) !== null;
  }

  private base(gateway: Gateway): string {
    return gateway === 'filtration' ? this.config.filtration_url : this.config.orchestration_url;
  }

  private store(t: TokenAnswer) {
    this.accessToken = t.access_token;
    this.accessExpiresAt = Date.now() + t.expires_in * 1000;
    this.storage.setItem(REFRESH_KEY, t.refresh_token);
  }

  private clear() {
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.storage.removeItem(REFRESH_KEY);
  }

  private async send(gateway: Gateway, method: string, path: string, body: unknown, token: string | null): Promise<Response> {
    try {
      return await this.fetchImpl(`${this.base(gateway)}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', `Cannot reach the ${gateway} gateway (${this.base(gateway)}). Is the platform up?`);
    }
  }

  private async parse<T>(res: Response): Promise<T> {
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = text;
    }
    if (!res.ok) throw errorFrom(res.status, body, `${res.status} ${res.statusText}`.trim());
    return body as T;
  }

  /** Signs in; a 401 `totp_required` ApiError means: ask for the code and call again with it. */
  async login(email: string, password: string, totpCode?: string): Promise<void> {
    const res = await this.send('filtration', 'POST', '/auth/login', { email, password, ...(totpCode ? { totp_code: totpCode } : {}) }, null);
    this.store(await this.parse<TokenAnswer>(res));
  }

  async logout(): Promise<void> {
    const token = this.accessToken;
    this.clear();
    if (token) await this.send('filtration', 'POST', '/auth/logout', undefined, token).catch(() => undefined);
  }

  /** One refresh at a time, however many requests found the token stale. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const refreshToken = this.storage.getItem(REFRESH_KEY);
      if (!refreshToken) throw new ApiError(401, 'unauthorized', 'Your session has ended. Sign in again.');
      const res = await this.send('filtration', 'POST', '/auth/refresh', { refresh_token: refreshToken }, null);
      if (res.status === 401 || res.status === 400) {
        this.clear();
        this.onSessionLost?.();
        throw new ApiError(401, 'unauthorized', 'Your session has ended. Sign in again.');
      }
      this.store(await this.parse<TokenAnswer>(res));
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async token(): Promise<string | null> {
    if (this.accessToken && Date.now() < this.accessExpiresAt - EARLY_MS) return this.accessToken;
    if (this.storage.getItem(REFRESH_KEY)) await this.refresh();
    return this.accessToken;
  }

  /** A call with the session's token; an expired token is refreshed once and the call retried. */
  async request<T>(gateway: Gateway, method: string, path: string, body?: unknown): Promise<T> {
    let res = await this.send(gateway, method, path, body, await this.token());
    if (res.status === 401 && this.storage.getItem(REFRESH_KEY)) {
      // Only a refused token is worth a refresh: a wrong TOTP code or password is a 401 too,
      // and sending it again would count as a second failure.
      const err = await this.parse<never>(res).catch((e: unknown) => e);
      if (!(err instanceof ApiError) || !TOKEN_REFUSED.test(err.message)) throw err;
      await this.refresh();
      res = await this.send(gateway, method, path, body, this.accessToken);
    }
    return this.parse<T>(res);
  }

  get<T>(path: string, gateway: Gateway = 'filtration') {
    return this.request<T>(gateway, 'GET', path);
  }
  post<T>(path: string, body: unknown = {}, gateway: Gateway = 'filtration') {
    return this.request<T>(gateway, 'POST', path, body);
  }
  put<T>(path: string, body: unknown) {
    return this.request<T>('filtration', 'PUT', path, body);
  }
  patch<T>(path: string, body: unknown) {
    return this.request<T>('filtration', 'PATCH', path, body);
  }
  del<T>(path: string, body?: unknown) {
    return this.request<T>('filtration', 'DELETE', path, body);
  }
}

/** `?a=1&b=x` from the defined values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
