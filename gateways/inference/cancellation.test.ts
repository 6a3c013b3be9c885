import { describe, expect, it } from 'vitest';
import { asAbortSignal, Cancellation } from './cancellation.js';

describe('Cancellation', () => {
  it('runs each listener once, in order, and not those removed or added after the abort', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const a = () => seen.push('a');
    const b = () => seen.push('b');
    c.addEventListener('abort', a);
    c.addEventListener('abort', b);
    c.addEventListener('abort', () => seen.push('c'));
    c.removeEventListener('abort', b);
    c.abort();
    c.abort(new Error('again'));
    c.addEventListener('abort', () => seen.push('late'));
    expect(seen).toEqual(['a', 'c']);
    expect(c.aborted).toBe(true);
    expect((c.reason as Error).name).toBe('AbortError');
  });

  it('hands out a real AbortSignal that follows it, made before or after the abort', () => {
    const before = new Cancellation();
    const signal = before.signal;
    expect(signal.aborted).toBe(false);
    expect(before.signal).toBe(signal);
    const reason = new Error('client went away');
    before.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);

    const after = new Cancellation();
    after.abort(reason);
    expect(asAbortSignal(after).aborted).toBe(true);
    expect(asAbortSignal(after).reason).toBe(reason);
    const plain = new AbortController().signal;
    expect(asAbortSignal(plain)).toBe(plain);
  });
});
