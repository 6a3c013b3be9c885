// Output guardrails on an upstream answer: a whole JSON answer (each choice's text checked, redacted
// in place or the answer refused), or a stream of server-sent events, rewritten event by event. For
// streams each choice has its own filter (`n` > 1), held text is released in an extra chunk before
// the choice's finish chunk, and a block ends the stream with an error event instead of the rest.
import type { CompiledPolicy, GuardrailVerdict, JudgeFn, OutputFilter } from './guardrails/index.js';

export type AnswerKind = 'chat' | 'completions';

interface Choice {
  index?: number;
  text?: unknown;
  message?: { content?: unknown };
  delta?: { content?: unknown };
  finish_reason?: unknown;
}

export interface GuardOptions {
  /** For a guard-model call (absent: the policy has none). */
  signal?: AbortSignal;
  judge?: JudgeFn;
}

export interface JsonGuardResult {
  text: string;
  verdicts: GuardrailVerdict[];
  blocked?: GuardrailVerdict;
}

/**
 * Checks every choice of a JSON answer; `text` is the answer to send (rewritten when something was
 * redacted). `parsed`: the answer already parsed from `text` (parsed once for usage and guard).
 */
export async function guardJsonAnswer(policy: CompiledPolicy, text: string, kind: AnswerKind, opts: GuardOptions, parsed?: unknown): Promise<JsonGuardResult> {
  let answer: { choices?: Choice[] };
  try {
    answer = (parsed ?? JSON.parse(text)) as { choices?: Choice[] };
  } catch {
    return { text, verdicts: [] }; // not JSON: nothing of ours to read (the client gets it as is)
  }
  if (!answer || typeof answer !== 'object') return { text, verdicts: [] };
  const verdicts: GuardrailVerdict[] = [];
  let changed = false;
  for (const choice of Array.isArray(answer.choices) ? answer.choices : []) {
    const content = kind === 'chat' ? choice.message?.content : choice.text;
    if (typeof content !== 'string' || content.length === 0) continue;
    const r = await policy.checkOutput(content, opts);
    verdicts.push(...r.verdicts);
    if (r.blocked) return { text, verdicts, blocked: r.verdict };
    if (r.redacted) {
      changed = true;
      if (kind === 'chat') choice.message!.content = r.text;
      else choice.text = r.text;
    }
  }
  return { text: changed ? JSON.stringify(answer) : text, verdicts };
}

/** What the relay's usage meter reads: every parsed upstream event, before any rewrite. */
export type EventObserver = (event: Record<string, unknown>) => void;

type Event = { choices?: Choice[] } & Record<string, unknown>;

/** The bytes around the one text of a kind of chunk (see `learnShape`), and the chunk they came from. */
interface Shape {
  prefix: string;
  suffix: string;
  event: Event;
  choice: Choice;
  index: number;
}

interface Parsed {
  line: string;
  /** The line after `data:` (read from the line when needed). */
  payload?: string;
  /** Undefined for a line of a learnt shape until something needs it (see `materialise`). */
  event: Event | undefined;
  /** The shape the line has, if it was read by its shape. */
  shape?: Shape;
  /** Choices whose text this guard rewrote, with the text the upstream sent. */
  changed?: { choice: Choice; original: string }[];
}

/** Text of one choice gathered across the events of one read, fed to its filter in one step. */
interface Segment {
  text: string;
  /** The events that carried it: the released text goes in the first, the others are emptied. */
  holders: Holder[];
}

interface Holder {
  parsed: Parsed;
  /** Undefined for a line read by its shape until its text is rewritten. */
  choice: Choice | undefined;
  original: string;
  /** The text the event carries now. */
  current: string;
}

/**
 * Rewrites an SSE stream one network read at a time. The events of one read arrived together, so
 * each choice's text in them is filtered in one step (one scan, not one per event) and the released
 * text is put back into those events (see `place`): a clean stream goes out as it came. Nothing is held longer
 * than a per-event filter would hold it: the read's events are all written at once anyway.
 */
