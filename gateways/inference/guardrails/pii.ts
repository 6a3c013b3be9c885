// PII and secrets. Every pattern is compiled here, once, and is linear: quantifiers are bounded, no
// quantified group can match the same text two ways, and lookbehinds stop a scan from restarting in
// the middle of a run. Matches are then validated in code (Luhn, mod-97, checksums, isIPv6), which is
// where precision comes from: a regex finds candidates, it does not decide.
import { isIPv6 } from 'node:net';
import { resolveOverlaps } from './verdict.js';
import type { Detection, Detector, Finding } from './types.js';

export const PII_TYPES = [
  'PRIVATE_KEY',
  'JWT',
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'GITHUB_TOKEN',
  'SLACK_TOKEN',
  'API_KEY',
  'SECRET',
  'CREDIT_CARD',
  'IBAN',
  'US_SSN',
  'ES_DNI',
  'UK_NINO',
  'PASSPORT',
  'EMAIL',
  'IP_ADDRESS',
  'PHONE',
] as const;
export type PiiType = (typeof PII_TYPES)[number];

/** Groups an option may name instead of single types. */
export const PII_GROUPS: Record<string, readonly PiiType[]> = {
  SECRETS: ['PRIVATE_KEY', 'JWT', 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'GITHUB_TOKEN', 'SLACK_TOKEN', 'API_KEY', 'SECRET'],
  FINANCIAL: ['CREDIT_CARD', 'IBAN'],
  NATIONAL_ID: ['US_SSN', 'ES_DNI', 'UK_NINO', 'PASSPORT'],
  CONTACT: ['EMAIL', 'PHONE'],
  NETWORK: ['IP_ADDRESS'],
};

/**
 * What a scan looks at before running a pattern: cheap facts about the whole text. A pattern's
 * `needs` is a necessary condition of any match (a literal it cannot match without, a count of
 * digits), so skipping the pattern when it is false changes nothing but the time: most prose has
 * no '@', no ':', no run of digits, and most patterns never run on it.
 */
class Facts {
  private lowerText: string | undefined;
  readonly digits: number;

  constructor(readonly text: string) {
    let digits = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) digits++;
    }
    this.digits = digits;
  }

  has(literal: string): boolean {
    return this.text.includes(literal);
  }

  /**
   * For case-insensitive patterns. Without the `u` flag an ASCII letter in a pattern only matches an
   * ASCII letter of the text, whose lower case is the ASCII one: the keyword is then in this string.
   */
  hasWord(...words: string[]): boolean {
    this.lowerText ??= this.text.toLowerCase();
    return words.some((w) => this.lowerText!.includes(w));
  }
}

interface Pattern {
  type: PiiType;
  re: RegExp;
  needs?: (f: Facts) => boolean;
  /** Which capture group is the value (needs the `d` flag); the whole match otherwise. */
  group?: number;
  /** Returns the span's end (exclusive, within the text) when the candidate is real; undefined otherwise. */
  validate?: (value: string, text: string, start: number) => number | undefined;
}

// ───────────────────────────── validators ─────────────────────────────

const NON_DIGITS = /\D/g;
const SPACES = /\s/g;

export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const allSame = (s: string) => s.length > 0 && s.split('').every((c) => c === s[0]);

function validCard(value: string): boolean {
  const digits = value.replace(NON_DIGITS, '');
  // Issuer ranges start 2 (Mastercard 2-series), 3 (Amex, Diners, JCB), 4 (Visa), 5 (Mastercard, Maestro), 6 (Discover, UnionPay, Maestro).
  return digits.length >= 13 && digits.length <= 19 && '23456'.includes(digits[0]!) && !allSame(digits) && luhn(digits);
}

const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29,
  RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22,
  VG: 24, XK: 20,
};

export function validIban(value: string): boolean {
  const iban = value.replace(SPACES, '').toUpperCase();
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const c of rearranged) {
    const code = c.charCodeAt(0);
    const n = code >= 65 ? code - 55 : code - 48;
    rest = (n >= 10 ? rest * 100 + n : rest * 10 + n) % 97;
  }
  return rest === 1;
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
const DNI_SEPARATORS = /[\s-]/g;
const NIE_PREFIX = /^[XYZ]/;
const EIGHT_DIGITS = /^\d{8}$/;
function validDni(value: string): boolean {
  const v = value.replace(DNI_SEPARATORS, '').toUpperCase();
  const body = v.slice(0, -1).replace(NIE_PREFIX, (c) => String('XYZ'.indexOf(c)));
  return EIGHT_DIGITS.test(body) && DNI_LETTERS[Number(body) % 23] === v[v.length - 1];
}

