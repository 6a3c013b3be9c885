// `inferia logs`: a deployment's engine output, recent lines or followed live over the
// orchestration gateway's WebSocket (a short-lived ticket from /deployment/logs/{id}/stream).
import WebSocket from 'ws';
import { ApiError, ConnectionError, type InferiaApi } from '../api-client.js';
import { EXIT, GLOBAL_HELP, Output, expectPositionals, intOption, parse, sleep, type Command } from '../cli/cli.js';
import { resolveDeployment } from '../cli/resources.js';
import { Session } from '../cli/session.js';

interface LogEntry {
  id: string;
  ts: string | null;
  replica: number;
  instance: string | null;
  line: string;
}

/** Redis stream ids (`<ms>-<seq>`) in order. */
export function compareEntryIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Recent lines, oldest first. From the orchestration gateway (any tail); when it cannot be
 * reached, from the filtration gateway's /management route (its last 200 lines).
 */
async function recent(api: InferiaApi, out: Output, id: string, tail: number): Promise<LogEntry[]> {
  try {
    return (await api.orchestration<{ lines: LogEntry[] }>('GET', `/deployment/logs/${id}?tail=${tail}`)).lines;
  } catch (err) {
    if (!(err instanceof ConnectionError)) throw err;
    out.info(`note: ${err.message}; reading the last lines through ${api.urls.filtration} instead (following needs the orchestration gateway: --orchestration-url)`);
    return (await api.filtration<{ lines: LogEntry[] }>('GET', `/management/deployments/${id}/logs`)).lines.slice(-tail);
  }
}

export const logs: Command = {
  summary: "a deployment's engine output; -f follows it live (Ctrl-C ends)",
  usage: `usage: inferia logs DEPLOYMENT [-f] [--tail N] [--replica N] [--timestamps]

Prints the engine output of every replica, oldest first, each line tagged with its replica.
DEPLOYMENT is a deployment id, a unique prefix of one, or its inference model name.

options:
  -f, --follow      keep streaming new lines as they arrive (reconnects when the stream drops;
                    Ctrl-C ends it with exit code 0)
  --tail N          how many recent lines to show first (default 100, 0 with -f: only new ones)
  --replica N       only this replica's lines
  --timestamps      prefix each line with its time

With --json: one document {deployment_id, lines}; with -f, one JSON object per line
({id, ts, replica, instance, line}). Logs come from the orchestration gateway
(--orchestration-url, INFERIA_ORCHESTRATION_URL, or the one stored at login).

${GLOBAL_HELP}
`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      follow: { type: 'boolean', short: 'f' },
      tail: { type: 'string' },
      replica: { type: 'string' },
      timestamps: { type: 'boolean' },
    });
    const [ref] = expectPositionals(positionals, ['DEPLOYMENT']);
    const tail = intOption('tail', values.tail, { min: values.follow ? 0 : 1, max: 5000 }) ?? 100;
    const replica = intOption('replica', values.replica, { min: 0, max: 63 });
    const out = new Output(values.json === true);
    const { api } = await Session.open(values);
    const id = await resolveDeployment(api, ref!);
    const wanted = (e: LogEntry) => replica === undefined || e.replica === replica;
    const show = (e: LogEntry) => {
      if (out.json) out.jsonLine(e);
      else out.print(`${values.timestamps && e.ts ? `${e.ts} ` : ''}[r${e.replica}] ${e.line}`);
    };

    const fetched = await recent(api, out, id, Math.max(tail, 1));
    const backlog = (tail > 0 ? fetched : []).filter(wanted);
    if (!values.follow) {
      if (out.json) out.document({ deployment_id: id, lines: backlog });
      else {
        for (const e of backlog) show(e);
        if (backlog.length === 0) out.info('No log lines yet.');
      }
      return EXIT.ok;
    }
    for (const e of backlog) show(e);
    return follow(api, out, id, { last: fetched.at(-1)?.id ?? '0-0', wanted, show });
  },
};

/** Streams until Ctrl-C (or SIGTERM), reconnecting with a new ticket when the socket drops. */
async function follow(
  api: InferiaApi,
  out: Output,
  id: string,
  opts: { last: string; wanted: (e: LogEntry) => boolean; show: (e: LogEntry) => void },
): Promise<number> {
  let last = opts.last;
  let stopping = false;
  let socket: WebSocket | undefined;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopping = true;
    socket?.close(1000);
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (let attempt = 0; !stopping; attempt++) {
      if (attempt > 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(Math.min(5000, 500 * attempt)).then(() => resolve());
        });
        if (stopping) break;
      }
      let info: { websocket_url: string };
      try {
        info = await api.orchestration<{ websocket_url: string }>('GET', `/deployment/logs/${id}/stream`);
      } catch (err) {
        // A gateway restarting is waited out; anything else (404, 401 after refresh) ends the command.
        if (attempt === 0 || !(err instanceof ConnectionError || (err instanceof ApiError && err.status >= 500))) throw err;
        out.info(`log stream unavailable (${err.message}); retrying …`);
        continue;
      }
      if (stopping) break;
      const closed = await new Promise<{ code: number; reason: string; opened: boolean }>((resolve) => {
        let opened = false;
        const ws = new WebSocket(info.websocket_url);
        socket = ws;
        ws.on('open', () => {
          opened = true;
          attempt = 0;
        });
        ws.on('message', (data: WebSocket.RawData) => {
          let entry: LogEntry;
          try {
            entry = JSON.parse(data.toString()) as LogEntry;
          } catch {
            return;
          }
          if (compareEntryIds(entry.id, last) <= 0) return; // already shown (the socket replays recent lines)
          last = entry.id;
          if (opts.wanted(entry)) opts.show(entry);
        });
        ws.on('error', () => undefined); // 'close' follows
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), opened }));
      });
      socket = undefined;
      if (!stopping) out.info(`log stream closed (${closed.code}${closed.reason ? ` ${closed.reason}` : ''}); reconnecting …`);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return EXIT.ok;
}
