#!/usr/bin/env node
// Summarises a V8 .cpuprofile (BENCH_CPU_PROFILE=1 writes one for the gateway): busy time by
// package or file, by function (self) and by function with what it calls (inclusive), as shares of
// the samples that were not idle. --skip-seconds N leaves out the first N seconds (start-up).
//   node bench/cpu-profile-summary.mjs .inferia/bench/profiles/inference-1234.cpuprofile --skip-seconds 20 --top 40
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
if (!file) {
  process.stderr.write('usage: node bench/cpu-profile-summary.mjs <file.cpuprofile> [--skip-seconds N] [--top N]\n');
  process.exit(2);
}
const skipUs = option('--skip-seconds', 0) * 1e6;
const top = option('--top', 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map();
let t = 0;
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i];
  if (t >= skipUs) hits.set(id, (hits.get(id) ?? 0) + 1);
});

const short = (url) => url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\/\/?.*?\/(?=(gateways|lib|bench|dist)\/)/, '');
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const where = (n) => {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName; // (garbage collector), (program), native calls such as writev
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return url;
  return short(url);
};
const self = new Map();
const inclusive = new Map();
const packages = new Map();
let idle = 0;
let busy = 0;
for (const [id, count] of hits) {
  const node = byId.get(id);
  if (node.callFrame.functionName === '(idle)') {
    idle += count;
    continue;
  }
  busy += count;
  self.set(label(node), (self.get(label(node)) ?? 0) + count);
  packages.set(where(node), (packages.get(where(node)) ?? 0) + count);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (!seen.has(l)) inclusive.set(l, (inclusive.get(l) ?? 0) + count);
    seen.add(l);
  }
}
const list = (m) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([l, c]) => `${((100 * c) / busy).toFixed(1).padStart(6)}%  ${l}`)
    .join('\n');
process.stdout.write(
  `${busy} busy samples, ${idle} idle (${((100 * busy) / Math.max(1, busy + idle)).toFixed(0)}% busy)\n\n` +
    `by package or file (self)\n${list(packages)}\n\nby function (self)\n${list(self)}\n\nby function (inclusive)\n${list(inclusive)}\n`,
);
