// The worker's log lines are JSON with the SDK's ids as fields, like the gateways' lines.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createWorkerLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, out };
}

describe('worker logger', () => {
  it('writes an activity log call as one JSON line with workflowId, runId and activityType', () => {
    const { lines, out } = capture();
    const logger = createWorkerLogger('info', out);
    // What @temporalio/activity's `log.info` hands the Runtime logger.
    logger.info('replica started', {
      sdkComponent: 'activity',
      namespace: 'default',
      taskQueue: 'inferia-orchestration',
      workflowId: 'deployment:d1',
      workflowRunId: 'run-1',
      workflowType: 'deploymentWorkflow',
      activityId: '3',
      activityType: 'startReplica',
      attempt: 1,
      isLocal: false,
      deploymentId: 'd1',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      service: 'worker',
      msg: 'replica started',
      sdkComponent: 'activity',
      workflowId: 'deployment:d1',
      runId: 'run-1',
      workflowType: 'deploymentWorkflow',
      activityType: 'startReplica',
      deploymentId: 'd1',
    });
    expect(lines[0]).not.toHaveProperty('workflowRunId');
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('keeps workflow lines, quiets the SDK\'s own info lines, serialises errors', () => {
    const { lines, out } = capture();
    const logger = createWorkerLogger('info', out);
    logger.info('deployment status', { sdkComponent: 'workflow', workflowId: 'deployment:d1', runId: 'run-1', workflowType: 'deploymentWorkflow', status: 'RUNNING' });
    logger.info('Workflow bundle created', { sdkComponent: 'worker' });
    logger.warn('provider resources unavailable', { sdkComponent: 'activity', error: new Error('boom') });
    expect(lines.map((l) => l.msg)).toEqual(['deployment status', 'provider resources unavailable']);
    expect(lines[0]).toMatchObject({ workflowId: 'deployment:d1', runId: 'run-1', status: 'RUNNING' });
    expect(lines[1]).toMatchObject({ level: 40, err: { message: 'boom', type: 'Error' } });
  });
});
