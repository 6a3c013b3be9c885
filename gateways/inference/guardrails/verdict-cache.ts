// What the input guardrails said of a text, kept for when the same text comes again. It does, all
// the time: a client sends the same system prompt with every request, and a chat client sends the
// whole conversation again with every turn, so most of a request's input has been read before.
// Detectors are pure functions of the text, so a verdict kept is the verdict the rule would give.
//
// Keyed by the text and the compiled rule (its detector, action and fail mode): rules compile per
// key context, so one key's traffic never answers another's lookup. Least recently used first out,
// within a budget of characters; long texts are not kept. Answers (output) are not cached: they
// rarely repeat, and would push out the inputs that do.
import type { GuardrailVerdict } from './types.js';

export interface VerdictCacheOptions {
  /** Characters of text kept in all (the texts are the keys; verdicts are small). */
  maxChars?: number;
  /** A longer text is checked every time. */
  maxTextChars?: number;
  /** Texts kept at most (a bound on the per-entry overhead when texts are short). */
  maxEntries?: number;
}

interface Kept {
  owner: object;
  verdict: GuardrailVerdict;
}

export class VerdictCache {
  private readonly byText = new Map<string, Kept[]>();
  private chars = 0;
  private readonly maxChars: number;
  private readonly maxTextChars: number;
  private readonly maxEntries: number;

  constructor(options: VerdictCacheOptions = {}) {
    this.maxChars = options.maxChars ?? 1_000_000;
    this.maxTextChars = options.maxTextChars ?? 16_384;
    this.maxEntries = options.maxEntries ?? 4096;
  }

  /**
   * The verdict `owner` gave `text` before, or `check(text)` now (kept unless it failed). The
   * verdict returned is shared: callers copy before changing anything in it.
   */
  verdict(owner: object, text: string, check: (text: string) => GuardrailVerdict): GuardrailVerdict {
    if (text.length > this.maxTextChars) return check(text);
    const kept = this.byText.get(text);
    if (kept) {
      for (const k of kept) {
        if (k.owner !== owner) continue;
        // Most recently used last: Map keeps insertion order.
        this.byText.delete(text);
        this.byText.set(text, kept);
        return k.verdict;
      }
    }
    const verdict = check(text);
    if (verdict.error !== undefined) return verdict; // a failed check is tried again next time
    if (kept) kept.push({ owner, verdict });
    else {
      this.byText.set(text, [{ owner, verdict }]);
      this.chars += text.length;
      this.evict();
    }
    return verdict;
  }

  get size(): number {
    return this.byText.size;
  }

  clear(): void {
    this.byText.clear();
    this.chars = 0;
  }

  private evict(): void {
    while (this.chars > this.maxChars || this.byText.size > this.maxEntries) {
      const oldest = this.byText.keys().next();
      if (oldest.done) return;
      this.byText.delete(oldest.value);
      this.chars -= oldest.value.length;
    }
  }
}
