import { describe, expect, it } from 'vitest';
import { niceTicks } from './chart-math';
import { formatAge, formatBytes, formatCount, formatMs, heartbeatHealth } from './format';
import { matches, paginate, rangeLabel } from './paging';

describe('formatting for people', () => {
  const now = Date.parse('2031-01-01T12:00:00Z');
  it('says how long ago, coarsely', () => {
    expect(formatAge('2031-01-01T11:59:56Z', now)).toBe('4 s ago');
    expect(formatAge('2031-01-01T11:57:00Z', now)).toBe('3 min ago');
    expect(formatAge('2031-01-01T09:55:00Z', now)).toBe('2 h 5 min ago');
    expect(formatAge('2030-12-29T12:00:00Z', now)).toBe('3 d ago');
    expect(formatAge(null, now)).toBe('never');
    expect(formatAge('2031-01-01T12:00:05Z', now)).toBe('0 s ago'); // a clock a little ahead is not "in the future"
  });

  it('calls a heartbeat stale past the gateway\'s threshold', () => {
    expect(heartbeatHealth('2031-01-01T11:59:50Z', now)).toBe('fresh');
    expect(heartbeatHealth('2031-01-01T11:59:30Z', now)).toBe('stale');
    expect(heartbeatHealth(null, now)).toBe('none');
    expect(heartbeatHealth('2031-01-01T11:00:00Z', now, 20, 'TERMINATED')).toBe('none');
  });

  it('shortens counts, sizes and durations', () => {
    expect(formatCount(950)).toBe('950');
    expect(formatCount(1234)).toBe('1.2k');
    expect(formatCount(34_000)).toBe('34k');
    expect(formatCount(1_500_000)).toBe('1.5M');
    expect(formatCount(null)).toBe('—');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatMs(250)).toBe('250 ms');
    expect(formatMs(1500)).toBe('1.50 s');
    expect(formatMs(null)).toBe('—');
  });
});

describe('lists', () => {
  const rows = Array.from({ length: 45 }, (_, i) => i + 1);
  it('pages, clamping a page past the end to the last one', () => {
    expect(paginate(rows, { page: 1, size: 20 })).toMatchObject({ rows: rows.slice(0, 20), page: 1, pages: 3, total: 45 });
    expect(paginate(rows, { page: 9, size: 20 })).toMatchObject({ rows: [41, 42, 43, 44, 45], page: 3 });
    expect(paginate([], { page: 1, size: 20 })).toMatchObject({ rows: [], page: 1, pages: 1 });
    expect(rangeLabel(3, 20, 45)).toBe('41–45 of 45');
    expect(rangeLabel(1, 20, 0)).toBe('0 of 0');
  });

  it('filters on every word, in any order and case', () => {
    expect(matches('mock RUNNING local', 'running mock')).toBe(true);
    expect(matches('mock RUNNING local', 'mock stopped')).toBe(false);
    expect(matches('anything', '  ')).toBe(true);
  });
});

describe('chart axes', () => {
  it('picks round steps that cover the data', () => {
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(100)).toEqual([0, 50, 100]);
    expect(niceTicks(0.3)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(2, 4, true)).toEqual([0, 1, 2]); // two requests: no half requests on the axis
    const t = niceTicks(1234);
    expect(t.at(-1)).toBeGreaterThanOrEqual(1234);
    expect(t.length).toBeLessThanOrEqual(6);
  });
});
