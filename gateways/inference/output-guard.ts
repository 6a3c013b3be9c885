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
  signal: AbortSignal;
  judge?: JudgeFn;
}

export interface JsonGuardResult {
  text: string;
  verdicts: GuardrailVerdict[];
  blocked?: GuardrailVerdict;
}

/** Checks every choice of a JSON answer; `text` is the answer to send (rewritten when something was redacted). */
export async function guardJsonAnswer(policy: CompiledPolicy, text: string, kind: AnswerKind, opts: GuardOptions): Promise<JsonGuardResult> {
  let answer: { choices?: Choice[] };
  try {
    answer = JSON.parse(text) as { choices?: Choice[] };
  } catch {
    return { text, verdicts: [] }; // not JSON: nothing of ours to read (the client gets it as is)
  }
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

/** Rewrites an SSE stream line by line. Feed it whole lines (without the newline). */
export class SseOutputGuard {
  private readonly filters = new Map<number, OutputFilter>();
  private readonly ended = new Set<number>();
  private template: Record<string, unknown> | undefined;
  blocked: GuardrailVerdict | undefined;

  constructor(
    private readonly policy: CompiledPolicy,
    private readonly kind: AnswerKind,
    private readonly opts: GuardOptions,
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

  private async endChoice(index: number, out: string[]): Promise<boolean> {
    if (this.ended.has(index)) return true;
    this.ended.add(index);
    const step = await this.filter(index).end();
    if (step.blocked) {
      this.blocked = step.blocked;
      return false;
    }
    if (step.emit.length > 0) out.push(this.chunk(index, step.emit), '');
    return true;
  }

  /** Lines to write for one upstream line; after a block, `blocked` is set and nothing more is written. */
  async line(line: string): Promise<string[]> {
    if (this.blocked) return [];
    if (!line.startsWith('data:')) return [line];
    const payload = line.slice(5).trim();
    const out: string[] = [];
    if (payload === '[DONE]') {
      for (const index of this.filters.keys()) if (!(await this.endChoice(index, out))) return [];
      out.push(line);
      return out;
    }
    let event: { choices?: Choice[] } & Record<string, unknown>;
    try {
      event = JSON.parse(payload) as typeof event;
    } catch {
      return [line];
    }
    if (!Array.isArray(event.choices) || event.choices.length === 0) return [line]; // usage chunk, errors
    const { choices: _c, ...rest } = event;
    this.template ??= rest;
    for (const choice of event.choices) {
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const holder = this.kind === 'chat' ? choice.delta : choice;
      const content = this.kind === 'chat' ? choice.delta?.content : choice.text;
      if (typeof content === 'string' && content.length > 0 && holder) {
        const step = this.filter(index).feed(content);
        if (step.blocked) {
          this.blocked = step.blocked;
          return [];
        }
        if (this.kind === 'chat') choice.delta!.content = step.emit;
        else choice.text = step.emit;
      }
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        if (!(await this.endChoice(index, out))) return [];
      }
    }
    out.push(`data: ${JSON.stringify(event)}`);
    return out;
  }

  /** The stream ended without `[DONE]`: release what is held. */
  async finish(): Promise<string[]> {
    const out: string[] = [];
    for (const index of this.filters.keys()) if (!(await this.endChoice(index, out))) return [];
    return out;
  }

  verdicts(): GuardrailVerdict[] {
    return [...this.filters.values()].flatMap((f) => f.verdicts());
  }
}
