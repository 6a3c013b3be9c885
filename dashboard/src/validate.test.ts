import { describe, expect, it } from 'vitest';
import { renderPreview, templateVariables } from './pages/templates';
import { chartSeries, rangeWindow, RANGES } from './usage-series';
import type { Usage } from './types';
import { email, futureDate, hasErrors, httpUrl, integer, jsonObject, modelName, splitList, totpCode, validate } from './validate';

describe('form checks mirror the gateways', () => {
  it('catches what the gateway would refuse, before sending', () => {
    const errors = validate(
      { name: '', replicas: '65', gpus: '1.5', code: '12345', url: 'ftp://x', json: '[1]' },
      { name: [(v) => (v.trim() ? null : 'Required.')], replicas: [integer(1, 64)], gpus: [integer(0, 16)], code: [totpCode], url: [httpUrl()], json: [jsonObject] },
    );
    expect(errors).toEqual({
      name: 'Required.',
      replicas: 'Between 1 and 64.',
      gpus: 'A whole number.',
      code: 'Six digits from your authenticator app.',
      url: 'An http(s) URL.',
      json: 'A JSON object, e.g. {"key": "value"}.',
    });
    expect(hasErrors(validate({ replicas: '3' }, { replicas: [integer(1, 64)] }))).toBe(false);
    expect(integer(1, 10, true)('')).toBeNull();
  });

  it('knows the registry\'s model names, e-mails and dates', () => {
    expect(modelName('meta-llama/Llama-3:8b')).toBeNull();
    expect(modelName('-bad')).not.toBeNull();
    expect(email('ops@example.com')).toBeNull();
    expect(email('ops@')).not.toBeNull();
    expect(futureDate('2000-01-01T00:00')).toBe('Must be in the future.');
    expect(futureDate('')).toBeNull();
  });

  it('splits lists without empties or repeats', () => {
    expect(splitList(' mock, llama ,,mock\nqwen ')).toEqual(['mock', 'llama', 'qwen']);
  });
});

describe('templates', () => {
  it('finds the variables as the gateway does, and previews without evaluating anything', () => {
    expect(templateVariables('Hi {{ name }}, {{name}} {{context}} {{ 1bad }}')).toEqual(['name', 'context']);
    expect(renderPreview('Hi {{name}} ${1+1} {{missing}}', { name: 'Ada' })).toBe('Hi Ada ${1+1} {{missing}}');
  });
});

describe('usage charts', () => {
  const figures = (requests: number) => ({ requests, errors: 0, prompt_tokens: requests * 2, completion_tokens: requests, p50_latency_ms: requests ? 10 : null, p95_latency_ms: null });
  const usage: Usage = {
    from: '',
    to: '',
    bucket: 'hour',
    group_by: 'model',
    buckets: ['a', 'b'],
    truncated: false,
    total: figures(0),
    series: ['m1', 'm2', 'm3'].map((label, i) => ({ key: label, label, total: figures(i), points: [{ t: 'a', ...figures(i + 1) }, { t: 'b', ...figures(0) }] })),
  };

  it('sums the quiet series into "other" for counts, and drops them for latency', () => {
    expect(chartSeries(usage, 'tokens', 2)).toEqual([
      { label: 'm1', values: [3, 0] },
      { label: 'other (2)', values: [15, 0] },
    ]);
    expect(chartSeries(usage, 'p50_latency_ms', 2)).toEqual([{ label: 'm1', values: [10, null] }]);
  });

  it('asks for whole buckets up to and including the current one', () => {
    const w = rangeWindow(RANGES.find((r) => r.id === '24h')!, new Date('2031-01-01T10:25:00Z'));
    expect(w).toEqual({ from: '2030-12-31T11:00:00.000Z', to: '2031-01-01T11:00:00.000Z' });
    const d = rangeWindow(RANGES.find((r) => r.id === '30d')!, new Date('2031-01-31T10:25:00Z'));
    expect(d.to).toBe('2031-02-01T00:00:00.000Z');
  });
});
