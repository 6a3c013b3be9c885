// Folding text so detectors see through obfuscation: compatibility decomposition (NFKD folds what NFKC
// does — full-width, mathematical and circled letters, ligatures — but leaves accents apart, so they
// are dropped too), Cyrillic/Greek/Cherokee/small-capital look-alikes mapped to Latin, zero-width,
// bidi and tag characters dropped (tag characters also decoded apart: they smuggle invisible ASCII),
// lower case, whitespace collapsed. An offset map leads back to the original text.

export interface Folded {
  text: string;
  /** `map[i]`: offset in the original of the code point that produced `text[i]`; one extra entry, the original length. */
  map: Int32Array;
  /** ASCII hidden in Unicode tag characters (U+E0020–U+E007E), decoded. */
  hidden: string;
  /** Invisible characters between two letters: a sign that words were split on purpose. */
  invisibleInWords: number;
  /** Words that mix Latin letters with Cyrillic or Greek look-alikes. */
  mixedScriptWords: number;
}

// Upper and lower case both, so that e.g. Greek capital eta (Η) folds to h, not to n like its lower case.
const HOMOGLYPHS: Record<string, string> = {
  // Cyrillic
  А: 'a', а: 'a', В: 'b', в: 'b', С: 'c', с: 'c', Е: 'e', е: 'e', Ё: 'e', ё: 'e', Н: 'h', н: 'h', һ: 'h', І: 'i', і: 'i', Ї: 'i', ї: 'i',
  Ј: 'j', ј: 'j', К: 'k', к: 'k', М: 'm', м: 'm', О: 'o', о: 'o', Р: 'p', р: 'p', Ѕ: 's', ѕ: 's', Т: 't', т: 't', У: 'y', у: 'y',
  Х: 'x', х: 'x', ԁ: 'd', ԛ: 'q', ԝ: 'w', Ԝ: 'w', п: 'n', г: 'r', ь: 'b', Ү: 'y', ү: 'y', 
  // Cherokee letters that pass for Latin capitals
  Ꭺ: 'a', Ᏼ: 'b', Ꮯ: 'c', Ꭰ: 'd', Ꭼ: 'e', Ꮐ: 'g', Ꮋ: 'h', Ꭵ: 'i', Ꭻ: 'j', Ꮶ: 'k', Ꮮ: 'l', Ꮇ: 'm', Ꮲ: 'p', Ꮪ: 's', Ꭲ: 't', Ꮤ: 'w', Ꮓ: 'z',
  // Greek
  Α: 'a', α: 'a', Β: 'b', β: 'b', Ε: 'e', ε: 'e', Ζ: 'z', Η: 'h', η: 'n', Ι: 'i', ι: 'i', Κ: 'k', κ: 'k', Μ: 'm', Ν: 'n', ν: 'v',
  Ο: 'o', ο: 'o', Ρ: 'p', ρ: 'p', Τ: 't', τ: 't', Υ: 'y', υ: 'u', Χ: 'x', χ: 'x', ω: 'w', ς: 's', γ: 'y', μ: 'u',
  // Armenian and Latin extensions that NFKD leaves alone
  օ: 'o', ո: 'n', ս: 'u', ց: 'g', ı: 'i', ɩ: 'i', ɑ: 'a', ɡ: 'g', ʟ: 'l', ɪ: 'i', ɴ: 'n', ʀ: 'r', ʏ: 'y', ʙ: 'b', ʜ: 'h', ɢ: 'g',
  ᴀ: 'a', ᴄ: 'c', ᴅ: 'd', ᴇ: 'e', ᴊ: 'j', ᴋ: 'k', ᴍ: 'm', ᴏ: 'o', ᴘ: 'p', ꜱ: 's', ᴛ: 't', ᴜ: 'u', ᴠ: 'v', ᴡ: 'w', ᴢ: 'z',
  '\u2018': "'", '\u2019': "'", '\u02bc': "'", ø: 'o', Ø: 'o', đ: 'd', Đ: 'd', ł: 'l', Ł: 'l', ß: 'ss', æ: 'ae', œ: 'oe',
};
const HOMOGLYPH_MAP = new Map(Object.entries(HOMOGLYPHS));
const MARKS = /\p{M}/gu;
const WHITESPACE = /\s/;
const foldCache = new Map<number, string>();