export class SseOutputGuard {
  private readonly filters = new Map<number, OutputFilter>();
  private readonly ended = new Set<number>();
  /**
   * Per choice, the upstream's text fed to the filter and not released yet, while what it releases
   * is the upstream's text (undefined once a redaction rewrote it).
   */
  private readonly unsent = new Map<number, string | undefined>();
  private template: Record<string, unknown> | undefined;
  blocked: GuardrailVerdict | undefined;

  constructor(
    private readonly policy: CompiledPolicy,
    private readonly kind: AnswerKind,
    private readonly opts: GuardOptions & {
      observe?: EventObserver;
      /** For a chunk read by its shape (no usage, one choice): its text, instead of the event. */
      observeText?: (text: string) => void;
    },
  ) {}

  private filter(index: number): OutputFilter {
    let f = this.filters.get(index);
    if (!f) {
      f = this.policy.createOutputFilter({ signal: this.opts.signal, judge: this.opts.judge });
      this.filters.set(index, f);
    }
    return f;
  }

  /** A synthetic chunk carrying released text for one choice, shaped like the upstream's own chunks. */
  private chunk(index: number, text: string): string {
    const base = this.template ?? {};
    const choice = this.kind === 'chat' ? { index, delta: { content: text }, finish_reason: null } : { index, text, finish_reason: null };
    return `data: ${JSON.stringify({ ...base, choices: [choice] })}`;
  }

  /**
   * Upstreams write every chunk of a stream alike: the same bytes around one choice's text. After
   * one such chunk has been parsed, a line that is those bytes around a plain string (no quote,
   * backslash or control character) is that chunk with this text: JSON's grammar makes it so, so
   * it is read without parsing it again (JSON.parse was about 40% of the guard's time on a stream).
   * Anything else is parsed, and a parsed chunk of one text teaches the shape of those that follow.
   */
  private shape: Shape | undefined;

  private learnShape(line: string, event: Event | null): void {
    if (!event || typeof event !== 'object' || !Array.isArray(event.choices) || event.choices.length !== 1) return;
    if (event.usage !== undefined && event.usage !== null) return;
    const choice = event.choices[0];
    if (!choice || typeof choice !== 'object' || (choice.finish_reason !== null && choice.finish_reason !== undefined)) return;
    if (this.kind === 'chat' && (!choice.delta || typeof choice.delta !== 'object')) return;
    const content = this.textOf(choice);
    if (typeof content !== 'string' || content.length === 0) return;
    const key = this.kind === 'chat' ? '"content":' : '"text":';
    const at = line.indexOf(key);
    if (at < 0 || line.indexOf(key, at + 1) >= 0) return; // one text in the line, and it is this one
    const encoded = JSON.stringify(content);
    if (!line.startsWith(encoded, at + key.length)) return;
    const start = at + key.length + 1;
    const index = typeof choice.index === 'number' ? choice.index : 0;
    this.shape = { prefix: line.slice(0, start), suffix: line.slice(start + encoded.length - 2), event, choice, index };
  }