const SEPARATOR = /^(?:[ .-]|\) ?|\)-| ?\(|-\()$/;
const NANP_AREA = /^[2-9]/;
const SPANISH_MOBILE = /^[6-9]/;
const HAS_DIGIT = /\d/;

/** Phone numbers: E.164 / international (+ or 00), North American 3-3-4, Spanish 3-3-3, national numbers starting with 0. */
export function validPhone(value: string): boolean {
  let s = value;
  let intl = false;
  if (s.startsWith('+')) {
    intl = true;
    s = s.slice(1);
  } else if (s.startsWith('00')) {
    intl = true;
    s = s.slice(2);
  }
  // Digit groups and the separators between them, in one pass and without a regex.
  const sizes: number[] = [];
  const separators: string[] = [];
  let digits = '';
  let sep = '';
  let inGroup = false;
  let opens = 0;
  let closes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c >= '0' && c <= '9') {
      if (!inGroup) {
        if (sizes.length > 0) separators.push(sep);
        sizes.push(0);
        sep = '';
        inGroup = true;
      }
      sizes[sizes.length - 1]!++;
      digits += c;
    } else {
      inGroup = false;
      if (c === '(') opens++;
      else if (c === ')') closes++;
      if (sizes.length === 0) {
        if (c !== '(') return false;
      } else sep += c;
    }
  }
  if (sep !== '' || opens !== closes || opens > 1) return false;
  if (sizes.length > 1 && sizes.some((n) => n > 8)) return false;
  let shape: boolean;
  if (intl) shape = digits.length >= 8 && digits.length <= 15 && digits[0] !== '0';
  else if (digits.length < 9 || digits.length > 11) return false;
  else {
    const groups = sizes.join(',');
    shape =
      (groups === '3,3,3' && SPANISH_MOBILE.test(digits)) ||
      (groups === '3,3,4' && NANP_AREA.test(digits)) ||
      (groups === '1,3,3,4' && digits[0] === '1' && NANP_AREA.test(digits.slice(1))) ||
      (digits[0] === '0' && digits[1] !== '0' && digits.length >= 10 && (sizes.length === 1 || sizes.every((n) => n >= 2)));
  }
  return shape && separators.every((x) => SEPARATOR.test(x));
}

const IPV4_VERSION_CONTEXT = /\b(?:version|ver\.?|v)\s?$/i;
const IPV4_SKIPPED = /^(?:127\.|0\.0\.0\.0$|255\.255\.255\.255$)/;
const WORD_CHAR = /\w/;
const TLD = /^[A-Za-z]{2,24}$/;
const TRAILING_DOTS = /\.+$/;

