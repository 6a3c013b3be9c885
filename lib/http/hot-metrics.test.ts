import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram, OTHER_LABEL } from './hot-metrics.js';

/** The registry's text, one line per sample, sorted (the order of samples is not part of the format). */
const lines = async (registry: Registry) => (await registry.metrics()).split('\n').filter(Boolean).sort();

describe('hot-path metrics', () => {
  it('render exactly as prom-client renders the same counts and observations', async () => {
    const [ours, theirs] = [new Registry(), new Registry()];
    for (const r of [ours, theirs]) r.setDefaultLabels({ service: 'inference' });
    const buckets = [0.001, 0.01, 0.1, 1];
    const spec = { name: 'x_requests_total', help: 'Requests', labelNames: ['model', 'status'] };
    const hist = { name: 'x_duration_seconds', help: 'Duration', labelNames: ['model'], buckets };
    const c1 = new HotCounter({ ...spec, registers: [ours] });
    const c2 = new Counter({ ...spec, registers: [theirs] });
    const h1 = new HotHistogram({ ...hist, registers: [ours] });
    const h2 = new Histogram({ ...hist, registers: [theirs] });
    for (const [model, status, seconds] of [
      ['m', '200', 0.0005],
      ['m', '200', 0.02],
      ['m', '429', 0.001],
      ['n "quoted"\\', '200', 5],
      ['m', '200', 0.1],
    ] as const) {
      c1.labels(model, status).inc();
      c2.labels(model, status).inc();
      h1.labels(model).observe(seconds);
      h2.labels(model).observe(seconds);
    }
    c1.labels('m', '200').inc(3);
    c2.labels('m', '200').inc(3);
    expect(await lines(ours)).toEqual(await lines(theirs));
  });

  it('counts label sets past the bound under __other__, so a client-chosen label cannot grow memory', async () => {
    const registry = new Registry();
    const c = new HotCounter({ name: 'c', help: 'h', labelNames: ['model', 'status'], registers: [registry], maxChildren: 2 });
    c.labels('a', '200').inc();
    c.labels('b', '200').inc();
    for (let i = 0; i < 100; i++) c.labels(`random-${i}`, '404').inc();
    c.labels('a', '200').inc();
    const text = await registry.metrics();
    expect(text).toContain('c{model="a",status="200"} 2');
    expect(text).toContain('c{model="b",status="200"} 1');
    expect(text).toContain(`c{model="${OTHER_LABEL}",status="${OTHER_LABEL}"} 100`);
    expect(text).not.toContain('random-');
  });

  it('refuses the wrong number of label values, and starts again on reset', async () => {
    const registry = new Registry();
    const h = new HotHistogram({ name: 'h', help: 'h', labelNames: ['model'], registers: [registry], buckets: [1] });
    expect(() => h.labels('a', 'b')).toThrow(/takes 1 label values/);
    h.labels('a').observe(2);
    h.labels('a').observe(Number.NaN); // not a number: not counted
    expect(await registry.metrics()).toContain('h_count{model="a"} 1');
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('h_count');
  });
});
