// Output guardrails on a stream. Text is released as soon as no rule can still change it: only a
// tail is held — the last partial word (an e-mail, a key, a token is one word), plus `holdChars` when
// a PII rule acts, for values written with spaces (IBAN, card, phone numbers) — and nothing at all is
// scanned until some of it could be released. A value that straddles the release point holds the
// point back to its start, so a value split across chunks is caught whole: redacted, or the stream
// blocked. A private key is swallowed from its BEGIN line to its END line, however many chunks apart.
import { errorVerdict, mergeVerdicts, redact, redactionToken } from './verdict.js';
import type { CompiledRule } from './rules.js';
import type { Detection, Finding, GuardrailVerdict, JudgeFn } from './types.js';

export interface FilterStep {
  /** Text safe to send now (possibly empty; redactions applied). */
  emit: string;
  /** Set once the stream must stop: send nothing more of it. */
  blocked?: GuardrailVerdict;
}

export interface OutputFilter {
  feed(text: string): FilterStep;
  /** The stream is over: releases the held tail (after whole-text checks such as a judge). */
  end(): Promise<FilterStep>;
  /** One merged verdict per rule that found something or failed, for the request log. */
  verdicts(): GuardrailVerdict[];
}

export interface OutputFilterOptions {
  /** Characters held back for values that contain spaces, when a PII rule blocks or redacts. Default 48. */
  holdChars?: number;
  signal?: AbortSignal;
  /** This request's way to the guard model, for an output judge (see `CheckOptions.judge`). */
  judge?: JudgeFn;
}

/** Released text kept to read what straddles the release point: a few words for phrases, a little for PII lookbehinds. */
const SCORED_CONTEXT = 160;
const PII_CONTEXT = 64;
/** A "word" longer than this is released anyway (keeps memory and rescans bounded). */
const MAX_HELD_WORD = 4096;
const KEY_TAIL = 96;
const PEM_END = /-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/;
const isSpace = (c: string | undefined) => c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\u00a0';

export const STREAM_REGEXES: readonly RegExp[] = [PEM_END];

export class StreamGuard implements OutputFilter {
  private pending = '';
  /** The last released characters, as written (before redaction): what straddling values and phrases are read with. */
  private context = '';
  /** Characters of the stream before `pending` (for finding offsets). */
  private consumed = 0;
  private blocked: GuardrailVerdict | undefined;
  private inKey = false;
  private keyTail = '';
  private broken = false;
  private readonly hold: number;
  private readonly log = new Map<CompiledRule, GuardrailVerdict[]>();
  private readonly errors: GuardrailVerdict[] = [];
  private readonly lookahead: CompiledRule[];
  private readonly scored: CompiledRule[];

  constructor(rules: readonly CompiledRule[], opts: OutputFilterOptions = {}) {
    const sync = rules.filter((r) => r.detector);
    this.lookahead = sync.filter((r) => r.detector!.type === 'pii');
    this.scored = sync.filter((r) => r.detector!.type !== 'pii');
    this.hold = this.lookahead.some((r) => r.action !== 'log') ? Math.max(0, opts.holdChars ?? 48) : 0;
  }

  feed(chunk: string): FilterStep {
    if (this.blocked) return { emit: '', blocked: this.blocked };
    const text = typeof chunk === 'string' ? chunk : String(chunk ?? '');
    if (this.broken) return { emit: text };
    try {
      let rest = text;
      if (this.inKey) {
        rest = this.skipKey(text);
        if (this.inKey) return { emit: '' };
      }
      this.pending += rest;
      return this.step(false);
    } catch (err) {
      return this.fail(err);
    }
  }

  async end(): Promise<FilterStep> {
    if (this.blocked) return { emit: '', blocked: this.blocked };
    if (this.broken) {
      const emit = this.pending;
      this.pending = '';
      return { emit };
    }
    try {
      if (this.inKey) return { emit: '' }; // a key with no END line: the rest of it stays swallowed
      return this.step(true);
    } catch (err) {
      return this.fail(err);
    }
  }

  verdicts(): GuardrailVerdict[] {
    const perRule = [...this.log.entries()].sort((a, b) => a[0].index - b[0].index).map(([rule, vs]) => mergeVerdicts(rule.type, vs, rule.policy));
    return [...perRule, ...this.errors];
  }

  /** Where the releasable text ends: before the held tail, never inside a word. */
  private releasePoint(): number {
    const p = this.pending;
    const b = p.length - this.hold;
    if (b <= 0) return 0;
    for (let i = b; i > 0 && b - i < MAX_HELD_WORD; i--) if (isSpace(p[i - 1])) return i;
    return b > MAX_HELD_WORD ? b : 0;
  }

