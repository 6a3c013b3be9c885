// A small client for Inferia's public HTTP APIs, used by `inferia up` and the operator verbs.

/** The server answered with an error status; `code` and `serverMessage` come from its `{error:{…}}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get code(): string | undefined {
    const error = (this.body as { error?: { code?: unknown } } | undefined)?.error;
    return typeof error?.code === 'string' ? error.code : undefined;
  }

  /** The server's own message, without the request line. */
  get serverMessage(): string {
    const error = (this.body as { error?: { message?: unknown } } | undefined)?.error;
    return typeof error?.message === 'string' ? error.message : this.message;
  }
}

/** The gateway could not be reached at all (refused, DNS, timeout). */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const c = cause as { name?: string; cause?: { code?: string; message?: string } } | undefined;
    const reason = c?.name === 'TimeoutError' ? 'timed out' : (c?.cause?.code ?? c?.cause?.message ?? String(cause));
    super(`cannot reach ${url} (${reason})`);
    this.name = 'ConnectionError';
  }
}

export interface GatewayUrls {
  filtration: string;
  orchestration: string;
}

export interface ApiOptions {
  /**
   * Called once when an authenticated call answers 401: returns a new access token (the call is
   * then retried with it), or undefined to let the 401 through.
   */
  refreshToken?: () => Promise<string | undefined>;
  timeoutMs?: number;
}

/** What `POST /auth/login` and `POST /auth/refresh` answer. */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  org_id: string;
}

export class InferiaApi {
  constructor(
    readonly urls: GatewayUrls,
    private token?: string,
    private readonly options: ApiOptions = {},
  ) {}

  get accessToken(): string | undefined {
    return this.token;
  }

  setToken(token: string): void {
    this.token = token;
  }

  private async call<T>(base: string, method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const send = async (token: string | undefined) => {
      try {
        return await fetch(`${base}${path}`, {
          method,
          headers: {
            'user-agent': 'inferia-cli',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } catch (err) {
        throw new ConnectionError(base, err);
      }
    };
    const token = auth ? this.token : undefined;
    let res = await send(token);
    if (res.status === 401 && token && this.options.refreshToken) {
      const fresh = await this.options.refreshToken();
      if (fresh) {
        this.token = fresh;
        res = await send(fresh);
      }
    }
    const text = await res.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: { message: text.slice(0, 200) } };
    }
    if (!res.ok) {
      const message = (parsed as { error?: { message?: string } }).error?.message ?? res.statusText;
      throw new ApiError(res.status, parsed, `${method} ${path} → ${res.status}: ${message}`);
    }
    return parsed as T;
  }

  /** Signs in; the API then uses the new access token. Returns the whole token pair. */
  async signIn(input: { email: string; password: string; totpCode?: string; orgId?: string }): Promise<TokenPair> {
    const out = await this.call<TokenPair>(
      this.urls.filtration,
      'POST',
      '/auth/login',
      {
        email: input.email,
        password: input.password,
        ...(input.totpCode ? { totp_code: input.totpCode } : {}),
        ...(input.orgId ? { org_id: input.orgId } : {}),
      },
      false,
    );
    this.token = out.access_token;
    return out;
  }

  async login(email: string, password: string, totpCode?: string): Promise<string> {
    return (await this.signIn({ email, password, totpCode })).access_token;
  }

  /** Trades a refresh token for a new pair. Refresh tokens rotate: the one given is spent. */
  refreshSession(refreshToken: string): Promise<TokenPair> {
    return this.call<TokenPair>(this.urls.filtration, 'POST', '/auth/refresh', { refresh_token: refreshToken }, false);
  }

  orchestration<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.call<T>(this.urls.orchestration, method, path, body);
  }

  filtration<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.call<T>(this.urls.filtration, method, path, body);
  }
}

export interface DeploymentStatusView {
  deployment_id: string;
  status: string;
  status_reason: string | null;
  inference_model: string;
  workflow_id: string;
  temporal_ui_url: string;
  pool_id: string;
}

/** Polls a deployment until it is in one of `want` (or FAILED), reporting each change. */
export async function waitForStatus(
  api: InferiaApi,
  deploymentId: string,
  want: string[],
  options: { timeoutMs?: number; onChange?: (status: string, reason: string | null) => void } = {},
): Promise<DeploymentStatusView> {
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  let last = '';
  for (;;) {
    const view = await api.orchestration<DeploymentStatusView>('GET', `/deployment/status/${deploymentId}`);
    if (view.status !== last) options.onChange?.(view.status, view.status_reason);
    last = view.status;
    if (want.includes(view.status)) return view;
    if (view.status === 'FAILED' && !want.includes('FAILED')) throw new Error(`deployment failed: ${view.status_reason ?? 'unknown reason'}`);
    if (Date.now() > deadline) throw new Error(`deployment still ${view.status} after ${(options.timeoutMs ?? 180_000) / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
