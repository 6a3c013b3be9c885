// Gateways log each workflow call they make, with the workflow id as a field of a JSON line.
import { Writable } from 'node:stream';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions } from './logger.js';
import { clientInterceptors, WorkflowCallLogInterceptor } from './temporal.js';

type StartArgs = Parameters<NonNullable<WorkflowClientInterceptor['start']>>;
type SignalArgs = Parameters<NonNullable<WorkflowClientInterceptor['signal']>>;
type UpdateArgs = Parameters<NonNullable<WorkflowClientInterceptor['startUpdate']>>;

describe('WorkflowCallLogInterceptor', () => {
  it('writes one line per start, signal and update naming the workflow', async () => {
    const lines: Record<string, unknown>[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const i = new WorkflowCallLogInterceptor(pino(loggerOptions('orchestration', 'info'), out));
    const runId = await i.start(
      { workflowType: 'deploymentWorkflow', headers: {}, options: { workflowId: 'deployment:d1', taskQueue: 'q' } } as unknown as StartArgs[0],
      (async () => 'run-1') as StartArgs[1],
    );
    expect(runId).toBe('run-1');
    await i.signal({ signalName: 'nodeEvent', workflowExecution: { workflowId: 'deployment:d1' }, args: [], headers: {} } as unknown as SignalArgs[0], (async () => undefined) as SignalArgs[1]);
    await i.startUpdate(
      { updateName: 'scale', workflowExecution: { workflowId: 'deployment:d1' }, args: [], headers: {}, options: {} } as unknown as UpdateArgs[0],
      (async () => ({ updateId: 'u', workflowRunId: 'run-1', outcome: undefined })) as unknown as UpdateArgs[1],
    );
    expect(lines).toMatchObject([
      { level: 30, service: 'orchestration', msg: 'workflow started', workflowId: 'deployment:d1', runId: 'run-1', workflowType: 'deploymentWorkflow' },
      { msg: 'workflow signalled', workflowId: 'deployment:d1', signal: 'nodeEvent' },
      { msg: 'workflow update sent', workflowId: 'deployment:d1', update: 'scale' },
    ]);
    expect(lines[0]).not.toHaveProperty('trace_id'); // tracing is off
  });

  it('adds no OpenTelemetry interceptor while tracing is off', async () => {
    expect((await clientInterceptors()).workflow).toEqual([]);
    expect(((await clientInterceptors({ info: () => undefined })).workflow as unknown[]).map((w) => w?.constructor.name)).toEqual(['WorkflowCallLogInterceptor']);
  });
});
