import { describe, expect, it } from 'vitest';
import { MAX_REPORTED_ERRORS, errorLine, parseBatchInput, responseLine, toJsonl } from './batch-jsonl.js';

const chat = (customId: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'mock', messages: [{ role: 'user', content: 'hi' }] }, ...extra });

const parse = (text: string | Uint8Array, maxRequests = 100) => parseBatchInput(text, '/v1/chat/completions', { maxRequests });

describe('parseBatchInput', () => {
  it('reads one request a line, skipping blank lines and a BOM, with contiguous indexes and file line numbers', () => {
    const out = parse(`\ufeff${chat('a')}\n\n${chat('b')}\r\n${chat('c')}\n`);
    expect(out.errors).toEqual([]);
    expect(out.requests.map((r) => [r.index, r.line, r.customId])).toEqual([
      [0, 1, 'a'],
      [1, 3, 'b'],
      [2, 4, 'c'],
    ]);
    expect(out.requests[0]!.body).toEqual({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('names the line, the parameter and the problem for each bad line', () => {
    const lines = [
      chat('ok'),
      '{"custom_id": "x", "method": "POST"', // not JSON
      '[1, 2]',
      chat(''),
      chat('ok'),
      chat('get', { method: 'GET' }),
      chat('wrong-url', { url: '/v1/embeddings' }),
      JSON.stringify({ custom_id: 'no-body', method: 'POST', url: '/v1/chat/completions' }),
      JSON.stringify({ custom_id: 'no-model', method: 'POST', url: '/v1/chat/completions', body: { messages: [] } }),
      JSON.stringify({ custom_id: 'stream', method: 'POST', url: '/v1/chat/completions', body: { model: 'm', stream: true } }),
      chat('x'.repeat(513)),
    ];
    const out = parse(lines.join('\n'));
    expect(out.errors.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'invalid_json_line', null],
      [4, 'missing_required_parameter', 'custom_id'],
      [5, 'duplicate_custom_id', 'custom_id'],
      [6, 'invalid_method', 'method'],
      [7, 'mismatched_endpoint', 'url'],
      [8, 'missing_required_parameter', 'body'],
      [9, 'missing_required_parameter', 'body.model'],
      [10, 'invalid_value', 'body.stream'],
      [11, 'invalid_value', 'custom_id'],
    ]);
    expect(out.errors[3]!.message).toContain('already used on line 1');
    expect(out.requests.map((r) => r.customId)).toEqual(['ok']);
  });

  it('refuses an empty file, a file that is not UTF-8 and one with too many requests', () => {
    expect(parse('\n \n').errors).toEqual([{ code: 'empty_file', message: expect.any(String), param: null, line: null }]);
    expect(parse(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])).errors[0]!.code).toBe('invalid_file_encoding');
    const many = parse([chat('1'), chat('2'), chat('3')].join('\n'), 2);
    expect(many.errors).toEqual([{ code: 'too_many_requests', message: expect.stringContaining('more than 2'), param: null, line: 3 }]);
  });

  it('reports a bounded number of errors', () => {
    const out = parse(Array.from({ length: MAX_REPORTED_ERRORS + 50 }, () => 'nope').join('\n'), 1000);
    expect(out.errors).toHaveLength(MAX_REPORTED_ERRORS);
  });

  it('checks the url against the batch endpoint', () => {
    const line = JSON.stringify({ custom_id: 'e', method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: 'x' } });
    expect(parseBatchInput(line, '/v1/embeddings', { maxRequests: 10 }).errors).toEqual([]);
    expect(parseBatchInput(line, '/v1/completions', { maxRequests: 10 }).errors[0]!.code).toBe('mismatched_endpoint');
  });
});

describe('result lines', () => {
  it("writes OpenAI's output line for an answered request", () => {
    const line = responseLine('batch_req_1', 'a', 200, 'req_1', '{"object":"chat.completion"}');
    expect(line).toEqual({ id: 'batch_req_1', custom_id: 'a', response: { status_code: 200, request_id: 'req_1', body: { object: 'chat.completion' } }, error: null });
  });

  it('keeps an error body, and wraps one that is not JSON in the OpenAI error shape', () => {
    expect(responseLine('i', 'a', 404, 'r', '{"error":{"code":"model_not_found"}}').response!.body).toEqual({ error: { code: 'model_not_found' } });
    expect(responseLine('i', 'a', 502, 'r', 'Bad Gateway').response!.body).toEqual({ error: { message: 'Bad Gateway', type: 'api_error', param: null, code: null } });
  });

  it('writes an error line without a response for a request that got no answer', () => {
    expect(errorLine('i', 'a', 'batch_expired', 'expired')).toEqual({ id: 'i', custom_id: 'a', response: null, error: { code: 'batch_expired', message: 'expired' } });
  });

  it('joins lines as newline-terminated JSON Lines', () => {
    expect(toJsonl([{ a: 1 }, { b: 'x\ny' }])).toBe('{"a":1}\n{"b":"x\\ny"}\n');
    expect(toJsonl([])).toBe('');
  });
});