/** A token-like secret: long enough, with letters and digits (placeholders like `sk-xxxx…` are not). */
function looksRandom(value: string, minRun: number): boolean {
  let best = 0;
  let run = 0;
  let digits = 0;
  let letters = 0;
  for (const c of value) {
    const isDigit = c >= '0' && c <= '9';
    const isAlpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (isDigit) digits++;
    if (isAlpha) letters++;
    run = isDigit || isAlpha ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best >= minRun && digits > 0 && letters > 0 && !allSame(value);
}

const TRAILING_PUNCTUATION = /[.,;]+$/;
const NOT_ONLY_LETTERS = /[^A-Za-z]/;
const PASSWORD_KEYWORD = /(?:password|passwd|pwd)["']?\s{0,3}[:=]\s{0,3}["']?$/;
const PLACEHOLDER = /^(?:x+|\*+|\.+|changeme|password|secret|token|example\w{0,20}|redacted|none|null|undefined|true|false|required|optional|string|your\w{0,30})$/i;

function validGenericSecret(value: string, text: string, start: number): number | undefined {
  const keyword = text.slice(Math.max(0, start - 40), start).toLowerCase();
  const v = value.replace(TRAILING_PUNCTUATION, '');
  if (v.length < 8 || PLACEHOLDER.test(v) || v.startsWith('${') || v.startsWith('<') || v.startsWith('process.env')) return undefined;
  const isPassword = PASSWORD_KEYWORD.test(keyword);
  if (isPassword ? NOT_ONLY_LETTERS.test(v) || v.length >= 12 : looksRandom(v, 12)) return start + v.length;
  return undefined;
}

const PEM_BEGIN = /-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END = /-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_BODY_CHAR = /[A-Za-z0-9+/=\s:,-]/;

/**
 * PEM private keys run from their BEGIN line to their END line; unterminated ones (a stream, a
 * truncated paste) to the end of their base64 body. Each span is searched once, and a BEGIN inside a
 * span already found is skipped, so many headers in a row stay linear.
 */
function findPrivateKeys(text: string, out: Finding[]): void {
  PEM_BEGIN.lastIndex = 0;
  let m: RegExpExecArray | null;
  let end: RegExpExecArray | null | undefined;
  while ((m = PEM_BEGIN.exec(text)) !== null) {
    const start = m.index;
    const headerEnd = start + m[0].length;
    if (end !== null && (end === undefined || end.index < headerEnd)) {
      PEM_END.lastIndex = headerEnd;
      end = PEM_END.exec(text);
    }
    let stop: number;
    if (end && end.index - start < 64_000) stop = end.index + end[0].length;
    else {
      stop = headerEnd;
      while (stop < text.length && stop - start < 64_000 && PEM_BODY_CHAR.test(text[stop]!)) stop++;
    }
    out.push({ type: 'PRIVATE_KEY', start, end: stop });
    PEM_BEGIN.lastIndex = stop;
  }
}

// ───────────────────────────── patterns ─────────────────────────────

const PATTERNS: Pattern[] = [
  { type: 'JWT', needs: (f) => f.has('eyJ'), re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,4000}\.eyJ[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{8,4000}/g },
  {
    type: 'AWS_ACCESS_KEY',
    needs: (f) => f.has('A'),
    re: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    validate: (v, _t, s) => (allSame(v.slice(4)) ? undefined : s + v.length),
  },
  {
    type: 'AWS_SECRET_KEY',
    needs: (f) => f.hasWord('secret'),
    re: /(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?\s{0,3}[:=]\s{0,3}["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/dgi,
    group: 1,
  },
  { type: 'GITHUB_TOKEN', needs: (f) => f.has('_'), re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,242})/g },
  { type: 'SLACK_TOKEN', needs: (f) => f.has('xox') || f.has('hooks.slack.com'), re: /(?<![A-Za-z0-9-])xox[abposr]-[A-Za-z0-9-]{10,250}|https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,200}/g },
  {
    type: 'API_KEY',
    needs: (f) => f.has('sk-'),
    re: /(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d{2}-)?[A-Za-z0-9_-]{20,400}/g,
    validate: (v, _t, s) => (looksRandom(v, 16) ? s + v.length : undefined),
  },
  { type: 'API_KEY', needs: (f) => f.has('_live_') || f.has('_test_'), re: /(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}/g },
  { type: 'API_KEY', needs: (f) => f.has('AIza'), re: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g },
  {
    type: 'SECRET',
    needs: (f) => (f.has(':') || f.has('=')) && f.hasWord('key', 'secret', 'token', 'passw', 'pwd'),
    re: /(?<![A-Za-z0-9_])(?:api[_-]?key|apikey|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|refresh[_-]?token|password|passwd|pwd|token|secret)["']?\s{0,3}[:=]\s{0,3}["']?([A-Za-z0-9_\-+/=.!@#$%^&*~]{8,200})/dgi,
    group: 1,
    validate: validGenericSecret,
  },
  {
    type: 'CREDIT_CARD',
    needs: (f) => f.digits >= 13,
    re: /(?<![\w-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -]?)\d{6}\2\d{4,5}|\d{13,15})(?![\w-])/g,
    validate: (v, _t, s) => (validCard(v) ? s + v.length : undefined),
  },
  {
    type: 'IBAN',
    needs: (f) => f.digits >= 2,
    re: /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])/g,
    validate: (v, _t, s) => (validIban(v) ? s + v.length : undefined),
  },
  { type: 'US_SSN', needs: (f) => f.digits >= 9, re: /(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])/g },
  { type: 'US_SSN', needs: (f) => f.digits >= 9 && f.hasWord('ssn', 'social security'), re: /\b(?:ssn|social security(?: number| no\.?| #)?)\b[^\d\n]{0,20}((?!000|666|9\d\d)\d{3}-?(?!00)\d{2}-?(?!0000)\d{4})(?![\w-])/dgi, group: 1 },
  {
    type: 'ES_DNI',
    needs: (f) => f.digits >= 7,
    re: /(?<![A-Za-z0-9])(?:[XYZxyz]-?\d{7}|\d{8})[- ]?[A-Za-z](?![A-Za-z0-9])/g,
    validate: (v, _t, s) => (validDni(v) ? s + v.length : undefined),
  },
  {
    type: 'UK_NINO',
    needs: (f) => f.digits >= 6,
    re: /(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])/gi,
  },
  // Passport numbers have no checksum one can rely on across countries: only with the word before them.
  {
    type: 'PASSPORT',
    needs: (f) => f.digits >= 1 && f.hasWord('passport'),
    re: /\bpassport(?: number| no\.?| #| id)?\b[^\w\n]{0,5}(?:is[^\w\n]{1,3})?([A-Z0-9]{6,9})(?![\w-])/dgi,
    group: 1,
    validate: (v, _t, s) => (HAS_DIGIT.test(v) ? s + v.length : undefined),
  },
  {
    type: 'EMAIL',
    needs: (f) => f.has('@'),
    re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}/g,
    validate: (v, _t, s) => {
      const domain = v.slice(v.indexOf('@') + 1);
      const labels = domain.split('.');
      const tld = labels[labels.length - 1]!;
      const ok = TLD.test(tld) && labels.every((l) => l.length > 0 && !l.startsWith('-') && !l.endsWith('-'));
      return ok && !v.startsWith('.') ? s + v.length : undefined;
    },
  },
  {
    type: 'IP_ADDRESS',
    needs: (f) => f.digits >= 4 && f.has('.'),
    re: /(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)/g,
    validate: (v, t, s) => (IPV4_SKIPPED.test(v) || IPV4_VERSION_CONTEXT.test(t.slice(Math.max(0, s - 12), s)) ? undefined : s + v.length),
  },
  {
    type: 'IP_ADDRESS',
    needs: (f) => f.has(':'),
    re: /(?<![\w:.])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{2,44}/g,
    validate: (v, t, s) => {
      const ip = v.replace(TRAILING_DOTS, '');
      const next = t[s + ip.length];
      if (next !== undefined && next !== '.' && WORD_CHAR.test(next)) return undefined;
      const groups = ip.split(':').filter((g) => g.length > 0).length;
      const enough = groups >= 3 || (ip.includes('::') && groups >= 2 && ip.length >= 6);
      return enough && isIPv6(ip) ? s + ip.length : undefined;
    },
  },
];

// Phones need segmentation (two numbers in a row, a number then a year), so they are scanned apart.
const PHONE_CANDIDATE = /(?<![\w+.\-/:])\+?\(?\d[\d ().-]{5,22}\d(?!\w)/g;

function findPhones(text: string, out: Finding[]): void {
  PHONE_CANDIDATE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = PHONE_CANDIDATE.exec(text)) !== null) {
    const c = m[0];
    // Longest prefix ending at a group boundary that is a valid number (7 to 17 digits, with a 00 prefix).
    let found = -1;
    let digits = 0;
    for (const ch of c) if (ch >= '0' && ch <= '9') digits++;
    for (let e = c.length; e > 0 && digits >= 7; e--) {
      const ch = c[e - 1]!;
      const atBoundary = e === c.length || (c[e] === ' ' && ch >= '0' && ch <= '9');
      if (atBoundary && digits <= 17 && validPhone(c.slice(0, e))) {
        found = e;
        break;
      }
      if (ch >= '0' && ch <= '9') digits--;
    }
    if (found > 0) {
      out.push({ type: 'PHONE', start: m.index, end: m.index + found });
      PHONE_CANDIDATE.lastIndex = m.index + found;
    } else {
      const space = c.indexOf(' ');
      PHONE_CANDIDATE.lastIndex = space > 0 ? m.index + space + 1 : m.index + c.length;
    }
  }
}

