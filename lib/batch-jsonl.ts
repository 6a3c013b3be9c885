// The Batch API's file formats, as OpenAI defines them: the input JSONL (one request a line) and
// the output and error JSONL the batch writes. Pure functions, shared by the gateway and the
// batch activities.

export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

export const isBatchEndpoint = (v: string): v is BatchEndpoint => (BATCH_ENDPOINTS as readonly string[]).includes(v);

/** One validated request: `index` is its position among the requests (0-based, contiguous). */
export interface BatchRequestLine {
  index: number;
  /** 1-based line number in the file, for error messages. */
  line: number;
  customId: string;
  body: Record<string, unknown>;
}

/** An entry of the Batch object's `errors.data` (OpenAI's BatchError). */
export interface BatchLineError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface ParsedBatchInput {
  requests: BatchRequestLine[];
  errors: BatchLineError[];
}

export const MAX_CUSTOM_ID_LENGTH = 512;
/** Errors reported on a batch at most: the first ones name the problem well enough. */
export const MAX_REPORTED_ERRORS = 100;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates a batch input file for `endpoint`. Every line must be a JSON object with a
 * unique `custom_id`, `method` POST, `url` equal to the endpoint and a `body` naming a `model`.
 * Blank lines are skipped. Any error fails the whole batch, as OpenAI does.
 */
export function parseBatchInput(content: Uint8Array | string, endpoint: BatchEndpoint, opts: { maxRequests: number }): ParsedBatchInput {
  const errors: BatchLineError[] = [];
  const requests: BatchRequestLine[] = [];
  const fail = (code: string, message: string, param: string | null, line: number | null) => {
    if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
  };
  let text: string;
  try {
    text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    fail('invalid_file_encoding', 'The input file is not valid UTF-8 text.', null, null);
    return { requests, errors };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const line = i + 1;
    if (requests.length + 1 > opts.maxRequests) {
      fail('too_many_requests', `The input file has more than ${opts.maxRequests} requests, the most one batch takes.`, null, line);
      break;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      fail('invalid_json_line', `Line ${line} is not valid JSON.`, null, line);
      continue;
    }
    if (!isObject(value)) {
      fail('invalid_json_line', `Line ${line} is not a JSON object.`, null, line);
      continue;
    }
    const { custom_id: customId, method, url, body } = value;
    if (typeof customId !== 'string' || customId.length === 0) {
      fail('missing_required_parameter', `Line ${line}: custom_id must be a non-empty string.`, 'custom_id', line);
      continue;
    }
    if (customId.length > MAX_CUSTOM_ID_LENGTH) {
      fail('invalid_value', `Line ${line}: custom_id is longer than ${MAX_CUSTOM_ID_LENGTH} characters.`, 'custom_id', line);
      continue;
    }
    const first = seen.get(customId);
    if (first !== undefined) {
      fail('duplicate_custom_id', `Line ${line}: custom_id ${JSON.stringify(customId)} is already used on line ${first}; each must be unique.`, 'custom_id', line);
      continue;
    }
    seen.set(customId, line);
    if (method !== 'POST') {
      fail('invalid_method', `Line ${line}: method must be POST.`, 'method', line);
      continue;
    }
    if (url !== endpoint) {
      fail('mismatched_endpoint', `Line ${line}: url ${JSON.stringify(url)} does not match the batch endpoint ${endpoint}.`, 'url', line);
      continue;
    }
    if (!isObject(body)) {
      fail('missing_required_parameter', `Line ${line}: body must be a JSON object.`, 'body', line);
      continue;
    }
    if (typeof body.model !== 'string' || body.model.length === 0) {
      fail('missing_required_parameter', `Line ${line}: body.model must be a non-empty string.`, 'body.model', line);
      continue;
    }
    if (body.stream === true) {
      fail('invalid_value', `Line ${line}: streaming is not supported in a batch (body.stream).`, 'body.stream', line);
      continue;
    }
    requests.push({ index: requests.length, line, customId, body });
  }
  if (requests.length === 0 && errors.length === 0) fail('empty_file', 'The input file has no requests.', null, null);
  return { requests, errors };
}

/** A line of the output or error file (OpenAI's batch request output). */
export interface BatchResultLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

/** A request the endpoint answered: 2xx lines go to the output file, the others to the error file. */
export function responseLine(id: string, customId: string, statusCode: number, requestId: string, bodyText: string): BatchResultLine {
  return { id, custom_id: customId, response: { status_code: statusCode, request_id: requestId, body: parseBody(bodyText, statusCode) }, error: null };
}

/** A request that got no HTTP answer (expired, unreachable): the error file, `response` null. */
export function errorLine(id: string, customId: string, code: string, message: string): BatchResultLine {
  return { id, custom_id: customId, response: null, error: { code, message } };
}

function parseBody(text: string, status: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON: keep the words, in OpenAI's error shape when it was an error.
    return status >= 200 && status < 300 ? text : { error: { message: text.slice(0, 2000), type: 'api_error', param: null, code: null } };
  }
}

/** JSON Lines: one compact object a line, newline-terminated. */
export function toJsonl(lines: readonly unknown[]): string {
  return lines.length === 0 ? '' : `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
}