  /** The text a line of the learnt shape carries, or undefined when it has to be parsed. */
  private sameShape(line: string): string | undefined {
    const shape = this.shape;
    if (!shape) return undefined;
    const { prefix, suffix } = shape;
    const end = line.length - suffix.length;
    if (end < prefix.length || !line.startsWith(prefix) || !line.endsWith(suffix)) return undefined;
    for (let i = prefix.length; i < end; i++) {
      const c = line.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c) return undefined; // an escape or a quote: parse it
    }
    return line.slice(prefix.length, end);
  }

  /** The event a line of `shape` with `text` is (what JSON.parse would give). */
  private shaped(shape: Shape, text: string): Event {
    const choice: Choice = this.kind === 'chat' ? { ...shape.choice, delta: { ...shape.choice.delta, content: text } } : { ...shape.choice, text };
    return { ...shape.event, choices: [choice] };
  }

  /** The choice object of a holder read by its shape, made (with its event) when its text is rewritten. */
  private materialise(h: Holder): Choice {
    if (h.choice) return h.choice;
    const event = this.shaped(h.parsed.shape!, h.original);
    h.parsed.event = event;
    return (h.choice = event.choices![0]!);
  }

  /** A choice's text: `delta.content` in chat chunks, `text` in completions. */
  private textOf(choice: Choice): unknown {
    return this.kind === 'chat' ? choice.delta?.content : choice.text;
  }

  private setText(choice: Choice, text: string) {
    if (this.kind === 'chat') choice.delta!.content = text;
    else choice.text = text;
  }

  /** Feeds text to a choice's filter: what it releases, or undefined when that blocked the stream. */
  private feed(index: number, text: string): string | undefined {
    const step = this.filter(index).feed(text);
    if (!step.blocked) return step.emit;
    this.blocked = step.blocked;
    return undefined;
  }

  /** Feeds a choice's gathered text to its filter; false when that blocked the stream. */
  private flush(index: number, segments: Map<number, Segment>): boolean {
    const segment = segments.get(index);
    if (!segment) return true;
    segments.delete(index);
    const emit = this.feed(index, segment.text);
    if (emit === undefined) return false;
    this.place(index, segment, emit);
    return true;
  }

  /**
   * Puts the text a filter released back into the events of the read that carried its input. When
   * it is what came (nothing redacted; some perhaps still held), each event keeps as much of its own
   * text as was released, so most events go out exactly as the upstream wrote them; text held from
   * an earlier read goes first, in the first event. Otherwise (a redaction) the first event carries
   * all of it and the others are emptied.
   */
  private place(index: number, segment: Segment, emit: string) {
    const unsent = this.unsent.has(index) ? this.unsent.get(index) : '';
    if (unsent !== undefined) {
      const all = unsent + segment.text;
      if (all.startsWith(emit)) {
        this.unsent.set(index, all.slice(emit.length));
        let left = emit.length - unsent.length;
        segment.holders.forEach((h, i) => {
          const keep = Math.max(0, Math.min(h.original.length, left));
          left -= keep;
          const released = i === 0 ? emit.slice(0, unsent.length + keep) : h.original.slice(0, keep);
          this.rewrite(h, released);
        });
        return;
      }
    }
    this.unsent.set(index, undefined); // from here on this choice's text is not the upstream's
    segment.holders.forEach((h, i) => this.rewrite(h, i === 0 ? emit : ''));
  }

  private rewrite(h: Holder, text: string) {
    if (text === h.current) return;
    h.current = text;
    const choice = this.materialise(h);
    this.setText(choice, text);
    if (!h.parsed.changed?.some((c) => c.choice === choice)) (h.parsed.changed ??= []).push({ choice, original: h.original });
  }

  /**
   * Releases what a choice's filter holds. With text of the choice in this read, the release joins
   * it (so a stream whose end arrives with its text goes out as it came, the finishing event's own
   * text included); otherwise it goes out as a chunk of its own, before the finishing event. False
   * when the stream must stop.
   */
  private async endChoice(index: number, segments: Map<number, Segment>, out: (string | Parsed)[]): Promise<boolean> {
    const segment = segments.get(index);
    segments.delete(index);
    let emit = '';
    if (segment) {
      const released = this.feed(index, segment.text);
      if (released === undefined) return false;
      emit = released;
    }
    if (!this.ended.has(index)) {
      this.ended.add(index);
      const step = await this.filter(index).end();
      if (step.blocked) {
        this.blocked = step.blocked;
        return false;
      }
      emit += step.emit;
    }
    if (segment) this.place(index, segment, emit);
    else if (emit.length > 0) out.push(this.chunk(index, emit), '');
    return true;
  }

  /**
   * The lines to write for the whole lines of one read (without their newlines). After a block,
   * `blocked` is set and nothing of this read or later ones is written.
   */
  async lines(lines: readonly string[]): Promise<string[]> {
    if (this.blocked) return [];
    const out: (string | Parsed)[] = [];
    const segments = new Map<number, Segment>();
    for (const line of lines) {
      if (!line.startsWith('data:')) {
        out.push(line);
        continue;
      }
      const shapedText = this.sameShape(line);
      if (shapedText !== undefined) {
        // One choice, its text, no usage and no finish: no event object unless its text is rewritten.
        const shape = this.shape!;
        if (this.opts.observeText) this.opts.observeText(shapedText);
        else this.opts.observe?.(this.shaped(shape, shapedText));
        const parsed: Parsed = { line, payload: undefined, event: undefined, shape };
        if (shapedText.length > 0) {
          let segment = segments.get(shape.index);
          if (!segment) segments.set(shape.index, (segment = { text: '', holders: [] }));
          segment.text += shapedText;
          segment.holders.push({ parsed, choice: undefined, original: shapedText, current: shapedText });
        }
        out.push(parsed);
        continue;
      }
      const payload = line.slice(5).trim();
      let event: Event | null;
      if (payload === '[DONE]') {
        for (const index of new Set([...this.filters.keys(), ...segments.keys()])) if (!(await this.endChoice(index, segments, out))) return [];
        out.push(line);
        continue;
      }
      try {
        event = JSON.parse(payload) as Event | null;
      } catch {
        out.push(line);
        continue;
      }
      this.learnShape(line, event);
      if (!event || typeof event !== 'object') {
        out.push(line);
        continue;
      }
      this.opts.observe?.(event);
      if (!Array.isArray(event.choices) || event.choices.length === 0) {
        out.push(line); // usage chunk, errors
        continue;
      }
      const parsed: Parsed = { line, payload, event };
      if (!this.template) {
        const { choices: _c, ...rest } = event;
        this.template = rest;
      }
      for (const choice of event.choices) {
        if (!choice || typeof choice !== 'object') continue;
        const index = typeof choice.index === 'number' ? choice.index : 0;
        const content = this.textOf(choice);
        if (typeof content === 'string' && content.length > 0) {
          let segment = segments.get(index);
          if (!segment) segments.set(index, (segment = { text: '', holders: [] }));
          segment.text += content;
          segment.holders.push({ parsed, choice, original: content, current: content });
        }
        if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
          if (!(await this.endChoice(index, segments, out))) return [];
        }
      }
      out.push(parsed);
    }
    for (const index of [...segments.keys()]) if (!this.flush(index, segments)) return [];
    const key = this.kind === 'chat' ? '"content":' : '"text":';
    return out.map((o) => (typeof o === 'string' ? o : serialise(o, key)));
  }

  /** The stream ended without `[DONE]`: release what is held. */
  async finish(): Promise<string[]> {
    if (this.blocked) return [];
    const out: (string | Parsed)[] = [];
    const none = new Map<number, Segment>();
    for (const index of this.filters.keys()) if (!(await this.endChoice(index, none, out))) return [];
    return out as string[];
  }

  verdicts(): GuardrailVerdict[] {
    return [...this.filters.values()].flatMap((f) => f.verdicts());
  }
}

/**
 * An event as it goes out: unchanged, the upstream's own line; with one text changed, the upstream's
 * line with that one `"content":"…"` (or `"text":"…"`) replaced when it occurs exactly once (no
 * re-serialisation: the upstream's key order and escapes kept); otherwise the event serialised again.
 */
function serialise(p: Parsed, key: string): string {
  if (!p.changed) return p.line;
  if (p.changed.length === 1) {
    const { choice, original } = p.changed[0]!;
    const now = (choice.delta?.content ?? choice.text) as string;
    const payload = p.payload ?? p.line.slice(5).trim();
    const encoded = key + JSON.stringify(original);
    const at = payload.indexOf(encoded);
    if (at >= 0 && payload.indexOf(encoded, at + 1) < 0) {
      return `data: ${payload.slice(0, at)}${key}${JSON.stringify(now)}${payload.slice(at + encoded.length)}`;
    }
  }
  return `data: ${JSON.stringify(p.event)}`;
}
