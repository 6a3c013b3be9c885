// What every operator verb shares: exit codes, errors, argument parsing and output (tables for
// people on stdout, progress and messages on stderr, one JSON document on stdout with --json).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiError, ConnectionError } from '../api-client.js';

/** Exit codes, documented in `inferia --help` and the README. */
export const EXIT = {
  ok: 0,
  /** Bad usage, a server error, or anything else that went wrong. */
  error: 1,
  /** Not logged in, or the session ended: run `inferia login`. */
  auth: 2,
  /** The deployment being waited on became FAILED. */
  failed: 3,
  /** `--timeout` passed before the deployment reached the wanted state. */
  timeout: 4,
  interrupted: 130,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.error);
    this.name = 'UsageError';
  }
}

export const authError = (message: string) => new CliError(message, EXIT.auth, "run 'inferia login' to sign in");

/** An error as the person at the terminal should read it, and the exit code it earns. */
export function describeFailure(err: unknown): { message: string; exitCode: number; hint?: string } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode, hint: err.hint };
  if (err instanceof ApiError) {
    const what = `HTTP ${err.status}${err.code ? ` ${err.code}` : ''}`;
    if (err.status === 401) return { message: `${err.serverMessage} (${what})`, exitCode: EXIT.auth, hint: "run 'inferia login' to sign in again" };
    return { message: `${err.serverMessage} (${what})`, exitCode: EXIT.error };
  }
  if (err instanceof ConnectionError) {
    return { message: err.message, exitCode: EXIT.error, hint: 'is the platform running? The gateway URLs come from --url / INFERIA_URL or the last login' };
  }
  return { message: (err as Error)?.message ?? String(err), exitCode: EXIT.error };
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Options every operator verb takes. */
export const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  url: { type: 'string' },
  'orchestration-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

export const GLOBAL_HELP = `global options:
  --json                     machine-readable output: one JSON document on stdout
  --url URL                  filtration gateway (INFERIA_URL; default: the last login, else http://127.0.0.1:8000)
  --orchestration-url URL    orchestration gateway, for logs (INFERIA_ORCHESTRATION_URL; default: the last login)
  -h, --help                 this help`;

/** Parses a verb's arguments (strictly: an unknown flag is a usage error). */
export function parse<O extends OptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    // Node adds advice on positionals that start with '-'; the first sentence is the news.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intOption(name: string, raw: string | undefined, range: { min: number; max: number }): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${name}: must be a whole number from ${range.min} to ${range.max}, got '${raw}'`);
  }
  return n;
}

export function expectPositionals(positionals: string[], names: string[], optional = 0): string[] {
  const required = names.length - optional;
  if (positionals.length < required) throw new UsageError(`missing ${names.slice(positionals.length, required).join(' ')}`);
  if (positionals.length > names.length) throw new UsageError(`unexpected argument '${positionals[names.length]}'`);
  return positionals;
}

const colorOn = (stream: NodeJS.WriteStream) => stream.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number) => (s: string, stream: NodeJS.WriteStream) => (colorOn(stream) ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint(32);
const red = paint(31);
const yellow = paint(33);
const dim = paint(2);

/** Colours a status word when the stream is a terminal. */
export function statusText(status: string, stream: NodeJS.WriteStream = process.stdout): string {
  if (status === 'RUNNING' || status === 'ACTIVE' || status === 'READY' || status === 'active') return green(status, stream);
  if (status === 'FAILED' || status === 'UNHEALTHY' || status === 'revoked' || status === 'expired') return red(status, stream);
  if (status === 'STOPPED' || status === 'TERMINATED' || status === 'DELETED') return dim(status, stream);
  return yellow(status, stream);
}

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;

export class Output {
  constructor(readonly json: boolean) {}

  /** A message for the person: stderr, so stdout stays clean for data. */
  info(line = ''): void {
    process.stderr.write(`${line}\n`);
  }

  /** A line of the command's result on stdout. */
  print(line = ''): void {
    process.stdout.write(`${line}\n`);
  }

  /** The one JSON document of --json. */
  document(doc: unknown): void {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }

  /** One JSON object per line (streams: `logs -f --json`). */
  jsonLine(obj: unknown): void {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  }

  table(headers: string[], rows: string[][], empty = '(none)'): void {
    if (rows.length === 0) {
      this.info(empty);
      return;
    }
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c))))
        .join('  ')
        .trimEnd();
    this.print(line(headers));
    for (const r of rows) this.print(line(r));
  }
}

const span = (s: number) =>
  s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86_400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`;

/** An ISO time as `5m ago` (or `in 3d` for the future); `-` for none. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(s)) return '-';
  return s < 0 ? `in ${span(-s)}` : `${span(s)} ago`;
}

export const shortId = (id: string) => id.slice(0, 8);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A verb of the `inferia` command. */
export interface Command {
  /** One line for `inferia --help`. */
  summary: string;
  /** The verb's own `--help`. */
  usage: string;
  run(argv: string[]): Promise<number>;
}
