// A small client for Inferia's public HTTP APIs, used by `inferia up` (and the operator verbs).
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class InferiaApi {
  constructor(
    private readonly urls: { filtration: string; orchestration: string },
    private token?: string,
  ) {}

  private async call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (!res.ok) {
      const message = (parsed as { error?: { message?: string } }).error?.message ?? res.statusText;
      throw new ApiError(res.status, parsed, `${method} ${path} → ${res.status}: ${message}`);
    }
    return parsed as T;
  }

  async login(email: string, password: string, totpCode?: string): Promise<string> {
    const out = await this.call<{ access_token: string }>(this.urls.filtration, 'POST', '/auth/login', {
      email,
      password,
      ...(totpCode ? { totp_code: totpCode } : {}),
    });
    this.token = out.access_token;
    return out.access_token;
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
