// `inferia login`, `logout`, `whoami`: the operator's session with the filtration gateway.
import { ApiError, InferiaApi, type TokenPair } from '../api-client.js';
import { CliError, EXIT, GLOBAL_HELP, Output, UsageError, expectPositionals, parse, type Command } from '../cli/cli.js';
import { credentialsPath, deleteCredentials, readCredentials, writeCredentials } from '../cli/credentials.js';
import { canPrompt, prompt, promptHidden, readStdin } from '../cli/prompt.js';
import {
  DEFAULT_FILTRATION_URL,
  Session,
  credentialsFrom,
  defaultOrchestrationUrl,
  requestedFiltrationUrl,
  requestedOrchestrationUrl,
} from '../cli/session.js';

interface Me {
  user_id: string;
  email: string;
  name: string | null;
  org_id: string;
  role: string;
  totp_enabled: boolean;
}

const LOGIN_USAGE = `usage: inferia login [--email EMAIL] [--password-stdin] [--totp CODE] [--url URL] [--orchestration-url URL]

Signs in to the filtration gateway and stores the session in ${credentialsPath()}
(mode 0600; INFERIA_HOME moves it). The password is asked for at a terminal (not echoed), or
read from stdin with --password-stdin. With two-factor authentication on, pass --totp CODE or
answer the prompt. Access tokens are refreshed automatically.

options:
  --email EMAIL              the account (asked for at a terminal when missing)
  --password-stdin           read the password from stdin
  --totp CODE                the current 6-digit code of your authenticator
  --org ORG_ID               sign in to this organization (default: your first)

The orchestration gateway (used by 'inferia logs') defaults to the same host on port 8080.

examples:
  inferia login --email admin@inferia.local
  echo "$PASSWORD" | inferia login --email ops@example.com --password-stdin --url https://inferia.example.com

${GLOBAL_HELP}
`;

/** A refused sign-in is the answer itself: no advice to sign in again. */
const signInFailure = (err: unknown) =>
  err instanceof ApiError && err.status === 401 ? new CliError(`${err.serverMessage} (HTTP 401${err.code ? ` ${err.code}` : ''})`, EXIT.auth) : err;

export const login: Command = {
  summary: 'sign in and store the session (password prompted, or --password-stdin)',
  usage: LOGIN_USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      email: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      totp: { type: 'string' },
      org: { type: 'string' },
    });
    expectPositionals(positionals, []);
    const out = new Output(values.json === true);
    const previous = (() => {
      try {
        return readCredentials();
      } catch {
        return undefined;
      }
    })();
    const filtration = requestedFiltrationUrl(values, process.env) ?? previous?.filtration_url ?? DEFAULT_FILTRATION_URL;
    const sameGateway = previous?.filtration_url === filtration;
    const orchestration =
      requestedOrchestrationUrl(values, process.env) ?? (sameGateway ? previous?.orchestration_url : undefined) ?? defaultOrchestrationUrl(filtration);

    let email = values.email;
    if (!email) {
      if (!canPrompt()) throw new UsageError('--email is required when stdin is not a terminal');
      email = await prompt(`Email${previous?.email && sameGateway ? ` [${previous.email}]` : ''}: `);
      if (!email && sameGateway) email = previous?.email;
      if (!email) throw new UsageError('an email is required');
    }
    let password: string;
    if (values['password-stdin']) password = await readStdin();
    else if (canPrompt()) password = await promptHidden('Password: ');
    else throw new UsageError('no terminal to ask for the password: pipe it in with --password-stdin');
    if (!password) throw new UsageError('the password is empty');
    if (values.totp !== undefined && !/^\d{6}$/.test(values.totp)) throw new UsageError('--totp: must be the 6-digit code');

    const api = new InferiaApi({ filtration, orchestration });
    let pair: TokenPair;
    try {
      pair = await api.signIn({ email, password, totpCode: values.totp, orgId: values.org });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'totp_required')) throw signInFailure(err);
      if (!canPrompt()) throw new CliError('this account uses two-factor authentication: pass --totp CODE', EXIT.auth);
      const code = await promptHidden('Two-factor code: ');
      pair = await api.signIn({ email, password, totpCode: code.trim(), orgId: values.org }).catch((e: unknown) => {
        throw signInFailure(e);
      });
    }
    const me = await api.filtration<Me>('GET', '/auth/me');
    const credentials = credentialsFrom(pair, { filtration_url: filtration, orchestration_url: orchestration, email: me.email, user_id: me.user_id, role: me.role });
    const file = writeCredentials(credentials);

    const reachable = await fetch(`${orchestration}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => r.ok,
      () => false,
    );
    const summary = { filtration_url: filtration, orchestration_url: orchestration, orchestration_reachable: reachable, email: me.email, user_id: me.user_id, org_id: me.org_id, role: me.role, expires_at: credentials.expires_at, credentials_file: file };
    if (out.json) out.document(summary);
    else out.info(`Logged in to ${filtration} as ${me.email} (role ${me.role}, org ${me.org_id}).`);
    if (!reachable) out.info(`warning: the orchestration gateway does not answer at ${orchestration}; 'inferia logs' needs it: log in again with --orchestration-url URL`);
    return EXIT.ok;
  },
};

export const logout: Command = {
  summary: 'end the session on the server and forget it here',
  usage: `usage: inferia logout

Ends the session on the server (its refresh tokens stop working) and deletes the local
credentials file. Works offline too: the local session is forgotten regardless.

${GLOBAL_HELP}
`,
  async run(argv) {
    const { values, positionals } = parse(argv, {});
    expectPositionals(positionals, []);
    const out = new Output(values.json === true);
    const stored = readCredentials();
    if (!stored) {
      if (out.json) out.document({ logged_out: false, reason: 'not logged in' });
      else out.info('Not logged in.');
      return EXIT.ok;
    }
    let serverEnded = true;
    let reason: string | undefined;
    try {
      const session = await Session.open({});
      await session.api.filtration('POST', '/auth/logout');
    } catch (err) {
      serverEnded = false;
      reason = err instanceof ApiError ? err.serverMessage : (err as Error).message;
    }
    deleteCredentials();
    if (out.json) out.document({ logged_out: true, server_session_ended: serverEnded, ...(reason ? { reason } : {}) });
    else out.info(serverEnded ? `Logged out of ${stored.filtration_url}.` : `Logged out here; the server session could not be ended (${reason}).`);
    return EXIT.ok;
  },
};

export const whoami: Command = {
  summary: 'show the signed-in user, role and organization',
  usage: `usage: inferia whoami

Shows who the stored session signs in as (it checks with the server).

${GLOBAL_HELP}
`,
  async run(argv) {
    const { values, positionals } = parse(argv, {});
    expectPositionals(positionals, []);
    const out = new Output(values.json === true);
    const session = await Session.open(values);
    const me = await session.api.filtration<Me>('GET', '/auth/me');
    if (out.json) out.document({ ...me, filtration_url: session.api.urls.filtration, orchestration_url: session.api.urls.orchestration });
    else {
      out.print(`${me.email} (${me.role}) in org ${me.org_id}`);
      out.print(`filtration:    ${session.api.urls.filtration}`);
      out.print(`orchestration: ${session.api.urls.orchestration}`);
      out.print(`2FA:           ${me.totp_enabled ? 'on' : 'off'}`);
    }
    return EXIT.ok;
  },
};
