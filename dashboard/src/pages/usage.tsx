// Usage: requests, tokens and latency per model or API key over time, as charts, from the
// inference log (each request is logged within seconds of its answer).
import { useState } from 'react';
import { query } from '../api';
import { TimeChart } from '../chart';
import { formatCount, formatMs } from '../format';
import { useResource } from '../hooks';
import { useSession } from '../session';
import { DataTable } from '../table';
import type { Usage } from '../types';
import { Card, ErrorNote, Loading, PageHeader } from '../ui';
import { RANGES, chartSeries, rangeWindow } from '../usage-series';

export function UsagePage() {
  const { api } = useSession();
  const [rangeId, setRangeId] = useState('24h');
  const [groupBy, setGroupBy] = useState<'model' | 'api_key'>('model');
  const preset = RANGES.find((r) => r.id === rangeId) ?? RANGES[1]!;
  const usage = useResource(
    () => {
      const w = rangeWindow(preset);
      return api.get<Usage>(`/management/usage${query({ from: w.from, to: w.to, bucket: preset.bucket, group_by: groupBy })}`);
    },
    [rangeId, groupBy],
    { pollMs: 15_000 },
  );
  const u = usage.data;
  return (
    <>
      <PageHeader
        title="Usage"
        subtitle="From the inference log; refreshes every 15 s."
        actions={
          <span className="row-actions">
            <select aria-label="Range" value={rangeId} onChange={(e) => setRangeId(e.target.value)}>
              {RANGES.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.label}
                </option>
              ))}
            </select>
            <select aria-label="Group by" value={groupBy} onChange={(e) => setGroupBy(e.target.value as 'model' | 'api_key')}>
              <option value="model">per model</option>
              <option value="api_key">per API key</option>
            </select>
          </span>
        }
      />
      <ErrorNote error={usage.error} />
      {!u ? (
        <Loading what="usage" />
      ) : (
        <>
          <div className="summary">
            <div>
              <div className="muted">Requests</div>
              <b className="big" data-testid="total-requests">
                {formatCount(u.total.requests)}
              </b>
            </div>
            <div>
              <div className="muted">Errors</div>
              <b className="big">{formatCount(u.total.errors)}</b>
            </div>
            <div>
              <div className="muted">Prompt tokens</div>
              <b className="big">{formatCount(u.total.prompt_tokens)}</b>
            </div>
            <div>
              <div className="muted">Completion tokens</div>
              <b className="big">{formatCount(u.total.completion_tokens)}</b>
            </div>
            <div>
              <div className="muted">Latency p50 / p95</div>
              <b className="big">
                {formatMs(u.total.p50_latency_ms)} / {formatMs(u.total.p95_latency_ms)}
              </b>
            </div>
          </div>
          <div className="grid-2">
            <Card>
              <TimeChart title="Requests" kind="bar" integer buckets={u.buckets} bucket={u.bucket} series={chartSeries(u, 'requests')} format={formatCount} />
            </Card>
            <Card>
              <TimeChart title="Tokens (prompt + completion)" kind="bar" integer buckets={u.buckets} bucket={u.bucket} series={chartSeries(u, 'tokens')} format={formatCount} />
            </Card>
            <Card>
              <TimeChart title="Latency p50" buckets={u.buckets} bucket={u.bucket} series={chartSeries(u, 'p50_latency_ms')} format={formatMs} />
            </Card>
            <Card>
              <TimeChart title="Latency p95" buckets={u.buckets} bucket={u.bucket} series={chartSeries(u, 'p95_latency_ms')} format={formatMs} />
            </Card>
          </div>
          <Card title={groupBy === 'model' ? 'Per model' : 'Per API key'}>
            <DataTable
              label="series"
              rows={u.series}
              rowKey={(s) => s.key ?? '(none)'}
              text={(s) => s.label}
              empty="No requests in this range."
              columns={[
                { header: groupBy === 'model' ? 'Model' : 'Key', cell: (s) => <b>{s.label}</b> },
                { header: 'Requests', numeric: true, cell: (s) => s.total.requests },
                { header: 'Errors', numeric: true, cell: (s) => s.total.errors },
                { header: 'Prompt tokens', numeric: true, cell: (s) => s.total.prompt_tokens },
                { header: 'Completion tokens', numeric: true, cell: (s) => s.total.completion_tokens },
                { header: 'p50', numeric: true, cell: (s) => formatMs(s.total.p50_latency_ms) },
                { header: 'p95', numeric: true, cell: (s) => formatMs(s.total.p95_latency_ms) },
              ]}
            />
            {u.truncated ? <p className="muted small">Only the 50 busiest are listed.</p> : null}
          </Card>
        </>
      )}
      {usage.loading && u ? <span className="sr-only">Refreshing</span> : null}
    </>
  );
}
