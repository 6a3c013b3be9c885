// The Temporal client every gateway uses to start, signal, update and query workflows.
import { Client, Connection } from '@temporalio/client';
import type { Config } from './config.js';
import { searchAttributes } from './temporal-names.js';

export async function createTemporalClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '10 seconds' });
  return new Client({ connection, namespace: config.temporal.namespace });
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
