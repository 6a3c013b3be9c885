// Axis arithmetic for the SVG charts: "nice" round ticks covering the data.

/**
 * Ticks 0, step, 2·step … covering `max`, with step 1, 2 or 5 × 10ⁿ and about `count` of them;
 * `integer` (counts of requests or tokens) never steps by less than 1.
 */
export function niceTicks(max: number, count = 4, integer = false): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = integer ? Math.max(1, max / count) : max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(Math.round(v * 1e9) / 1e9);
  if ((ticks.at(-1) ?? 0) < max) ticks.push(Math.round((ticks.length * step) * 1e9) / 1e9);
  return ticks;
}

/** Which of `n` evenly spaced labels to print so that at most `room` show. */
export function labelStride(n: number, room: number): number {
  return Math.max(1, Math.ceil(n / Math.max(1, room)));
}
