// Follows a deployment until it reaches what the operator waits for, printing progress on
// stderr: the deployment's events (status transitions with reasons, scaling, replacements) and
// replica counts as they change.
import type { InferiaApi } from '../api-client.js';
import { CliError, EXIT, type Output, shortId, sleep, statusText } from './cli.js';
import { getDeployment, replicaCounts, type DeploymentDetail, type DeploymentEvent } from './resources.js';

export interface WatchOptions {
  out: Output;
  /** True when the wait is over. FAILED ends it too (unless `done` accepts it). */
  done: (d: DeploymentDetail) => boolean;
  /** What the operator waits for, for messages (`RUNNING`, `STOPPED` …). */
  goal: string;
  /** 0: no limit. */
  timeoutMs: number;
  /** Events already there before the command acted are not news. */
  since?: DeploymentDetail;
  intervalMs?: number;
}

export type WatchOutcome = { outcome: 'done' | 'failed' | 'timeout'; detail: DeploymentDetail };

const eventKey = (e: DeploymentEvent) => `${e.at}|${e.kind}|${e.message}`;
const clock = (iso: string) => new Date(iso).toTimeString().slice(0, 8);

export async function watchDeployment(api: InferiaApi, id: string, opts: WatchOptions): Promise<WatchOutcome> {
  const { out } = opts;
  const seen = new Set((opts.since?.events ?? []).map(eventKey));
  const started = Date.now();
  let lastReplicas = opts.since ? replicaCounts(opts.since).text : '';
  let lastStatus = opts.since?.status ?? '';
  // Starting a FAILED deployment: its old FAILED is not this wait's failure.
  let failedBefore = opts.since?.status === 'FAILED';

  // Ctrl-C stops watching, not the deployment.
  const onSigint = () => {
    out.info(`\nStopped watching; the deployment carries on. Follow it with: inferia status ${shortId(id)}`);
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      const d = await getDeployment(api, id);
      const fresh = d.events.filter((e) => !seen.has(eventKey(e))).reverse(); // the API answers newest first
      for (const e of fresh) {
        seen.add(eventKey(e));
        const [word = '', ...rest] = e.message.split(':');
        const message = e.kind === 'status' ? [statusText(word, process.stderr), ...rest].join(':') : e.message;
        out.info(`  ${clock(e.at)}  ${e.kind.padEnd(8)}  ${message}`);
      }
      if (d.status !== lastStatus && !fresh.some((e) => e.kind === 'status')) {
        out.info(`  ${clock(new Date().toISOString())}  ${'status'.padEnd(8)}  ${statusText(d.status, process.stderr)}${d.status_reason ? `: ${d.status_reason}` : ''}`);
      }
      lastStatus = d.status;
      const replicas = replicaCounts(d).text;
      if (replicas !== lastReplicas) out.info(`  ${clock(new Date().toISOString())}  ${'replicas'.padEnd(8)}  ${replicas}`);
      lastReplicas = replicas;

      if (opts.done(d)) return { outcome: 'done', detail: d };
      if (d.status !== 'FAILED' || fresh.some((e) => e.kind === 'status' && e.message.startsWith('FAILED'))) failedBefore = false;
      else if (!failedBefore) return { outcome: 'failed', detail: d };
      if (opts.timeoutMs > 0 && Date.now() - started > opts.timeoutMs) return { outcome: 'timeout', detail: d };
      await sleep(opts.intervalMs ?? 1000);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The exit code of a finished wait; a message on stderr for a failure or a timeout. */
export function waitExitCode(result: WatchOutcome, opts: { out: Output; goal: string; timeoutMs: number }): number {
  const d = result.detail;
  switch (result.outcome) {
    case 'done':
      return EXIT.ok;
    case 'failed':
      opts.out.info(`Deployment ${shortId(d.deployment_id)} (${d.inference_model}) FAILED: ${d.status_reason ?? 'no reason given'}`);
      return EXIT.failed;
    case 'timeout':
      opts.out.info(
        `Timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${opts.goal} (now ${d.status}, replicas ${replicaCounts(d).text}); it carries on: inferia status ${shortId(d.deployment_id)}`,
      );
      return EXIT.timeout;
    default:
      throw new CliError(`unexpected outcome ${String(result.outcome)}`);
  }
}
