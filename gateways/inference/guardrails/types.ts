// Guardrail contracts. A check never throws: it answers a verdict, and an internal error becomes a
// verdict too (see `failMode`), so the hot path has one shape to handle.

export type GuardrailType = 'pii' | 'toxicity' | 'prompt_injection' | 'llm_judge';
export type Stage = 'input' | 'output';
export type RuleAction = 'block' | 'redact' | 'log';

/**
 * What to do when a check itself fails (a bug, a judge timeout, an unreachable guard model):
 * `open` (the default) lets the text through and records the error in the verdict; `closed` blocks.
 * Open is the default because a broken detector must not take every request of an org down with it;
 * policies that must never pass unchecked text set `fail_mode: "closed"` on the rule.
 */
export type FailMode = 'open' | 'closed';

/** A span of the checked text (UTF-16 offsets, `end` exclusive). */
export interface Finding {
  type: string;
  start: number;
  end: number;
  /** On input: which message (and which content part of it) the offsets are in. */
  message?: number;
  part?: number;
}

export interface GuardrailVerdict {
  verdict: 'pass' | 'block' | 'redact';
  /** The guardrail's type, or `invalid_rule` for a stored rule that could not be understood. */
  guardrail: string;
  /** Why, without quoting the text (verdicts are logged; prompts must not be). Empty: nothing found. */
  reasons: string[];
  /** Set when the check failed and `failMode` decided the verdict. */
  error?: string;
  /** The policy the rule came from, when policies are named. */
  policy?: string;
  data?: {
    /** The text with findings replaced by `[REDACTED_<TYPE>]` (verdict `redact` only). */
    redacted?: string;
    findings?: Finding[];
    /** 0..1, for scored guardrails (injection, toxicity). */
    score?: number;
  };
}

export interface GuardrailContext {
  stage: Stage;
  /** Aborted when the request is; a judge call stops with it. */
  signal?: AbortSignal;
  /** This request's way to the guard model (e.g. routed within the caller's org); overrides the compile-time one. */
  judge?: JudgeFn;
}

export interface Guardrail {
  readonly name: string;
  check(text: string, ctx: GuardrailContext): GuardrailVerdict | Promise<GuardrailVerdict>;
}

/** What a synchronous detector found: the basis of a verdict, and what the stream filter works with. */
export interface Detection {
  flagged: boolean;
  reasons: string[];
  /** Spans that redaction replaces (empty for guardrails that cannot redact, e.g. injection). */
  findings: Finding[];
  score?: number;
}

/** A synchronous detector: pure, linear in the text, never throws on any string. */
export interface Detector {
  readonly type: GuardrailType;
  /** Whether `redact` can rewrite the text; otherwise a `redact` rule blocks instead. */
  readonly redactable: boolean;
  detect(text: string): Detection;
}

/** The caller's way to reach a deployed guard model (routed like any other request). */
export type JudgeFn = (prompt: string, opts: { model?: string; signal: AbortSignal }) => Promise<string>;
