// Turning the usage answer into chart series: one line per model (or key) for a metric.
import type { Usage, UsageFigures } from './types';

export type Metric = 'requests' | 'tokens' | 'errors' | 'p50_latency_ms' | 'p95_latency_ms';

export function metricValue(f: UsageFigures, metric: Metric): number | null {
  switch (metric) {
    case 'tokens':
      return f.prompt_tokens + f.completion_tokens;
    case 'requests':
      return f.requests;
    case 'errors':
      return f.errors;
    case 'p50_latency_ms':
      return f.p50_latency_ms;
    case 'p95_latency_ms':
      return f.p95_latency_ms;
  }
}

/** At most `limit` series for a chart: the busiest, the rest summed into "other" (latencies are not summable, so dropped). */
export function chartSeries(usage: Usage, metric: Metric, limit = 6): { label: string; values: (number | null)[] }[] {
  const series = usage.series.map((s) => ({ label: s.label, values: s.points.map((p) => metricValue(p, metric)) }));
  if (series.length <= limit) return series;
  const shown = series.slice(0, limit - 1);
  if (metric === 'p50_latency_ms' || metric === 'p95_latency_ms') return shown;
  const rest = series.slice(limit - 1);
  const other = usage.buckets.map((_, i) => rest.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  return [...shown, { label: `other (${rest.length})`, values: other }];
}

export interface RangePreset {
  id: string;
  label: string;
  hours: number;
  bucket: 'hour' | 'day';
}

export const RANGES: RangePreset[] = [
  { id: '6h', label: 'Last 6 hours', hours: 6, bucket: 'hour' },
  { id: '24h', label: 'Last 24 hours', hours: 24, bucket: 'hour' },
  { id: '7d', label: 'Last 7 days', hours: 24 * 7, bucket: 'hour' },
  { id: '30d', label: 'Last 30 days', hours: 24 * 30, bucket: 'day' },
  { id: '90d', label: 'Last 90 days', hours: 24 * 90, bucket: 'day' },
];

/** The query window for a preset, ending at the end of the current bucket so "now" is included. */
export function rangeWindow(preset: RangePreset, now = new Date()): { from: string; to: string } {
  const end = new Date(now);
  end.setUTCMinutes(0, 0, 0);
  if (preset.bucket === 'day') end.setUTCHours(0);
  const step = preset.bucket === 'hour' ? 3600_000 : 86_400_000;
  const to = new Date(end.getTime() + step);
  return { from: new Date(to.getTime() - preset.hours * 3600_000).toISOString(), to: to.toISOString() };
}