/** Each pattern with its necessary condition over a whole text (for the test that checks the conditions hold). */
export const PII_PREFILTERS: readonly { re: RegExp; needs: (text: string) => boolean; finds: (text: string) => boolean }[] = [
  ...PATTERNS.map((p) => ({
    re: p.re,
    needs: (text: string) => !p.needs || p.needs(new Facts(text)),
    finds: (text: string) => {
      const out: Finding[] = [];
      runPattern(p, text, out);
      return out.length > 0;
    },
  })),
  { re: PHONE_CANDIDATE, needs: (text: string) => new Facts(text).digits >= 7, finds: (text: string) => findPii(text, { types: ['PHONE'] }).length > 0 },
  { re: PEM_BEGIN, needs: (text: string) => text.includes('-----BEGIN'), finds: (text: string) => findPii(text, { types: ['PRIVATE_KEY'] }).length > 0 },
];

/** Every regex the PII detector runs (for the catastrophic-backtracking test). */
export const PII_REGEXES: readonly RegExp[] = [
  ...PATTERNS.map((p) => p.re),
  PHONE_CANDIDATE,
  PEM_BEGIN,
  PEM_END,
  PEM_BODY_CHAR,
  SEPARATOR,
  PLACEHOLDER,
  PASSWORD_KEYWORD,
  IPV4_VERSION_CONTEXT,
  TRAILING_DOTS,
];

