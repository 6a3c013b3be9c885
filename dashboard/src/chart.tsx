// A time-series chart drawn as SVG: one line per series over shared buckets, round-number axis,
// a legend, and a readout of every series at the bucket under the pointer. No chart library.
import { useState } from 'react';
import { labelStride, niceTicks } from './chart-math';
import { bucketLabel } from './format';

export const PALETTE = ['#2f5bd3', '#d9822b', '#2a9d6f', '#c2410c', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f', '#64748b', '#a16207'];

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

const W = 640;
const H = 220;
const PAD = { left: 52, right: 12, top: 12, bottom: 26 };

export function TimeChart({
  title,
  buckets,
  bucket,
  series,
  format,
  kind = 'line',
  integer = false,
}: {
  title: string;
  buckets: string[];
  bucket: 'hour' | 'day';
  series: ChartSeries[];
  format: (v: number) => string;
  kind?: 'line' | 'bar';
  /** Counts: whole-number ticks. */
  integer?: boolean;
}) {
  const [hover, setHover] = useState<number | null>(null);
  const max = Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const ticks = niceTicks(max, 4, integer);
  const top = ticks.at(-1) ?? 1;
  const n = Math.max(1, buckets.length);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const slot = innerW / n;
  const x = (i: number) => PAD.left + slot * i + slot / 2;
  const y = (v: number) => PAD.top + innerH - (v / top) * innerH;
  const stride = labelStride(n, 8);
  const empty = max === 0;

  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title} chart`}
        onMouseLeave={() => setHover(null)}
        onMouseMove={(e) => {
          const box = e.currentTarget.getBoundingClientRect();
          const px = ((e.clientX - box.left) / box.width) * W;
          const i = Math.floor((px - PAD.left) / slot);
          setHover(i >= 0 && i < n ? i : null);
        }}
      >
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} className="grid" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" className="axis">
              {format(t)}
            </text>
          </g>
        ))}
        {buckets.map((b, i) =>
          i % stride === 0 ? (
            <text key={b} x={x(i)} y={H - 8} textAnchor="middle" className="axis">
              {bucketLabel(b, bucket)}
            </text>
          ) : null,
        )}
        {hover !== null ? <rect x={PAD.left + slot * hover} y={PAD.top} width={slot} height={innerH} className="hover-band" /> : null}
        {kind === 'bar'
          ? series.map((s, si) =>
              s.values.map((v, i) => {
                const w = (slot * 0.8) / series.length;
                const h = v ? innerH - (y(v) - PAD.top) : 0;
                return v ? <rect key={`${si}-${i}`} x={PAD.left + slot * i + slot * 0.1 + w * si} y={y(v)} width={Math.max(1, w)} height={h} fill={PALETTE[si % PALETTE.length]} /> : null;
              }),
            )
          : series.map((s, si) => {
              // A gap (null: no served request in the bucket) breaks the line.
              const paths: string[] = [];
              let current: string[] = [];
              s.values.forEach((v, i) => {
                if (v === null) {
                  if (current.length) paths.push(current.join(' '));
                  current = [];
                } else current.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
              });
              if (current.length) paths.push(current.join(' '));
              return (
                <g key={s.label} stroke={PALETTE[si % PALETTE.length]} fill={PALETTE[si % PALETTE.length]}>
                  {paths.map((p) => (
                    <polyline key={p} points={p} fill="none" strokeWidth={2} />
                  ))}
                  {s.values.map((v, i) => (v !== null && (n <= 48 || hover === i) ? <circle key={i} cx={x(i)} cy={y(v)} r={2.5} /> : null))}
                </g>
              );
            })}
        {empty ? (
          <text x={W / 2} y={H / 2} textAnchor="middle" className="axis">
            No requests in this range
          </text>
        ) : null}
      </svg>
      <div className="chart-legend">
        {series.map((s, si) => (
          <span key={s.label}>
            <i style={{ background: PALETTE[si % PALETTE.length] }} />
            {s.label}
            {hover !== null ? <b> {s.values[hover] === null ? '—' : format(s.values[hover] ?? 0)}</b> : null}
          </span>
        ))}
        {hover !== null ? <span className="muted">at {new Date(buckets[hover] ?? '').toLocaleString()}</span> : null}
      </div>
    </figure>
  );
}
