// The worker's logs as JSON lines (pino, like the gateways): Temporal's Runtime logger receives
// what workflows (`log` from @temporalio/workflow), activities (`log` from @temporalio/activity),
// the worker and the SDK core say, with the SDK's fields (workflowId, runId, workflowType,
// activityType, activityId, attempt, taskQueue) as structured fields of the line.
import type { LogLevel, LogMetadata, Logger } from '@temporalio/worker';
import { pino, type Logger as Pino } from 'pino';
import { loggerOptions } from '../lib/logger.js';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Fields of one SDK log call as they go in the line: `runId` everywhere (activities say `workflowRunId`), errors as `err`. */
export function logFields(meta: LogMetadata | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...meta };
  if (fields.workflowRunId !== undefined && fields.runId === undefined) {
    fields.runId = fields.workflowRunId;
    delete fields.workflowRunId;
  }
  if (fields.error instanceof Error && fields.err === undefined) {
    fields.err = fields.error;
    delete fields.error;
  }
  return fields;
}

export class TemporalPinoLogger implements Logger {
  constructor(
    readonly pino: Pino,
    /** The SDK's own INFO lines (bundle built, worker state changes) drown the console: they go out at debug. */
    private readonly quietSdk = true,
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fields = logFields(meta);
    let at = LEVELS[level] ?? 'info';
    if (this.quietSdk && at === 'info' && (fields.sdkComponent === 'worker' || fields.sdkComponent === 'core')) at = 'debug';
    this.pino[at](fields, message);
  }
  trace(message: string, meta?: LogMetadata) {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata) {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata) {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata) {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata) {
    this.log('ERROR', message, meta);
  }
}

export function createWorkerLogger(level: string, destination?: NodeJS.WritableStream): TemporalPinoLogger {
  const base = destination ? pino(loggerOptions('worker', level), destination) : pino(loggerOptions('worker', level));
  return new TemporalPinoLogger(base);
}
