// Formatting for people: times, ages, sizes, counts. Pure, so it is tested beside this file.

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "4 s", "3 min", "2 h 5 min", "3 d" — how long ago, coarse enough to read at a glance. */
export function formatAge(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min ago` : `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** A heartbeat older than this is suspect (the gateway marks a node UNHEALTHY after 20 s by default). */
export function heartbeatHealth(iso: string | null | undefined, now: number = Date.now(), staleAfterS = 20, state?: string): 'fresh' | 'stale' | 'none' {
  if (!iso || state === 'TERMINATED') return 'none'; // a released node is expected to be silent
  return now - new Date(iso).getTime() > staleAfterS * 1000 ? 'stale' : 'fresh';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 950, 1.2k, 34k, 1.5M. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n * 100) / 100);
  if (abs < 1_000_000) return `${(n / 1000).toFixed(abs < 10_000 ? 1 : 0)}k`;
  if (abs < 1_000_000_000) return `${(n / 1_000_000).toFixed(abs < 10_000_000 ? 1 : 0)}M`;
  return `${(n / 1_000_000_000).toFixed(1)}G`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** An id short enough for a table cell; the whole id stays in the title. */
export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 8) : '—');

/** Bucket labels on a chart axis: the hour for hourly buckets, the date for daily ones. */
export function bucketLabel(iso: string, bucket: 'hour' | 'day'): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return bucket === 'hour' ? `${pad(d.getHours())}:00` : `${d.getMonth() + 1}/${d.getDate()}`;
}
