// The detectors skip a pattern when the text lacks something the pattern cannot match without (a
// literal, enough digits, one of a group of words). Here every pattern is sampled — thousands of
// random strings it matches, each alternative, count and class picked at random — and each
// skip condition must hold on every match: a condition that is not necessary would lose findings.
import { RegExpParser, type AST } from '@eslint-community/regexpp';
import { describe, expect, it } from 'vitest';
import { eachInjectionWord, INJECTION_PREFILTERS, injectionWords } from './injection.js';
import { PII_PREFILTERS } from './pii.js';

function sampler(re: RegExp, seed: number) {
  let state = seed;
  const rnd = (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const words = ['the', 'my', 'you', 'ai', 'now', 'all', 'key', 'x'];
  const ast = new RegExpParser().parsePattern(re.source, 0, re.source.length, { unicode: re.flags.includes('u') });
  const walk = (n: AST.Node): string => {
    switch (n.type) {
      case 'Pattern':
      case 'Group':
      case 'CapturingGroup':
        return walk(n.alternatives[rnd(n.alternatives.length)]!);
      case 'Alternative':
        return n.elements.map(walk).join('');
      case 'Quantifier': {
        const k = n.min + rnd(Math.min(n.max, n.min + 3) - n.min + 1);
        let out = '';
        for (let i = 0; i < k; i++) out += walk(n.element);
        return out;
      }
      case 'Character':
        return String.fromCodePoint(n.value);
      case 'CharacterClass': {
        if (n.negate) return ' ';
        const el = n.elements[rnd(n.elements.length)]!;
        if (el.type === 'CharacterClassRange') {
          if (el.min.value === 97 && rnd(2) === 0) return words[rnd(words.length)]!;
          return String.fromCodePoint(el.min.value + rnd(el.max.value - el.min.value + 1));
        }
        return el.type === 'Character' ? String.fromCodePoint(el.value) : 'a';
      }
      case 'CharacterSet':
        return n.kind === 'digit' ? String(rnd(10)) : n.kind === 'space' ? ' ' : 'a';
      default:
        return ''; // assertions, back-references
    }
  };
  return () => walk(ast);
}

const fresh = (re: RegExp) => new RegExp(re.source, re.flags.replace('g', ''));

describe('pattern prefilters', () => {
  it('every injection signal: each sampled match has the words (or literals) the signal is skipped without', () => {
    let matches = 0;
    for (const [i, s] of INJECTION_PREFILTERS.entries()) {
      const next = sampler(s.re, 1000 + i);
      const re = fresh(s.re);
      for (let k = 0; k < 3000; k++) {
        const sample = next();
        const text = s.on === 'folded' ? sample : injectionWords(sample);
        if (!re.test(text)) continue;
        matches++;
        const words = new Set(text.split(' '));
        for (const group of s.needs ?? []) expect(group.some((w) => words.has(w)), `${s.id}: ${JSON.stringify(text)} has none of ${group.join(',')}`).toBe(true);
        if (s.needsLiteral) expect(s.needsLiteral.some((l) => text.includes(l)), `${s.id}: ${JSON.stringify(text)}`).toBe(true);
      }
    }
    expect(matches).toBeGreaterThan(50_000);
  });

  it('every PII pattern: each sampled match or finding meets the condition the pattern is skipped without', () => {
    let checked = 0;
    for (const [i, p] of PII_PREFILTERS.entries()) {
      const next = sampler(p.re, 2000 + i);
      const re = fresh(p.re);
      const validatedOnly = /passport/.test(p.re.source) || p.re.source.includes('\\+?\\(?\\d'); // conditions that come from the validator
      for (let k = 0; k < 3000; k++) {
        const sample = next();
        if (!validatedOnly && re.test(sample)) {
          checked++;
          expect(p.needs(sample), `${p.re.source.slice(0, 40)}: ${JSON.stringify(sample)}`).toBe(true);
        }
        if (p.finds(sample)) expect(p.needs(sample), `${p.re.source.slice(0, 40)} found in ${JSON.stringify(sample)}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(20_000);
  });

  it('the words the injection prefilter looks up are those of the words form the patterns run on', () => {
    // Pseudo-random folded-like text: words, one-letter words in runs, digits, punctuation, non-ASCII.
    const pieces = ['ignore', 'all', 'i', 'g', 'n', 'o', 'r', 'e', '5', '42', 'a1', ' ', ' ', ' ', '-', '.', "'", ', ', 'é', '—', '\n', 'x', 'yz'];
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let n = 0; n < 5000; n++) {
      let s = '';
      const length = next() % 30;
      for (let i = 0; i < length; i++) s += pieces[next() % pieces.length];
      const seen: string[] = [];
      eachInjectionWord(s, (w) => seen.push(w));
      expect(seen, JSON.stringify(s)).toEqual(injectionWords(s).split(' ').filter((w) => w.length > 0));
    }
  });
});
