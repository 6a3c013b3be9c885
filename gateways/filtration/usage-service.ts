// Usage over time, from the inference log: requests, errors, tokens and latency percentiles per
// hour or day, per model or per API key, for the caller's organisation. One query (grouping
// sets) gives each bucket of each series, each series' total and the grand total; percentiles are
// computed over served requests only (a refusal answered in a millisecond is not latency).
import { Prisma, type Db } from '../../lib/db.js';
import { AppError, forbidden } from '../../lib/errors.js';
import type { Caller } from '../../lib/http/auth.js';

export type UsageBucket = 'hour' | 'day';
export type UsageGroup = 'model' | 'api_key';

export interface UsageQueryInput {
  from?: string;
  to?: string;
  bucket: UsageBucket;
  group_by: UsageGroup;
  model?: string;
  api_key_id?: string;
}

export interface UsageFigures {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
}

const BUCKET_MS: Record<UsageBucket, number> = { hour: 3600_000, day: 86_400_000 };
/** A month of hours, a year of days: enough for a chart, bounded for the database. */
export const MAX_BUCKETS: Record<UsageBucket, number> = { hour: 24 * 31, day: 366 };
const DEFAULT_RANGE_MS: Record<UsageBucket, number> = { hour: 24 * 3600_000, day: 30 * 86_400_000 };
const MAX_SERIES = 50;

/** The start of the UTC bucket holding `t`. */
export function bucketStart(t: Date, bucket: UsageBucket): Date {
  const d = new Date(t);
  d.setUTCMinutes(0, 0, 0);
  if (bucket === 'day') d.setUTCHours(0);
  return d;
}

/** How many buckets `bucketStarts` would return, computed without building them. */
export function bucketCount(from: Date, to: Date, bucket: UsageBucket): number {
  return Math.max(0, Math.ceil((to.getTime() - bucketStart(from, bucket).getTime()) / BUCKET_MS[bucket]));
}

/** Every bucket start from the one holding `from` up to (not including) `to`. */
export function bucketStarts(from: Date, to: Date, bucket: UsageBucket): Date[] {
  const out: Date[] = [];
  for (let t = bucketStart(from, bucket).getTime(); t < to.getTime(); t += BUCKET_MS[bucket]) out.push(new Date(t));
  return out;
}

interface Row {
  bucket: Date | null;
  key: string | null;
  g_bucket: number;
  g_key: number;
  requests: bigint | number;
  errors: bigint | number;
  prompt_tokens: bigint | number | null;
  completion_tokens: bigint | number | null;
  p50: number | null;
  p95: number | null;
}

const figures = (r: Row | undefined): UsageFigures => ({
  requests: Number(r?.requests ?? 0),
  errors: Number(r?.errors ?? 0),
  prompt_tokens: Number(r?.prompt_tokens ?? 0),
  completion_tokens: Number(r?.completion_tokens ?? 0),
  p50_latency_ms: r?.p50 == null ? null : Math.round(Number(r.p50)),
  p95_latency_ms: r?.p95 == null ? null : Math.round(Number(r.p95)),
});

export class UsageService {
  constructor(private readonly deps: { db: Db }) {}

  async usage(caller: Caller, input: UsageQueryInput) {
    if (caller.kind !== 'user') throw forbidden('a user token is required');
    const orgId = caller.orgId;
    const to = input.to ? new Date(input.to) : new Date();
    const from = input.from ? new Date(input.from) : new Date(to.getTime() - DEFAULT_RANGE_MS[input.bucket]);
    if (from >= to) throw new AppError('bad_request', 'from: must be before to', { field: 'from' });
    // Counted before any is built: a range of years 1..9999 would be 87 million hourly Dates.
    const count = bucketCount(from, to, input.bucket);
    if (count > MAX_BUCKETS[input.bucket]) {
      throw new AppError('bad_request', `from: the range holds ${count} ${input.bucket} buckets; at most ${MAX_BUCKETS[input.bucket]} (use bucket=day or a shorter range)`, {
        field: 'from',
      });
    }
    // Both come from enums: safe to splice into the statement.
    const keyColumn = input.group_by === 'model' ? Prisma.raw('l.model') : Prisma.raw('l.api_key_id::text');
    const unit = Prisma.raw(`'${input.bucket}'`);
    const rows = await this.deps.db.$queryRaw<Row[]>(Prisma.sql`
      SELECT b AS bucket, k AS key, grouping(b) AS g_bucket, grouping(k) AS g_key,
             count(*) AS requests,
             count(*) FILTER (WHERE status_code >= 400) AS errors,
             sum(prompt_tokens) AS prompt_tokens,
             sum(completion_tokens) AS completion_tokens,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status_code < 400) AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status_code < 400) AS p95
        FROM (SELECT date_trunc(${unit}, l.created_at, 'UTC') AS b, ${keyColumn} AS k,
                     l.status_code, l.latency_ms, l.prompt_tokens, l.completion_tokens
                FROM inference_logs l
               WHERE l.org_id = ${orgId}::uuid
                 AND l.created_at >= ${from} AND l.created_at < ${to}
                 ${input.model ? Prisma.sql`AND l.model = ${input.model}` : Prisma.empty}
                 ${input.api_key_id ? Prisma.sql`AND l.api_key_id = ${input.api_key_id}::uuid` : Prisma.empty}) l
       GROUP BY GROUPING SETS ((b, k), (k), ())`);
    const buckets = bucketStarts(from, to, input.bucket);

    const total = rows.find((r) => Number(r.g_bucket) === 1 && Number(r.g_key) === 1);
    const perKey = rows.filter((r) => Number(r.g_bucket) === 1 && Number(r.g_key) === 0).sort((a, b) => Number(b.requests) - Number(a.requests));
    const cells = new Map<string, Row>();
    for (const r of rows) if (Number(r.g_bucket) === 0 && r.bucket) cells.set(`${r.key ?? ''}\u0000${new Date(r.bucket).getTime()}`, r);

    const keyIds = input.group_by === 'api_key' ? perKey.map((r) => r.key).filter((k): k is string => k !== null) : [];
    const keyNames = new Map(
      (keyIds.length ? await this.deps.db.apiKey.findMany({ where: { orgId, id: { in: keyIds } }, select: { id: true, name: true, prefix: true } }) : []).map((k) => [
        k.id,
        `${k.name} (${k.prefix})`,
      ]),
    );
    const label = (key: string | null) => (input.group_by === 'model' ? (key ?? '(unknown)') : key ? (keyNames.get(key) ?? key) : '(no key)');

    return {
      from: from.toISOString(),
      to: to.toISOString(),
      bucket: input.bucket,
      group_by: input.group_by,
      buckets: buckets.map((b) => b.toISOString()),
      series: perKey.slice(0, MAX_SERIES).map((s) => ({
        key: s.key,
        label: label(s.key),
        total: figures(s),
        points: buckets.map((b) => ({ t: b.toISOString(), ...figures(cells.get(`${s.key ?? ''}\u0000${b.getTime()}`)) })),
      })),
      truncated: perKey.length > MAX_SERIES,
      total: figures(total),
    };
  }
}
