// A guardrail policy, compiled once (the caller caches it with the key's context) and run per request:
// `checkInput` over the chat messages before routing, `checkOutput` over a whole answer, and
// `createOutputFilter` over a streamed one. Rules run in their stored order; the first block wins,
// redactions chain (each rule reads the text the previous one rewrote); a judge runs last, in
// parallel with other judges, and only when nothing cheaper has blocked already.
import { compileRules, type CompileDeps, type CompiledRule } from './rules.js';
import { StreamGuard, type FilterStep, type OutputFilter, type OutputFilterOptions } from './stream-filter.js';
import { errorVerdict, mergeVerdicts } from './verdict.js';
import { VerdictCache } from './verdict-cache.js';
import type { GuardrailVerdict, JudgeFn, Stage } from './types.js';

export type { CompileDeps } from './rules.js';

/** A chat message as the gateway holds it: content a string, a list of parts (`{type:'text', text}` …), or null. */
export interface ChatMessage {
  role: string;
  content?: unknown;
}

export type InputResult<M> =
  | { blocked: true; verdict: GuardrailVerdict; verdicts: GuardrailVerdict[] }
  /** `messages`: the same message objects when nothing was redacted; redacted ones are copies (the input is never mutated). */
  | { blocked: false; messages: M[]; redacted: boolean; verdicts: GuardrailVerdict[] };

export type OutputResult =
  | { blocked: true; verdict: GuardrailVerdict; verdicts: GuardrailVerdict[] }
  | { blocked: false; text: string; redacted: boolean; verdicts: GuardrailVerdict[] };

export interface CheckOptions {
  /** The request's abort signal: a judge call stops with it. */
  signal?: AbortSignal;
  /** This request's way to the guard model; overrides `CompileDeps.judge` (a cached policy can serve many callers). */
  judge?: JudgeFn;
}

export interface CompiledPolicy {
  /** Whether any rule reads input / output: when false, skip the call (and, for output, the stream parsing). */
  readonly hasInput: boolean;
  readonly hasOutput: boolean;
  /** An output rule needs the whole answer (a judge): a stream through `createOutputFilter` is held until its end. */
  readonly outputNeedsFullText: boolean;
  /** Every input rule runs here, in process (no judge calling a model): safe to run before a request is admitted. */
  readonly inputIsLocal: boolean;
  /** Config the compiler could not use (log them at warn); unreadable rules block, invalid options use defaults. */
  readonly problems: readonly string[];
  checkInput<M extends ChatMessage>(messages: readonly M[], opts?: CheckOptions): Promise<InputResult<M>>;
  checkOutput(text: string, opts?: CheckOptions): Promise<OutputResult>;
  createOutputFilter(opts?: OutputFilterOptions): OutputFilter;
}

/** A stored policy, as the key's context carries it. */
export interface PolicySource {
  id?: string;
  name?: string;
  config: unknown;
}

interface Segment {
  message: number;
  part?: number;
  role: string;
  text: string;
}

function segmentsOf(messages: readonly ChatMessage[]): Segment[] {
  const out: Segment[] = [];
  messages.forEach((m, message) => {
    if (!m || typeof m !== 'object') return;
    const role = typeof m.role === 'string' ? m.role : '';
    const c = m.content;
    if (typeof c === 'string') out.push({ message, role, text: c });
    else if (Array.isArray(c)) {
      c.forEach((p: unknown, part) => {
        const t = p && typeof p === 'object' ? (p as { type?: unknown; text?: unknown }) : undefined;
        if (t && (t.type === 'text' || t.type === 'input_text') && typeof t.text === 'string') out.push({ message, part, role, text: t.text });
      });
    }
  });
  return out;
}

function rebuild<M extends ChatMessage>(messages: readonly M[], segments: Segment[], texts: string[]): M[] {
  const out = [...messages];
  segments.forEach((s, k) => {
    if (texts[k] === s.text) return;
    const m = out[s.message]!;
    if (s.part === undefined) out[s.message] = { ...m, content: texts[k] };
    else {
      const parts = [...(m.content as unknown[])];
      parts[s.part] = { ...(parts[s.part] as object), text: texts[k] };
      out[s.message] = { ...m, content: parts };
    }
  });
  return out;
}

/** A verdict as logged: where its findings are, never the rewritten text. */
function located(v: GuardrailVerdict, s: Segment | undefined): GuardrailVerdict {
  const findings = v.data?.findings?.map((f) => ({ ...f, ...(s ? { message: s.message, ...(s.part === undefined ? {} : { part: s.part }) } : {}) }));
  const { redacted: _redacted, ...data } = v.data ?? {};
  return { ...v, data: { ...data, ...(findings ? { findings } : {}) } };
}

const blocks = (v: GuardrailVerdict) => v.verdict === 'block';
const worthLogging = (v: GuardrailVerdict) => v.verdict !== 'pass' || v.reasons.length > 0 || v.error !== undefined;

