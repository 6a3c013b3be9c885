// Turning detections into verdicts, redaction, and the wrapper that keeps errors from escaping a check.
import type { Detection, Detector, FailMode, Finding, Guardrail, GuardrailContext, GuardrailVerdict, RuleAction } from './types.js';

export const pass = (guardrail: string): GuardrailVerdict => ({ verdict: 'pass', guardrail, reasons: [] });

/** Internal failure of a check, turned into a verdict by the rule's fail mode. */
export function errorVerdict(guardrail: string, failMode: FailMode, err: unknown): GuardrailVerdict {
  const message = err instanceof Error ? err.message : String(err);
  return {
    verdict: failMode === 'closed' ? 'block' : 'pass',
    guardrail,
    reasons: [failMode === 'closed' ? 'check failed: blocked (fail_mode closed)' : 'check failed: passed unchecked (fail_mode open)'],
    error: message.slice(0, 200),
  };
}

/** Overlapping findings merged: the earlier (or, at the same start, longer) one wins. */
export function resolveOverlaps(findings: Finding[]): Finding[] {
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  for (const f of sorted) {
    const last = out[out.length - 1];
    if (last && f.start < last.end) {
      if (f.end > last.end) last.end = f.end;
      continue;
    }
    out.push({ ...f });
  }
  return out;
}

export const redactionToken = (type: string) => `[REDACTED_${type.toUpperCase()}]`;

/** Replaces each finding by `[REDACTED_<TYPE>]`. Findings must be within the text. */
export function redact(text: string, findings: Finding[]): string {
  if (findings.length === 0) return text;
  let out = '';
  let at = 0;
  for (const f of resolveOverlaps(findings)) {
    out += text.slice(at, f.start) + redactionToken(f.type);
    at = f.end;
  }
  return out + text.slice(at);
}

/** A verdict from a detection and the rule's action; `log` passes but keeps the reasons. */
export function verdictOf(detector: Detector, detection: Detection, action: RuleAction, text: string): GuardrailVerdict {
  const base = { guardrail: detector.type, reasons: detection.reasons };
  const data = { findings: detection.findings, ...(detection.score === undefined ? {} : { score: detection.score }) };
  if (!detection.flagged) return { verdict: 'pass', guardrail: detector.type, reasons: [], data };
  if (action === 'log') return { verdict: 'pass', ...base, data };
  if (action === 'redact' && detector.redactable && detection.findings.length > 0) {
    return { verdict: 'redact', ...base, data: { ...data, redacted: redact(text, detection.findings) } };
  }
  return { verdict: 'block', ...base, data };
}

export interface SyncGuardrail extends Guardrail {
  check(text: string, ctx: GuardrailContext): GuardrailVerdict;
}

/** A guardrail over a synchronous detector. Errors (and non-string input) become verdicts. */
export function detectorGuardrail(detector: Detector, action: RuleAction, failMode: FailMode): SyncGuardrail {
  return {
    name: detector.type,
    check(text: string, _ctx: GuardrailContext): GuardrailVerdict {
      try {
        const input = typeof text === 'string' ? text : String(text ?? '');
        return verdictOf(detector, detector.detect(input), action, input);
      } catch (err) {
        return errorVerdict(detector.type, failMode, err);
      }
    },
  };
}

const RANK = { pass: 0, redact: 1, block: 2 } as const;

/** One verdict from many (a rule over several messages or stream steps): the worst verdict, every reason once. */
export function mergeVerdicts(guardrail: string, verdicts: readonly GuardrailVerdict[], policy?: string): GuardrailVerdict {
  let verdict: GuardrailVerdict['verdict'] = 'pass';
  const reasons = new Set<string>();
  const findings: Finding[] = [];
  let score: number | undefined;
  let error: string | undefined;
  for (const v of verdicts) {
    if (RANK[v.verdict] > RANK[verdict]) verdict = v.verdict;
    for (const r of v.reasons) reasons.add(r);
    if (v.data?.findings) findings.push(...v.data.findings);
    if (v.data?.score !== undefined) score = Math.max(score ?? 0, v.data.score);
    error ??= v.error;
  }
  return {
    verdict,
    guardrail,
    reasons: [...reasons],
    ...(policy === undefined ? {} : { policy }),
    ...(error === undefined ? {} : { error }),
    data: { findings, ...(score === undefined ? {} : { score }) },
  };
}