/** Characters that render as nothing (or only steer layout): dropped. */
function isInvisible(cp: number): boolean {
  return (
    cp < 0x20 ||
    cp === 0x7f ||
    (cp >= 0x80 && cp < 0xa0 && cp !== 0x85) ||
    cp === 0xad ||
    cp === 0x34f ||
    cp === 0x61c ||
    cp === 0x115f ||
    cp === 0x1160 ||
    cp === 0x17b4 ||
    cp === 0x17b5 ||
    cp === 0x180e ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x206f) ||
    cp === 0x3164 ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    cp === 0xfeff ||
    cp === 0xffa0 ||
    (cp >= 0xfff0 && cp <= 0xfff8) ||
    (cp >= 0x1d173 && cp <= 0x1d17a) ||
    (cp >= 0xe0000 && cp <= 0xe007f) ||
    (cp >= 0xe0100 && cp <= 0xe01ef)
  );
}

function foldNonAscii(cp: number): string {
  const cached = foldCache.get(cp);
  if (cached !== undefined) return cached;
  const ch = String.fromCodePoint(cp);
  let out: string;
  if (isInvisible(cp)) out = '';
  else if (cp === 0x85 || WHITESPACE.test(ch)) out = ' ';
  else {
    out = HOMOGLYPH_MAP.get(ch) ?? '';
    if (out === '') {
      for (const c of ch.normalize('NFKD').replace(MARKS, '').toLowerCase()) out += HOMOGLYPH_MAP.get(c) ?? c;
    }
  }
  if (foldCache.size < 16_384) foldCache.set(cp, out);
  return out;
}

const isLetterCode = (c: number) => c >= 0x61 && c <= 0x7a;
const isLetter = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z';
const SPACE = 0x20;

function decode(codes: Uint16Array, n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 8192) out += String.fromCharCode.apply(null, codes.subarray(i, Math.min(n, i + 8192)) as unknown as number[]);
  return out;
}

export function fold(input: string): Folded {
  let codes = new Uint16Array(input.length + 16);
  let map = new Int32Array(input.length + 17);
  let n = 0;
  let hidden = '';
  let invisibleInWords = 0;
  let mixedScriptWords = 0;
  let wordHasLatin = false;
  let wordHasLookalike = false;
  let invisibleAfterLetter = false;
  let last = SPACE; // so leading whitespace is dropped
  const push = (code: number, at: number) => {
    if (n + 1 >= codes.length) {
      const bigger = new Uint16Array(codes.length * 2);
      bigger.set(codes);
      codes = bigger;
      const biggerMap = new Int32Array(codes.length + 1);
      biggerMap.set(map);
      map = biggerMap;
    }
    codes[n] = code;
    map[n] = at;
    n++;
  };
  const emit = (code: number, at: number) => {
    if (code === SPACE) {
      if (wordHasLatin && wordHasLookalike) mixedScriptWords++;
      wordHasLatin = wordHasLookalike = false;
      invisibleAfterLetter = false;
      if (last === SPACE) return;
    } else if (invisibleAfterLetter) {
      if (isLetterCode(code)) invisibleInWords++;
      invisibleAfterLetter = false;
    }
    push(code, at);
    last = code;
  };
  for (let i = 0; i < input.length; ) {
    const cp = input.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (cp < 0x80) {
      if (cp >= 0x41 && cp <= 0x5a) {
        wordHasLatin = true;
        emit(cp + 32, i);
      } else if (cp === 0x20 || (cp >= 0x09 && cp <= 0x0d)) emit(SPACE, i);
      else if (cp < 0x20 || cp === 0x7f) {
        if (isLetterCode(last)) invisibleAfterLetter = true;
      } else {
        if (cp >= 0x61 && cp <= 0x7a) wordHasLatin = true;
        emit(cp, i);
      }
    } else {
      if (cp >= 0xe0020 && cp <= 0xe007e) hidden += String.fromCharCode(cp - 0xe0000);
      const out = foldNonAscii(cp);
      if (cp >= 0x370 && cp < 0x2000 && HOMOGLYPH_MAP.has(String.fromCodePoint(cp))) wordHasLookalike = true;
      if (out === '') {
        if (isLetterCode(last)) invisibleAfterLetter = true;
      } else {
        // One map entry per UTF-16 unit: an astral character folds to two units, both from `i`.
        for (let k = 0; k < out.length; k++) emit(out.charCodeAt(k), i);
      }
    }
    i += width;
  }
  if (wordHasLatin && wordHasLookalike) mixedScriptWords++;
  if (last === SPACE && n > 0) n--;
  map[n] = input.length;
  return { text: decode(codes, n), map: map.subarray(0, n + 1), hidden, invisibleInWords, mixedScriptWords };
}

