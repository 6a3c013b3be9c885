// Precision and recall of each guardrail over the fixed evaluation set, against the stored baseline.
// A drop below the baseline fails CI. When detectors improve, raise the baseline in the same commit.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createInjectionDetector } from '../../gateways/inference/guardrails/injection.js';
import { createPiiDetector } from '../../gateways/inference/guardrails/pii.js';
import { createToxicityDetector } from '../../gateways/inference/guardrails/toxicity.js';
import type { Detector } from '../../gateways/inference/guardrails/types.js';

interface EvalItem {
  id: string;
  text: string;
  expect: string[];
  note?: string;
}

interface Metrics {
  precision: number;
  recall: number;
}

const read = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8')) as T;
const items = read<{ items: EvalItem[] }>('./eval-set.json').items;
const baseline = read<Record<string, Metrics>>('./baseline.json');

// Default options: what a rule with `options: {}` runs.
const detectors: Detector[] = [createPiiDetector(), createInjectionDetector(), createToxicityDetector()];

function evaluate(detector: Detector) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const misses: string[] = [];
  const falseAlarms: string[] = [];
  for (const item of items) {
    const fired = detector.detect(item.text).flagged;
    const expected = item.expect.includes(detector.type);
    if (fired && expected) tp++;
    else if (fired) {
      fp++;
      falseAlarms.push(item.id);
    } else if (expected) {
      fn++;
      misses.push(item.id);
    }
  }
  return {
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    tp,
    fp,
    fn,
    misses,
    falseAlarms,
  };
}

describe('guardrail evaluation set', () => {
  it('has benign prompts with trigger words and attacks for every guardrail', () => {
    const benign = items.filter((i) => i.expect.length === 0).length;
    expect(benign).toBeGreaterThanOrEqual(60);
    expect(items.length - benign).toBeGreaterThanOrEqual(60);
    for (const d of detectors) expect(items.filter((i) => i.expect.includes(d.type)).length).toBeGreaterThanOrEqual(15);
    expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
  });

  const results = detectors.map((d) => ({ type: d.type, ...evaluate(d) }));

  it('prints precision and recall per guardrail', () => {
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(7);
    const lines = results.map(
      (r) =>
        `${r.type.padEnd(17)} precision ${pct(r.precision)} (baseline ${pct(baseline[r.type]?.precision ?? 0)})  recall ${pct(r.recall)} (baseline ${pct(baseline[r.type]?.recall ?? 0)})  tp=${r.tp} fp=${r.fp} fn=${r.fn}` +
        (r.misses.length > 0 ? `\n${' '.repeat(19)}missed: ${r.misses.join(', ')}` : '') +
        (r.falseAlarms.length > 0 ? `\n${' '.repeat(19)}false alarms: ${r.falseAlarms.join(', ')}` : ''),
    );
    console.log(`guardrail evaluation (${items.length} items)\n${lines.join('\n')}`);
    expect(results).toHaveLength(3);
  });

  for (const r of results) {
    it(`${r.type} keeps precision and recall at or above the baseline`, () => {
      const base = baseline[r.type];
      expect(base, `baseline.json has no entry for ${r.type}`).toBeDefined();
      expect(r.precision, `${r.type} precision (false alarms: ${r.falseAlarms.join(', ') || 'none'})`).toBeGreaterThanOrEqual(base!.precision);
      expect(r.recall, `${r.type} recall (missed: ${r.misses.join(', ') || 'none'})`).toBeGreaterThanOrEqual(base!.recall);
    });
  }
});
