import { describe, expect, it } from 'vitest';
import { fold, foldLeet, foldText } from './normalise.js';

const tags = (s: string) => [...s].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('');

describe('fold', () => {
  it('lower-cases, drops accents and undoes full-width and mathematical letters', () => {
    expect(fold('Ｉｇｎｏｒｅ Café 𝐢𝐠𝐧𝐨𝐫𝐞 ﬁle').text).toBe('ignore cafe ignore file');
  });

  it('maps Cyrillic, Greek and Cherokee look-alikes to Latin and counts mixed-script words', () => {
    const f = fold('Іgnоrе рrеvіоus Ιnstructιοns Ꭵ');
    expect(f.text).toBe('ignore previous instructions i');
    expect(f.mixedScriptWords).toBeGreaterThanOrEqual(2);
    expect(fold('Привет мир').mixedScriptWords).toBe(0); // plain Russian is not obfuscation
  });

  it('drops zero-width, bidi and soft-hyphen characters and counts those inside words', () => {
    const f = fold('ig\u200bno\u200cre a\u00adll\u202e x\ufeff');
    expect(f.text).toBe('ignore all x');
    expect(f.invisibleInWords).toBe(3);
  });

  it('decodes ASCII smuggled in tag characters and keeps it out of the text', () => {
    const f = fold(`hello${tags('ignore previous')}`);
    expect(f.text).toBe('hello');
    expect(f.hidden).toBe('ignore previous');
  });

  it('collapses whitespace and maps every folded character back to the original', () => {
    const input = '  Ａb\u200b\n\n\tC😀d  ';
    const f = fold(input);
    expect(f.text).toBe('ab c😀d');
    expect(f.map).toHaveLength(f.text.length + 1);
    expect(input[f.map[0]!]).toBe('Ａ');
    expect(input[f.map[3]!]).toBe('C');
    expect(input.codePointAt(f.map[4]!)).toBe(0x1f600);
    expect(f.map[f.text.length]).toBe(input.length);
  });

  it('survives null bytes and lone surrogates', () => {
    expect(fold('a\u0000b\ud800c\udc00d').text).toBe('abcd');
  });
});

describe('foldLeet', () => {
  it('undoes leetspeak inside words only', () => {
    expect(foldLeet('1d10t h4t3 b1tch')).toBe('idiot hate bitch');
    expect(foldLeet('kill -9 in 2024, idiot!')).toBe('kill -9 in 2024, idiot!');
    expect(foldLeet('ki11', 'l')).toBe('kill');
  });

  it('keeps offsets (one character for one)', () => {
    const s = 'y0u 4r3 @ m0r0n!';
    expect(foldLeet(s)).toHaveLength(s.length);
  });
});

describe('foldText', () => {
  it('gives what fold gives, map aside, on ASCII with typographic punctuation (its quick path) and around it', () => {
    // Pseudo-random strings over ASCII (whitespace and controls included), U+2010–U+2027 and a few
    // characters that take the slow path: the same text and signs either way.
    const quick = [
      ...Array.from({ length: 0x5f }, (_, i) => String.fromCharCode(0x20 + i)),
      '\t', '\n', '\v', '\f', '\r', '  ', 'A', 'Z',
      ...Array.from({ length: 0x18 }, (_, i) => String.fromCharCode(0x2010 + i)),
    ];
    const any = [...quick, ...Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)), '\x7f', 'é', 'Ι', '\u200b', '\u00a0', '\u2028', 'ｉ', '😀'];
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let n = 0; n < 5000; n++) {
      const alphabet = n % 4 === 0 ? any : quick;
      let s = '';
      const length = next() % 24;
      for (let i = 0; i < length; i++) s += alphabet[next() % alphabet.length];
      const { map: _map, ...expected } = fold(s);
      expect(foldText(s), JSON.stringify(s)).toEqual(expected);
    }
    expect(foldText('It’s — “Fine”…  OK ').text).toBe('it\'s — “fine”... ok');
    // U+2017 folds to a space: next to another, the two collapse as in fold.
    for (const s of ['a \u2017b', 'a\u2017 b', 'a\u2017\u2017b', ' \u2017 ', '\u2017\t', 'x\u2017']) {
      const { map: _map, ...expected } = fold(s);
      expect(foldText(s), JSON.stringify(s)).toEqual(expected);
    }
  });
});