  private step(final: boolean): FilterStep {
    let boundary = final ? this.pending.length : this.releasePoint();
    if (boundary === 0 && !final) return { emit: '' };
    // Offsets below are in `pending`: negative ones point into text already released.
    const redactions: Finding[] = [];
    let openKey: Finding | undefined;

    // PII first: a value crossing the release point moves the point back to the value's start.
    const piiContext = this.context.slice(-PII_CONTEXT);
    const pii: { rule: CompiledRule; d: Detection }[] = [];
    for (const rule of this.lookahead) {
      const d = this.detect(rule, piiContext + this.pending, piiContext.length);
      if (!d) continue;
      pii.push({ rule, d });
      if (rule.action === 'log') continue;
      for (const f of d.findings) {
        if (f.type === 'PRIVATE_KEY' && f.end === this.pending.length && !this.pending.slice(Math.max(0, f.start), f.end).includes('-----END')) openKey = f;
      }
    }
    if (openKey) {
      // Everything before an opening key is complete: release it (vetted below), then swallow the key.
      boundary = Math.max(0, openKey.start);
    } else if (!final) {
      const acting = pii.filter((x) => x.rule.action !== 'log').flatMap((x) => x.d.findings);
      for (let moved = true; moved; ) {
        moved = false;
        for (const f of acting) {
          if (f.end > 0 && f.start < boundary && f.end > boundary) {
            boundary = Math.max(0, f.start);
            moved = true;
          }
        }
      }
    }
    const isFinal = (f: Finding) => f.end > 0 && (f.end <= boundary || (final && !openKey));

    for (const { rule, d } of pii) {
      const found = d.findings.filter((f) => isFinal(f) || f === openKey);
      if (found.length === 0) continue;
      const blocked = this.act(rule, { ...d, findings: found }, redactions);
      if (blocked) return blocked;
    }
    if (boundary > 0 || final || openKey) {
      const context = this.context.slice(-SCORED_CONTEXT);
      const window = context + this.pending.slice(0, boundary);
      for (const rule of this.scored) {
        const d = this.detect(rule, window, context.length);
        if (!d || !d.flagged) continue;
        const found = d.findings.filter(isFinal);
        // Spans that were all released before were dealt with then; the window still shows them.
        if (d.findings.length > 0 && found.length === 0) continue;
        const blocked = this.act(rule, { ...d, findings: found }, redactions);
        if (blocked) return blocked;
      }
    }

    const clip = (end: number) => (f: Finding): Finding => ({ type: f.type, start: Math.max(0, f.start), end: Math.min(f.end, end) });
    if (openKey) {
      const before = redactions.filter((f) => f !== openKey && f.end <= boundary).map(clip(boundary));
      const emit = redact(this.pending.slice(0, boundary), before) + redactionToken('PRIVATE_KEY');
      this.inKey = true;
      this.keyTail = this.pending.slice(boundary).slice(-KEY_TAIL);
      this.consumed += this.pending.length;
      this.context = '';
      this.pending = '';
      return { emit };
    }
    const released = this.pending.slice(0, boundary);
    const emit = redact(released, redactions.map(clip(boundary)).filter((f) => f.end > f.start));
    this.context = (this.context + released).slice(-SCORED_CONTEXT);
    this.consumed += boundary;
    this.pending = this.pending.slice(boundary);
    return { emit };
  }

  /** Applies a rule's action to what it found. Returns the step when the stream must stop. */
  private act(rule: CompiledRule, d: Detection, redactions: Finding[]): FilterStep | undefined {
    const findings = d.findings.map((f) => ({ type: f.type, start: this.consumed + f.start, end: this.consumed + f.end }));
    const data = { findings, ...(d.score === undefined ? {} : { score: d.score }) };
    const policy = rule.policy === undefined ? {} : { policy: rule.policy };
    if (rule.action === 'log') {
      this.record(rule, { verdict: 'pass', guardrail: rule.type, reasons: d.reasons, ...policy, data });
      return undefined;
    }
    if (rule.action === 'redact' && rule.detector!.redactable && d.findings.length > 0) {
      redactions.push(...d.findings);
      this.record(rule, { verdict: 'redact', guardrail: rule.type, reasons: d.reasons, ...policy, data });
      return undefined;
    }
    const verdict: GuardrailVerdict = { verdict: 'block', guardrail: rule.type, reasons: d.reasons, ...policy, data };
    this.record(rule, verdict);
    this.blocked = verdict;
    this.pending = '';
    return { emit: '', blocked: verdict };
  }

  /** Runs a rule's detector over `text`, whose first `shift` characters were released already; offsets come back in `pending`. */
  private detect(rule: CompiledRule, text: string, shift: number): Detection | undefined {
    try {
      const d = rule.detector!.detect(text);
      return shift === 0 ? d : { ...d, findings: d.findings.map((f) => ({ ...f, start: f.start - shift, end: f.end - shift })) };
    } catch (err) {
      const v = errorVerdict(rule.type, rule.failMode, err);
      this.record(rule, v);
      if (v.verdict === 'block') {
        this.blocked = v;
        throw new Blocked();
      }
      return undefined;
    }
  }

  private record(rule: CompiledRule, v: GuardrailVerdict): void {
    const list = this.log.get(rule);
    if (list) list.push(v);
    else this.log.set(rule, [v]);
  }

  /** Inside a private key: drop text until its END line (which may itself be split across chunks). */
  private skipKey(chunk: string): string {
    const buf = this.keyTail + chunk;
    const m = PEM_END.exec(buf);
    if (!m) {
      this.consumed += chunk.length;
      this.keyTail = buf.slice(-KEY_TAIL);
      return '';
    }
    const after = m.index + m[0].length;
    this.consumed += after - this.keyTail.length;
    this.inKey = false;
    this.keyTail = '';
    return buf.slice(after);
  }

  /** The filter itself failed: closed rules stop the stream, otherwise the rest goes through unfiltered. */
  private fail(err: unknown): FilterStep {
    if (this.blocked) return { emit: '', blocked: this.blocked };
    const closed = [...this.lookahead, ...this.scored].some((r) => r.failMode === 'closed');
    const v = errorVerdict('output_filter', closed ? 'closed' : 'open', err);
    this.errors.push(v);
    if (closed) {
      this.blocked = v;
      return { emit: '', blocked: v };
    }
    this.broken = true;
    const emit = this.pending;
    this.pending = '';
    return { emit };
  }
}

class Blocked extends Error {}