const PRIORITY = new Map<string, number>(PII_TYPES.map((t, i) => [t, i]));

export interface PiiOptions {
  /** Types (or groups: SECRETS, FINANCIAL, NATIONAL_ID, CONTACT, NETWORK) to look for. Default: all. */
  types?: readonly string[];
  /** Values never reported (e.g. the org's support address), compared without case and separators. */
  allow?: readonly string[];
}

const ALLOW_SEPARATORS = /[\s().-]/g;
const canonical = (s: string) => s.toLowerCase().replace(ALLOW_SEPARATORS, '');

/** Finds PII in `text`: non-overlapping findings in text order (a more specific type wins an overlap). */
export function findPii(text: string, opts: PiiOptions = {}): Finding[] {
  return scan(text, resolveTypes(opts.types), allowSet(opts.allow));
}

const allowSet = (allow: readonly string[] | undefined) => (allow && allow.length > 0 ? new Set(allow.map(canonical)) : undefined);

function runPattern(p: Pattern, text: string, raw: Finding[]): void {
  p.re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = p.re.exec(text)) !== null) {
    const span = p.group !== undefined ? m.indices?.[p.group] : undefined;
    const start = span ? span[0] : m.index;
    const value = span ? text.slice(span[0], span[1]) : m[0];
    const end = p.validate ? p.validate(value, text, start) : start + value.length;
    if (end !== undefined && end > start) raw.push({ type: p.type, start, end });
    if (m[0].length === 0) p.re.lastIndex++;
  }
}

function scan(text: string, wanted: ReadonlySet<string>, allow: ReadonlySet<string> | undefined): Finding[] {
  const raw: Finding[] = [];
  const facts = new Facts(text);
  for (const p of PATTERNS) {
    if (!wanted.has(p.type) || (p.needs && !p.needs(facts))) continue;
    runPattern(p, text, raw);
  }
  if (wanted.has('PHONE') && facts.digits >= 7) findPhones(text, raw); // a number is 7 digits or more
  if (wanted.has('PRIVATE_KEY') && facts.has('-----BEGIN')) findPrivateKeys(text, raw);
  // An overlap goes to the more specific type (a card's digits are not also a phone number).
  raw.sort((a, b) => PRIORITY.get(a.type)! - PRIORITY.get(b.type)! || a.start - b.start);
  const kept: Finding[] = [];
  const taken = raw.length > 1 ? new Uint8Array(text.length) : undefined;
  for (const f of raw) {
    if (allow && allow.has(canonical(text.slice(f.start, f.end)))) continue;
    if (taken) {
      if (taken.subarray(f.start, f.end).includes(1)) continue;
      taken.fill(1, f.start, f.end);
    }
    kept.push(f);
  }
  return resolveOverlaps(kept);
}

const ALL_TYPES: ReadonlySet<string> = new Set<string>(PII_TYPES);

function resolveTypes(types: readonly string[] | undefined): ReadonlySet<string> {
  if (!types || types.length === 0) return ALL_TYPES;
  const set = new Set<string>();
  for (const t of types) {
    const u = t.toUpperCase();
    for (const x of PII_GROUPS[u] ?? [u]) set.add(x);
  }
  return set;
}

/** A PII detector with its options resolved once (per compiled policy, not per request). */
export function createPiiDetector(opts: PiiOptions = {}): Detector {
  const wanted = resolveTypes(opts.types);
  const allow = allowSet(opts.allow);
  return {
    type: 'pii',
    redactable: true,
    detect(text: string): Detection {
      const findings = scan(text, wanted, allow);
      const types = [...new Set(findings.map((f) => f.type))];
      return { flagged: findings.length > 0, reasons: types.map((t) => `pii: ${t}`), findings };
    },
  };
}
