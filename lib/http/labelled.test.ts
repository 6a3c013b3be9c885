import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { labelled } from './labelled.js';

describe('labelled metric children', () => {
  it('counts as the label object would, with one child per set of values, up to a bound', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'c', help: 'h', labelNames: ['model', 'status'], registers: [registry] });
    let made = 0;
    const of = labelled({ labels: (...v: string[]) => (made++, counter.labels(...v)) }, 2);
    of('m', '200').inc();
    of('m', '200').inc(2);
    of('m', '429').inc();
    expect(made).toBe(2);
    of('n', '200').inc(); // over the bound: the cache starts again, the counts stay
    of('m', '200').inc();
    expect(made).toBe(4);
    const text = await registry.metrics();
    expect(text).toContain('c{model="m",status="200"} 4');
    expect(text).toContain('c{model="m",status="429"} 1');
    expect(text).toContain('c{model="n",status="200"} 1');
  });
});
