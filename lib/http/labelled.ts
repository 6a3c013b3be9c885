// prom-client hashes a label object (sorting its keys) on every inc/observe; a labelled child
// skips that. Children are made once per set of label values and kept (a bounded number: a
// client-chosen label such as a model name must not grow this without end).
export function labelled<C>(metric: { labels(...values: string[]): C }, maxChildren = 10_000): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (child === undefined) {
      if (children.size >= maxChildren) children.clear();
      child = metric.labels(...values);
      children.set(key, child);
    }
    return child;
  };
}
