// The Temporal client every gateway uses to start, signal, update and query workflows.
import { trace } from '@opentelemetry/api';
import { Client, Connection, type ClientInterceptors, type WorkflowClientInterceptor } from '@temporalio/client';
import type { Config } from './config.js';
import { searchAttributes } from './temporal-names.js';
import { tracingEnabled } from './tracing.js';

/** What a gateway logs workflow calls with (its pino logger). */
export interface WorkflowCallLog {
  info(obj: object, msg: string): void;
}

const traceId = () => {
  const id = trace.getActiveSpan()?.spanContext().traceId;
  return id ? { trace_id: id } : {};
};

/** One log line per workflow start, signal and update a gateway makes, naming the workflow. */
export class WorkflowCallLogInterceptor implements WorkflowClientInterceptor {
  constructor(private readonly log: WorkflowCallLog) {}

  async start(input: Parameters<NonNullable<WorkflowClientInterceptor['start']>>[0], next: Parameters<NonNullable<WorkflowClientInterceptor['start']>>[1]) {
    const runId = await next(input);
    this.log.info({ workflowId: input.options.workflowId, runId, workflowType: input.workflowType, ...traceId() }, 'workflow started');
    return runId;
  }

  async signal(input: Parameters<NonNullable<WorkflowClientInterceptor['signal']>>[0], next: Parameters<NonNullable<WorkflowClientInterceptor['signal']>>[1]) {
    await next(input);
    this.log.info({ workflowId: input.workflowExecution.workflowId, signal: input.signalName, ...traceId() }, 'workflow signalled');
  }

  async startUpdate(
    input: Parameters<NonNullable<WorkflowClientInterceptor['startUpdate']>>[0],
    next: Parameters<NonNullable<WorkflowClientInterceptor['startUpdate']>>[1],
  ) {
    this.log.info({ workflowId: input.workflowExecution.workflowId, update: input.updateName, ...traceId() }, 'workflow update sent');
    return next(input);
  }

  async startUpdateWithStart(
    input: Parameters<NonNullable<WorkflowClientInterceptor['startUpdateWithStart']>>[0],
    next: Parameters<NonNullable<WorkflowClientInterceptor['startUpdateWithStart']>>[1],
  ) {
    const w = input.workflowStartOptions;
    this.log.info({ workflowId: w.workflowId, workflowType: input.workflowType, update: input.updateName, ...traceId() }, 'workflow update-with-start sent');
    return next(input);
  }
}

/**
 * The interceptors of a gateway's Temporal client: a log line per workflow call and, when tracing
 * is on, a span per call whose context travels to the workflow in its headers.
 */
export async function clientInterceptors(log?: WorkflowCallLog): Promise<ClientInterceptors> {
  const workflow: WorkflowClientInterceptor[] = [];
  if (tracingEnabled()) {
    const { OpenTelemetryWorkflowClientInterceptor } = await import('@temporalio/interceptors-opentelemetry');
    workflow.push(new OpenTelemetryWorkflowClientInterceptor());
  }
  if (log) workflow.push(new WorkflowCallLogInterceptor(log));
  return { workflow };
}

export async function createTemporalClient(config: Config, log?: WorkflowCallLog): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '10 seconds' });
  return new Client({ connection, namespace: config.temporal.namespace, interceptors: await clientInterceptors(log) });
}

/** Link to a workflow in the Temporal UI. */
export function temporalUiLink(config: Config, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

/**
 * Registers Inferia's custom search attributes on the namespace when they are missing, so an
 * external Temporal cluster works without a manual step (the dev server gets them as flags).
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.values(searchAttributes)
    .map((k) => k.name)
    .filter((name) => !have.has(name));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  }
  return missing;
}
