// The signed-in session of the operator CLI: one file, readable by its owner only
// ($INFERIA_HOME/credentials.json, else ~/.config/inferia/credentials.json).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, sleep } from './cli.js';

export interface Credentials {
  filtration_url: string;
  orchestration_url: string;
  email: string;
  user_id: string | null;
  org_id: string;
  role: string | null;
  access_token: string;
  refresh_token: string;
  /** When the access token expires (ISO time); the CLI refreshes shortly before. */
  expires_at: string;
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.INFERIA_HOME) return join(env.INFERIA_HOME, 'credentials.json');
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'inferia', 'credentials.json');
}

export function readCredentials(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const file = credentialsPath(env);
  if (!existsSync(file)) return undefined;
  let parsed: Partial<Credentials>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 1, "run 'inferia logout' and 'inferia login' again");
  }
  if (!parsed.filtration_url || !parsed.access_token || !parsed.refresh_token) {
    throw new CliError(`${file} is incomplete`, 1, "run 'inferia login' again");
  }
  return parsed as Credentials;
}

/** Written to a new file (mode 0600) then renamed over the old one: never half-written, never readable by others. */
export function writeCredentials(credentials: Credentials, env: NodeJS.ProcessEnv = process.env): string {
  const file = credentialsPath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

export function deleteCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = credentialsPath(env);
  if (!existsSync(file)) return false;
  rmSync(file, { force: true });
  return true;
}

/**
 * Runs `fn` holding the credentials lock. Refresh tokens rotate and a spent one presented again
 * ends the whole session, so two CLI processes must never refresh with the same token at once.
 */
export async function withCredentialsLock<T>(fn: () => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const lock = `${credentialsPath(env)}.lock`;
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 15_000;
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a process that died mid-refresh.
      const stale = (() => {
        try {
          return Date.now() - statSync(lock).mtimeMs > 30_000;
        } catch {
          return true;
        }
      })();
      if (stale) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new CliError(`timed out waiting for ${lock}; remove it if no other inferia command is running`);
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    closeSync(fd);
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}