/** Folded text without its offset map, for callers that only read the text. */
export type FoldedText = Omit<Folded, 'map'>;

// Typographic punctuation (dashes, curly quotes, ellipsis …, U+2010–U+2027) that folds to printable
// ASCII or to itself: in text that is otherwise plain ASCII, replacing it with that is all folding
// does to it (no invisible character, case or script sign involved). Taken from the fold itself;
// by code (from U+2010), undefined where the quick path cannot fold.
const PUNCTUATION_RANGE = /[\u2010-\u2027]/g;
const PUNCTUATION_BY_CODE: (string | undefined)[] = [];
for (let cp = 0x2010; cp <= 0x2027; cp++) {
  const out = foldNonAscii(cp);
  if (/^[\x20-\x7e]+$/.test(out) || out === String.fromCharCode(cp)) PUNCTUATION_BY_CODE[cp - 0x2010] = out;
}
const punctuationFold = (c: string) => PUNCTUATION_BY_CODE[c.charCodeAt(0) - 0x2010]!;
const ASCII_WHITESPACE = /[\t\n\v\f\r ]+/g;

/**
 * `fold` without the offset map: the same text and signs, and on plain ASCII (with typographic
 * punctuation, as model answers have) without the per-character fold: one scan says what the text
 * needs (punctuation replaced, whitespace other than single spaces collapsed), then lower case.
 */
export function foldText(input: string): FoldedText {
  let punctuation = false;
  let whitespace = false;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c > 0x20 && c <= 0x7e) continue;
    if (c === 0x20) {
      if (input.charCodeAt(i + 1) === 0x20) whitespace = true;
    } else if (c >= 0x09 && c <= 0x0d) whitespace = true;
    else {
      const folded = c >= 0x2010 && c <= 0x2027 ? PUNCTUATION_BY_CODE[c - 0x2010] : undefined;
      if (folded === undefined) {
        const { map: _map, ...rest } = fold(input);
        return rest;
      }
      punctuation = true;
      if (folded.includes(' ')) whitespace = true; // U+2017 folds to a space
    }
  }
  let text = (punctuation ? input.replace(PUNCTUATION_RANGE, punctuationFold) : input).toLowerCase();
  if (whitespace) text = text.replace(ASCII_WHITESPACE, ' ');
  if (text.startsWith(' ')) text = text.slice(1);
  if (text.endsWith(' ')) text = text.slice(0, -1);
  return { text, hidden: '', invisibleInWords: 0, mixedScriptWords: 0 };
}

const LEET = new Map(Object.entries({ '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g', '@': 'a', $: 's', '!': 'i', '|': 'l', '+': 't' }));
// By character code (the scan below runs over every character): 1 a letter, 2 a leet character.
const LEET_CLASS = new Uint8Array(128);
for (let c = 0x61; c <= 0x7a; c++) LEET_CLASS[c] = 1;
for (const k of LEET.keys()) LEET_CLASS[k.charCodeAt(0)] = 2;
const leetClass = (code: number) => (code < 128 ? LEET_CLASS[code]! : 0);

/**
 * Undoes leetspeak inside words, one character for one (offsets are kept): `1d10t` → `idiot`, while
 * numbers (`2024`, `kill -9`) and trailing punctuation (`idiot!`) are left alone. `one` picks what 1 reads as.
 */
export function foldLeet(text: string, one: 'i' | 'l' = 'i'): string {
  let out: Uint16Array | undefined;
  let i = 0;
  while (i < text.length) {
    if (leetClass(text.charCodeAt(i)) === 0) {
      i++;
      continue;
    }
    let j = i;
    let letters = 0;
    let leets = 0;
    for (let k; j < text.length && (k = leetClass(text.charCodeAt(j))) !== 0; j++) {
      if (k === 1) letters++;
      else leets++;
    }
    if (letters > 0 && leets > 0) {
      for (let k = i; k < j; k++) {
        const ch = text[k]!;
        if (isLetter(ch) || ((ch === '!' || ch === '|' || ch === '+') && (k === i || k === j - 1))) continue;
        out ??= Uint16Array.from({ length: text.length }, (_, x) => text.charCodeAt(x));
        out[k] = (ch === '1' ? one : LEET.get(ch)!).charCodeAt(0);
      }
    }
    i = j;
  }
  return out ? decode(out, out.length) : text;
}