class Policy implements CompiledPolicy {
  readonly hasInput: boolean;
  readonly hasOutput: boolean;
  readonly outputNeedsFullText: boolean;
  readonly inputIsLocal: boolean;
  private readonly input: CompiledRule[];
  private readonly output: CompiledRule[];
  /** The rules of each stage that call a model (an LLM judge), run after the detectors. */
  private readonly inputJudges: CompiledRule[];
  private readonly outputJudges: CompiledRule[];

  constructor(
    rules: CompiledRule[],
    readonly problems: readonly string[],
    private readonly inputVerdicts: VerdictCache | undefined,
  ) {
    this.input = rules.filter((r) => r.stages.has('input'));
    this.output = rules.filter((r) => r.stages.has('output'));
    const judges = (stageRules: CompiledRule[]) => stageRules.filter((r) => !r.detector && r.type !== 'invalid_rule');
    this.inputJudges = judges(this.input);
    this.outputJudges = judges(this.output);
    this.hasInput = this.input.length > 0;
    this.hasOutput = this.output.length > 0;
    this.outputNeedsFullText = this.output.some((r) => !r.detector);
    this.inputIsLocal = this.input.every((r) => r.detector);
  }

  async checkInput<M extends ChatMessage>(input: readonly M[], opts: CheckOptions = {}): Promise<InputResult<M>> {
    const messages: readonly M[] = Array.isArray(input) ? input : [];
    if (!this.hasInput) return { blocked: false, messages: [...messages], redacted: false, verdicts: [] };
    try {
      const segments = segmentsOf(messages);
      const texts = segments.map((s) => s.text);
      const run = await this.run(this.input, 'input', segments, texts, opts);
      if (run.blocked) return { blocked: true, verdict: run.blocked, verdicts: run.verdicts };
      const redacted = texts.some((t, k) => t !== segments[k]!.text);
      return { blocked: false, messages: redacted ? rebuild(messages, segments, texts) : [...messages], redacted, verdicts: run.verdicts };
    } catch (err) {
      const v = this.unexpected(this.input, err);
      return blocks(v) ? { blocked: true, verdict: v, verdicts: [v] } : { blocked: false, messages: [...messages], redacted: false, verdicts: [v] };
    }
  }

  async checkOutput(text: string, opts: CheckOptions = {}): Promise<OutputResult> {
    const original = typeof text === 'string' ? text : String(text ?? '');
    if (!this.hasOutput) return { blocked: false, text: original, redacted: false, verdicts: [] };
    try {
      const segments: Segment[] = [{ message: 0, role: 'assistant', text: original }];
      const texts = [original];
      const run = await this.run(this.output, 'output', segments, texts, opts);
      if (run.blocked) return { blocked: true, verdict: run.blocked, verdicts: run.verdicts };
      return { blocked: false, text: texts[0]!, redacted: texts[0] !== original, verdicts: run.verdicts };
    } catch (err) {
      const v = this.unexpected(this.output, err);
      return blocks(v) ? { blocked: true, verdict: v, verdicts: [v] } : { blocked: false, text: original, redacted: false, verdicts: [v] };
    }
  }

  createOutputFilter(opts: OutputFilterOptions = {}): OutputFilter {
    if (!this.hasOutput) return passThrough();
    if (this.outputNeedsFullText) return wholeText(this, opts);
    return new StreamGuard(this.output, opts);
  }

  /** Runs rules over segments; `texts` is rewritten in place by redactions. */
  private async run(
    rules: CompiledRule[],
    stage: Stage,
    segments: Segment[],
    texts: string[],
    opts: CheckOptions,
  ): Promise<{ blocked?: GuardrailVerdict; verdicts: GuardrailVerdict[] }> {
    const verdicts: GuardrailVerdict[] = [];
    const ctx = { stage, signal: opts.signal, judge: opts.judge };
    const reads = (rule: CompiledRule, s: Segment) => stage === 'output' || !rule.roles || rule.roles.has(s.role);
    for (const rule of rules) {
      if (!rule.detector && rule.type !== 'invalid_rule') continue;
      const found: GuardrailVerdict[] = [];
      for (let k = 0; k < segments.length; k++) {
        const s = segments[k]!;
        if (!reads(rule, s)) continue;
        // Detectors are synchronous: no tick per message. On input, a text read before (the system
        // prompt, earlier turns of a conversation) has its verdict kept.
        const checked =
          stage === 'input' && rule.detector && this.inputVerdicts
            ? this.inputVerdicts.verdict(rule, texts[k]!, (text) => rule.guardrail.check(text, ctx) as GuardrailVerdict)
            : rule.guardrail.check(texts[k]!, ctx);
        const v = checked instanceof Promise ? await checked : checked;
        if (worthLogging(v)) found.push(located(v, stage === 'input' ? s : undefined));
        if (blocks(v)) {
          const merged = mergeVerdicts(v.guardrail, found, rule.policy);
          return { blocked: merged, verdicts: [...verdicts, merged] };
        }
        if (v.verdict === 'redact' && typeof v.data?.redacted === 'string') texts[k] = v.data.redacted;
      }
      if (found.length > 0) verdicts.push(mergeVerdicts(rule.type, found, rule.policy));
    }
    const judges = stage === 'input' ? this.inputJudges : this.outputJudges;
    if (judges.length === 0) return { verdicts }; // detectors only (the usual case): no promise to wait for
    const judged = await Promise.all(
      judges.map(async (rule) => {
        const text = segments
          .map((s, k) => (reads(rule, s) ? (stage === 'input' ? `${s.role}: ${texts[k]!}` : texts[k]!) : ''))
          .filter((t) => t.length > 0)
          .join('\n\n');
        if (text.length === 0) return undefined;
        const v = await rule.guardrail.check(text, ctx);
        return worthLogging(v) ? { ...v, ...(rule.policy === undefined ? {} : { policy: rule.policy }) } : undefined;
      }),
    );
    for (const v of judged) if (v) verdicts.push(v);
    const blocked = judged.find((v) => v && blocks(v));
    return blocked ? { blocked, verdicts } : { verdicts };
  }

