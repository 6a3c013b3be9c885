// Counters and histograms for the hot path, served by a prom-client Registry like any other metric.
// prom-client checks and hashes the label set on every inc/observe (sorting the label names and
// building a string); here a label set is resolved to its child once and an update is an addition.
// A label set past `maxChildren` is counted under `__other__` for every label: a client-chosen
// value (a model name) cannot grow the process's memory or the scrape without end.
import type { Registry } from 'prom-client';

export const OTHER_LABEL = '__other__';

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
  maxChildren?: number;
}

/** What prom-client's Registry reads from a metric (its `get()` answer). */
interface MetricValue {
  labels: Record<string, string | number>;
  /** A histogram's own labels beside `le` (rendered after the registry's default labels, as prom-client does). */
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

abstract class HotMetric<C> {
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly string[];
  private readonly maxChildren: number;
  protected readonly children: { labels: Record<string, string>; child: C }[] = [];
  /** Label values to their child, one level of Maps per label: no key string is built per update. */
  private tree = new Map<string, unknown>();

  constructor(opts: MetricOptions<string>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    this.maxChildren = opts.maxChildren ?? 10_000;
    for (const registry of opts.registers) registry.registerMetric(this as never);
  }

  protected abstract create(): C;

  /** The child for these label values, in `labelNames` order. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    let node: Map<string, unknown> = this.tree;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (!next) {
        if (this.children.length >= this.maxChildren) return this.overflow();
        node.set(values[i]!, (next = new Map()));
      }
      node = next;
    }
    const found = node.get(values[last]!) as C | undefined;
    if (found !== undefined) return found;
    if (this.children.length >= this.maxChildren) return this.overflow();
    const labels: Record<string, string> = {};
    this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
    const child = this.create();
    node.set(values[last]!, child);
    this.children.push({ labels, child });
    return child;
  }

  /** The child every label set past the bound counts under (all labels `__other__`). */
  private other: C | undefined;

  private overflow(): C {
    if (this.other === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n) => (labels[n] = OTHER_LABEL));
      this.other = this.create();
      this.children.push({ labels, child: this.other });
    }
    return this.other;
  }

  reset(): void {
    this.children.length = 0;
    this.tree = new Map();
    this.other = undefined;
  }

  protected abstract values(): MetricValue[];

  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }
}

interface CounterChild {
  inc(by?: number): void;
  value: number;
}

export class HotCounter<L extends string = string> extends HotMetric<CounterChild> {
  readonly type = 'counter';

  constructor(opts: MetricOptions<L>) {
    super(opts);
  }

  protected create(): CounterChild {
    const child: CounterChild = {
      value: 0,
      inc(by = 1) {
        child.value += by;
      },
    };
    return child;
  }

  protected values(): MetricValue[] {
    return this.children.map(({ labels, child }) => ({ labels, value: child.value }));
  }
}

interface HistogramChild {
  observe(value: number): void;
  counts: Float64Array;
  sum: number;
  count: number;
}

export class HotHistogram<L extends string = string> extends HotMetric<HistogramChild> {
  readonly type = 'histogram';
  private readonly buckets: readonly number[];

  constructor(opts: MetricOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
  }

  protected create(): HistogramChild {
    const buckets = this.buckets;
    const child: HistogramChild = {
      counts: new Float64Array(buckets.length),
      sum: 0,
      count: 0,
      observe(value: number) {
        if (!Number.isFinite(value)) return;
        child.sum += value;
        child.count += 1;
        for (let i = 0; i < buckets.length; i++) {
          if (value <= buckets[i]!) {
            child.counts[i]! += 1;
            return;
          }
        }
      },
    };
    return child;
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, child } of this.children) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += child.counts[i]!;
        out.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: `${this.name}_bucket` });
      });
      out.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: child.count, metricName: `${this.name}_bucket` });
      out.push({ labels: {}, sharedLabels: labels, value: child.sum, metricName: `${this.name}_sum` });
      out.push({ labels: {}, sharedLabels: labels, value: child.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
