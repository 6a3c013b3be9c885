// The worker is a process like the others: with WORKER_METRICS_ADDRESS it serves Prometheus
// metrics (from the Temporal SDK core), which is also what compose and Kubernetes probe.
import { afterAll, describe, expect, it } from 'vitest';
import { Supervisor } from '../../lib/local-services/supervisor.js';
import { createTemporalClient } from '../../lib/temporal.js';
import { reconcileScheduleId } from '../../worker/schedules.js';
import { freePort, testConfig, uniq, waitFor } from '../helpers/env.js';

const supervisor = new Supervisor({ color: false, quiet: true });
const taskQueue = uniq('metrics');
afterAll(async () => {
  await supervisor.stopAll();
  // The worker registered reconcile schedules for its own task queue: remove them.
  const temporal = await createTemporalClient(testConfig({ TEMPORAL_TASK_QUEUE: taskQueue }));
  for (const provider of ['local', 'kubernetes', 'skypilot', 'nosana', 'akash']) {
    await temporal.schedule.getHandle(reconcileScheduleId(provider, taskQueue)).delete().catch(() => undefined);
  }
  await temporal.connection.close();
});

describe('worker metrics', () => {
  it('serves Temporal worker metrics in Prometheus text', async () => {
    const port = await freePort();
    supervisor.start({
      name: 'worker',
      script: 'worker/main.ts',
      env: { ...process.env, TEMPORAL_TASK_QUEUE: taskQueue, WORKER_METRICS_ADDRESS: `127.0.0.1:${port}`, RECONCILE_INTERVAL_SECONDS: '3600', LOG_LEVEL: 'warn' },
    });
    const text = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      const body = res?.ok ? await res.text() : '';
      return body.includes('temporal_') ? body : undefined;
    }, 60_000);
    expect(text).toMatch(/^# (HELP|TYPE) temporal_/m);
    expect(text).toMatch(/temporal_worker_task_slots_available|temporal_num_pollers|temporal_request/);
  }, 90_000);
});