  private unexpected(rules: CompiledRule[], err: unknown): GuardrailVerdict {
    return errorVerdict('policy', rules.some((r) => r.failMode === 'closed') ? 'closed' : 'open', err);
  }
}

function passThrough(): OutputFilter {
  return {
    feed: (text) => ({ emit: typeof text === 'string' ? text : String(text ?? '') }),
    end: () => Promise.resolve({ emit: '' }),
    verdicts: () => [],
  };
}

/** With a judge on output, nothing can be released before the judge has read all of it. */
function wholeText(policy: CompiledPolicy, opts: OutputFilterOptions): OutputFilter {
  let buffered = '';
  let done: FilterStep | undefined;
  let verdicts: GuardrailVerdict[] = [];
  return {
    feed: (text) => {
      if (done?.blocked) return done;
      buffered += typeof text === 'string' ? text : String(text ?? '');
      return { emit: '' };
    },
    end: async () => {
      if (done) return done.blocked ? done : { emit: '' };
      const r = await policy.checkOutput(buffered, { signal: opts.signal, judge: opts.judge });
      verdicts = r.verdicts;
      buffered = '';
      done = r.blocked ? { emit: '', blocked: r.verdict } : { emit: r.text };
      return done;
    },
    verdicts: () => verdicts,
  };
}

export function compilePolicies(policies: readonly PolicySource[], deps: CompileDeps = {}): CompiledPolicy {
  const problems: string[] = [];
  const rules: CompiledRule[] = [];
  for (const p of Array.isArray(policies) ? policies : []) {
    const name = p && typeof p === 'object' ? (p.name ?? p.id) : undefined;
    rules.push(...compileRules(p && typeof p === 'object' ? p.config : p, deps, name, rules.length, problems));
  }
  return new Policy(rules, problems, deps.verdicts === undefined ? sharedVerdicts : (deps.verdicts ?? undefined));
}

/** Input verdicts kept across requests, for every policy compiled without its own cache. */
const sharedVerdicts = new VerdictCache();

/** Compiles one stored config (`{ rules: [...] }`). Never throws: what cannot be read is in `problems`. */
export function compilePolicy(config: unknown, deps: CompileDeps = {}): CompiledPolicy {
  return compilePolicies([{ config }], deps);
}

/**
 * Compiled policies keyed by the key context's `guardrails` array: the context cache hands out the
 * same array until the key's context is refreshed, so each policy set compiles once per refresh.
 */
export function createPolicyCache(deps: CompileDeps = {}): (policies: readonly PolicySource[]) => CompiledPolicy {
  const cache = new WeakMap<object, CompiledPolicy>();
  const none = compilePolicies([], deps);
  return (policies) => {
    if (!Array.isArray(policies) || policies.length === 0) return none;
    let compiled = cache.get(policies);
    if (!compiled) {
      compiled = compilePolicies(policies, deps);
      cache.set(policies, compiled);
    }
    return compiled;
  };
}

/** Verdicts as the request log stores them: counts per finding type, no offsets, no text. */
export function summariseVerdicts(verdicts: readonly GuardrailVerdict[]): Record<string, unknown>[] {
  return verdicts.map((v) => {
    const counts: Record<string, number> = {};
    for (const f of v.data?.findings ?? []) counts[f.type] = (counts[f.type] ?? 0) + 1;
    return {
      guardrail: v.guardrail,
      verdict: v.verdict,
      reasons: v.reasons,
      ...(v.policy === undefined ? {} : { policy: v.policy }),
      ...(v.error === undefined ? {} : { error: v.error }),
      ...(v.data?.score === undefined ? {} : { score: v.data.score }),
      ...(Object.keys(counts).length > 0 ? { findings: counts } : {}),
    };
  });
}
