// Toxicity: a lexicon read in context. Words alone rarely decide ("kill the process", "shoot a photo",
// "this code is garbage" pass); what is flagged is abuse aimed at someone: an insult addressed to
// "you" or said of a person, a threat with a person as its object, a group called vermin or wished
// dead, and a few fixed phrases ("kill yourself"). Text is folded (homoglyphs, accents, invisible
// characters), leetspeak undone per word (`1d10t`), masks matched (`f*ck`), stretched letters
// squeezed (`stuuupid`) and spaced letters joined (`i d i o t`). Scores combine as a noisy OR.
// No regex here runs over the text except one linear tokeniser; the rest is set lookups on tokens.
import { fold, foldLeet } from './normalise.js';
import type { Detection, Detector, Finding } from './types.js';

const SIBILANT_END = /(?:s|sh|ch|x)$/;
const REPEATS = /(.)\1+/g;
const MASK = /[*#]/g;
const NOT_TERM_CHAR = /[^a-z0-9' ]+/g;
const words = (s: string) => s.split(' ');
const plural = (w: string) => (SIBILANT_END.test(w) ? `${w}es` : `${w}s`);

const STRONG_NOUNS = words(
  'idiot moron imbecile cretin dumbass jackass dipshit dimwit halfwit nitwit numbskull numbnuts retard scumbag bitch bastard asshole arsehole dickhead prick cunt twat wanker douchebag slut whore skank shithead fuckface fuckhead motherfucker fucker cocksucker degenerate subhuman',
);
const MILD_NOUNS = words('loser scum douche freak creep clown fool bozo buffoon jerk pig parasite failure dork dick troll psycho weirdo');
// Words that insult a person but also describe things ("this code is garbage"): only when aimed at someone.
const THING_NOUNS = words('trash garbage junk');
const STRONG_ADJECTIVES = words('stupid dumb idiotic moronic retarded pathetic worthless brainless braindead stupidest dumbest disgusting hideous repulsive');
const MILD_ADJECTIVES = words('useless ugly ugliest clueless incompetent ignorant lame fat gross vile');
const PROFANITY = words('fuck fucking fucked fuckin shit shitty bullshit damn crap bloody piss pissed ass arse bollocks frigging freaking effing');
const SECOND_PERSON = new Set(words('you u ya youre ur yourself yall thou'));
const THIRD_PERSON = new Set(words('he she they him her them hes shes theyre'));
const FIRST_PERSON = new Set(words('i im me myself we were us ourselves am'));
const THINGS = new Set(words('it its this that which what code film movie book song game idea plan question answer thing'));
const RELATIVES = new Set(words('mom mother mum mama dad father sister brother wife husband family kid kids son daughter girlfriend boyfriend'));
const NEGATIONS = new Set(words('not dont never no isnt arent wasnt werent aint nor neither hardly'));
const COPULAS = new Set(words('is are was were re s be being been am r'));
const FILLERS = new Set(
  words(
    'a an the such so complete total absolute utter little big real really just truly one most biggest greatest of look looks like sound sounds act acting and always never ever still being same kind sort',
  ),
);

type Kind = 'strong' | 'mild' | 'thing' | 'adj_strong' | 'adj_mild' | 'profanity';
const LEXICON = new Map<string, Kind>();
for (const w of STRONG_NOUNS) LEXICON.set(w, 'strong').set(plural(w), 'strong');
for (const w of MILD_NOUNS) LEXICON.set(w, 'mild').set(plural(w), 'mild');
for (const w of THING_NOUNS) LEXICON.set(w, 'thing');
for (const w of STRONG_ADJECTIVES) LEXICON.set(w, 'adj_strong');
for (const w of MILD_ADJECTIVES) LEXICON.set(w, 'adj_mild');
for (const w of PROFANITY) if (!LEXICON.has(w)) LEXICON.set(w, 'profanity');
const SEVERE = new Set(words('cunt cunts motherfucker motherfuckers cocksucker cocksuckers'));

const squeeze = (w: string) => w.replace(REPEATS, '$1');
const SQUEEZED = new Map<string, string>();
for (const w of LEXICON.keys()) if (!SQUEEZED.has(squeeze(w))) SQUEEZED.set(squeeze(w), w);
const BY_LENGTH = new Map<number, string[]>();
for (const w of LEXICON.keys()) BY_LENGTH.set(w.length, [...(BY_LENGTH.get(w.length) ?? []), w]);

interface Phrase {
  words: string[];
  weight: number;
  id: string;
}
const PHRASES: Phrase[] = [
  ...['kill yourself', 'kill urself', 'kill your self', 'kys', 'go kill yourself', 'hang yourself', 'go die', 'die in a fire', 'neck yourself', 'unalive yourself'].map((p) => ({
    words: words(p),
    weight: 0.9,
    id: 'self_harm_incitement',
  })),
  ...['fuck you', 'fuck u', 'fuck off', 'go fuck yourself', 'fuck yourself', 'fuck ya', 'suck my dick', 'eat shit', 'screw you', 'stfu', 'shut the fuck up'].map((p) => ({
    words: words(p),
    weight: 0.7,
    id: 'abusive_phrase',
  })),
  ...['go to hell', 'drop dead', 'piss off', 'nobody likes you', 'nobody loves you', 'everyone hates you', 'waste of space', 'waste of oxygen', 'waste of air', 'piece of shit', 'piece of crap', 'piece of garbage', 'piece of trash', 'son of a bitch'].map((p) => ({
    words: words(p),
    weight: 0.6,
    id: 'abusive_phrase',
  })),
  ...['nobody would miss you', 'no one would miss you', 'no one will miss you', 'nobody will miss you', 'the world would be better without you', 'everyone would be better off without you'].map((p) => ({
    words: words(p),
    weight: 0.6,
    id: 'abusive_phrase',
  })),
  ...['i know where you live', 'i know where u live', 'you re dead meat', 'youre dead meat', 'you are dead meat', 'i will find you', 'ill find you'].map((p) => ({ words: words(p), weight: 0.6, id: 'threat' })),
  ...['shut up', 'watch your back', 'bite me', 'get lost'].map((p) => ({ words: words(p), weight: 0.3, id: 'hostile_phrase' })),
];

const PHRASE_INDEX = new Map<string, Phrase[]>();
for (const p of PHRASES) PHRASE_INDEX.set(p.words[0]!, [...(PHRASE_INDEX.get(p.words[0]!) ?? []), p]);

const THREAT_SUBJECTS = new Set(words('i ill im we imma ima'));
const THREAT_MODALS = new Set(
  words('will shall am going gonna gon na to want wanna about literally fucking really just come and personally definitely totally gotta must can m ll is'),
);
const VIOLENT_VERBS = new Set(
  words('kill murder stab shoot strangle choke rape behead slit gut torture poison kidnap hang burn bury skin beat punch slap hurt smash shank execute eliminate butcher slaughter'),
);
const WEAK_THREAT_VERBS = new Set(words('find end destroy break ruin wreck crush hunt get'));
const THREAT_TARGETS = new Set(words('you u ya your ur him her them yall everyone everybody'));
const THREAT_OBJECT_FILLERS = new Set(words('the fucking shit out of crap living daylights hell'));
const CONTRACTED_FUTURE = new Set(words('ill imma ima'));
const POSSESSIVES = new Set(words('your ur ya his her their'));
const DITRANSITIVE = new Set(words('a an some the one something more up to at over back'));
const WISH_HARM = new Set(words('die suffer rot burn bleed'));

const GROUPS = new Set(
  words(
    'immigrants migrants refugees foreigners muslims jews christians catholics hindus sikhs buddhists atheists blacks whites asians africans arabs mexicans latinos hispanics chinese indians gays lesbians homosexuals transgenders women men girls females feminists gypsies roma',
  ),
);
const GROUP_QUALIFIERS = new Set(words('black white gay trans transgender jewish muslim disabled asian brown arab african mexican chinese indian'));
const GROUP_NOUN_PREDICATES = new Set(
  words(
    'animals vermin rats cockroaches roaches parasites subhuman subhumans savages filth scum trash garbage inferior disease plague apes monkeys pigs dogs cancer infestation',
  ),
);
const GROUP_VERB_PREDICATES = new Set(words('die exterminated gassed eradicated wiped killed shot hanged burned eliminated purged sterilized sterilised'));
const MODALS = new Set(words('should must deserve deserves need needs ought have has gotta to all'));
const GROUP_LINKS = new Set(words('are r is re be all just nothing but the like a an bunch of filthy dirty fucking disgusting them to should must need deserve ought have gotta'));
const ATTACK_VERBS = new Set(words('exterminate kill gas eradicate purge eliminate hang shoot burn lynch'));
const REPORTING = new Set(
  words(
    'said says saying called calling calls told tells wrote writes texted messaged yelled yells shouted shouts screamed screams claimed propaganda quote quoted means meaning word slur term offensive report reported harassment bullying bullied insult insulted villain character',
  ),
);

interface Token {
  w: string;
  kind: Kind | undefined;
  start: number;
  end: number;
}

const TOKEN = /[a-z0-9@$!|+*#']+/g;
const EDGE_PUNCTUATION = /^[!|+.']+|[!|+.']+$/g;
const APOSTROPHE = /'/g;
const TRIPLE = /(.)\1\1/;

const PLAIN_WORD = /^[a-z]+$/;
const ANY_LETTER = /[a-z]/;

function lookup(raw: string): { w: string; kind: Kind | undefined } {
  if (PLAIN_WORD.test(raw) && !TRIPLE.test(raw)) return { w: raw, kind: LEXICON.get(raw) };
  if (!ANY_LETTER.test(raw)) return { w: raw, kind: undefined }; // numbers and symbols: no word to undo
  const t = raw.replace(APOSTROPHE, '').replace(EDGE_PUNCTUATION, '');
  if (t.includes('*') || t.includes('#')) {
    const letters = t.replace(MASK, '').length;
    if (letters >= 2 && letters * 2 >= t.length) {
      for (const w of BY_LENGTH.get(t.length) ?? []) {
        let ok = w[0] === t[0];
        for (let i = 1; ok && i < t.length; i++) ok = t[i] === '*' || t[i] === '#' || t[i] === w[i];
        if (ok) return { w, kind: LEXICON.get(w) };
      }
    }
  }
  const variants = t.includes('1') ? [foldLeet(t, 'i'), foldLeet(t, 'l')] : [foldLeet(t)];
  for (const v of variants) {
    const kind = LEXICON.get(v);
    if (kind) return { w: v, kind };
    if (TRIPLE.test(v)) {
      const base = SQUEEZED.get(squeeze(v));
      if (base) return { w: base, kind: LEXICON.get(base) };
    }
  }
  return { w: variants[0]!, kind: undefined };
}

const isEdge = (c: number) => c === 33 /* ! */ || c === 124 /* | */ || c === 43 /* + */ || c === 46 /* . */ || c === 39; /* ' */

function token(folded: string, start: number, end: number): Token {
  const { w, kind } = lookup(folded.slice(start, end));
  return { w, kind, start, end };
}

function tokenise(text: string): { tokens: Token[]; map: Int32Array; folded: string } {
  const f = fold(text);
  const s = f.text;
  const tokens: Token[] = [];
  // A run of single letters one separator apart ("i d i o t", "f.u.c.k") is read as one word.
  let run: number[] = [];
  const flushRun = () => {
    if (run.length >= 3) tokens.push({ ...lookup(run.map((at) => s[at]).join('')), start: run[0]!, end: run[run.length - 1]! + 1 });
    else for (const at of run) tokens.push(token(s, at, at + 1));
    run = [];
  };
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN.exec(s)) !== null) {
    // Punctuation that leetspeak could use ("idiot!", "'moron'") is not part of the word's span.
    let start = m.index;
    let end = m.index + m[0].length;
    while (start < end && isEdge(s.charCodeAt(start))) start++;
    while (end > start && isEdge(s.charCodeAt(end - 1))) end--;
    if (end === start) continue;
    if (end - start === 1) {
      if (run.length > 0 && start - run[run.length - 1]! !== 2) flushRun();
      run.push(start);
      continue;
    }
    flushRun();
    tokens.push(token(s, start, end));
  }
  flushRun();
  return { tokens, map: f.map, folded: s };
}

export interface ToxicityOptions {
  /** Score at or above which the text is flagged (0..1). Default 0.5. */
  threshold?: number;
  /** Extra words or phrases the org never wants through (plain text, matched as whole words). */
  terms?: readonly string[];
}

export interface ToxicityScore {
  score: number;
  signals: string[];
  /** Spans in the original text (what redaction replaces). */
  findings: Finding[];
}

interface Hit {
  id: string;
  weight: number;
  /** Token indices (inclusive) of what is redacted: the insult itself, the threat, the whole phrase. */
  from: number;
  to: number;
}

function insultWeight(kind: Kind | undefined, directed: 'you' | 'third' | 'copula' | 'vocative' | 'like_you'): number {
  if (kind === undefined || kind === 'profanity') return 0;
  const strong = kind === 'strong' || kind === 'adj_strong';
  const noun = kind === 'strong' || kind === 'mild';
  switch (directed) {
    case 'you':
      return strong ? 0.75 : 0.55;
    case 'like_you':
      return 0.7;
    case 'third':
      return kind === 'thing' ? 0 : strong ? 0.6 : 0.4;
    case 'copula':
      return noun ? (strong ? 0.5 : 0.3) : 0;
    case 'vocative':
      return noun ? (strong ? 0.5 : 0.3) : 0;
  }
}

const charBefore = (s: string, at: number) => (s[at - 1] === ' ' ? (s[at - 2] ?? '') : (s[at - 1] ?? ''));
const charAfter = (s: string, at: number) => (s[at] === ' ' ? (s[at + 1] ?? '') : (s[at] ?? ''));

function findInsults(tokens: Token[], folded: string, hits: Hit[]): void {
  for (let k = 0; k < tokens.length; k++) {
    const kind = tokens[k]!.kind;
    if (kind === undefined || kind === 'profanity') continue;
    let directed: 'you' | 'third' | 'copula' | undefined;
    let passedCopula = false;
    for (let j = k - 1; j >= Math.max(0, k - 7); j--) {
      const t = tokens[j]!;
      if (SECOND_PERSON.has(t.w) || (t.w === 'your' && !passedCopula)) {
        directed = 'you';
        break;
      }
      if (THIRD_PERSON.has(t.w) || (RELATIVES.has(t.w) && tokens[j - 1]?.w === 'your')) {
        directed = 'third';
        break;
      }
      if (FIRST_PERSON.has(t.w) || THINGS.has(t.w) || NEGATIONS.has(t.w)) break;
      if (COPULAS.has(t.w)) {
        passedCopula = true;
        continue;
      }
      if (FILLERS.has(t.w) || t.kind === 'adj_strong' || t.kind === 'adj_mild' || t.kind === 'profanity') continue;
      if (passedCopula && j < k - 1) {
        directed = 'copula';
      }
      break;
    }
    const next = tokens[k + 1]?.w;
    // "what a loser you are", "idiot, you are": the person named after the insult.
    if (directed === undefined && SECOND_PERSON.has(next ?? '') && COPULAS.has(tokens[k + 2]?.w ?? '')) directed = 'you';
    if (directed === undefined && (next === 'like' || next === 'as') && SECOND_PERSON.has(tokens[k + 2]?.w ?? '')) {
      hits.push({ id: 'insult_directed', weight: insultWeight(kind, 'like_you'), from: k, to: k });
      continue;
    }
    if (directed === undefined) {
      // Addressed without "you": "thanks, idiot", "Idiot!".
      const before = charBefore(folded, tokens[k]!.start);
      const after = charAfter(folded, tokens[k]!.end);
      const vocative = before === ',' || ((before === '' || '.!?'.includes(before)) && (after === '' || ',!'.includes(after)));
      const w = vocative ? insultWeight(kind, 'vocative') : 0;
      if (w > 0) hits.push({ id: 'insult_vocative', weight: w, from: k, to: k });
      continue;
    }
    const w = insultWeight(kind, directed);
    if (w > 0) hits.push({ id: directed === 'copula' ? 'insult_of_person' : 'insult_directed', weight: w, from: k, to: k });
  }
}

function matchPhrase(tokens: Token[], i: number, phrase: readonly string[]): boolean {
  if (i + phrase.length > tokens.length) return false;
  for (let j = 0; j < phrase.length; j++) if (tokens[i + j]!.w !== phrase[j]) return false;
  return true;
}

/** "I will kill you", "im gonna hurt him": a first-person subject, a violent verb, a person as object. */
function findThreatsAt(tokens: Token[], i: number, hits: Hit[]): void {
  const subject = tokens[i]!.w;
  let j = i + 1;
  while (j < tokens.length && j - i <= 5 && THREAT_MODALS.has(tokens[j]!.w)) j++;
  const verb = tokens[j]?.w;
  if (verb === undefined) return;
  const violent = VIOLENT_VERBS.has(verb);
  if (!violent && !WEAK_THREAT_VERBS.has(verb)) return;
  // Without a modal ("I find you …") only a violent verb reads as a threat, unless the subject carries it ("ill", "imma").
  if (j === i + 1 && !violent && !CONTRACTED_FUTURE.has(subject)) return;
  let k = j + 1;
  while (k < tokens.length && k - j <= 3 && THREAT_OBJECT_FILLERS.has(tokens[k]!.w)) k++;
  const target = tokens[k]?.w;
  if (target === undefined || !THREAT_TARGETS.has(target)) return;
  const after = tokens[k + 1]?.w;
  if (after !== undefined && DITRANSITIVE.has(after)) return; // "shoot you an email", "beat you to it", "hit you up"
  if (after === 'in' && !POSSESSIVES.has(tokens[k + 2]?.w ?? '')) return; // "beat you in chess", not "in your sleep"
  hits.push({ id: 'threat', weight: violent ? 0.85 : 0.5, from: j, to: k });
  // "… find you and hurt you": a chained verb keeps the subject.
  if (tokens[k + 1]?.w === 'and' && VIOLENT_VERBS.has(tokens[k + 2]?.w ?? '') && THREAT_TARGETS.has(tokens[k + 3]?.w ?? '')) {
    hits.push({ id: 'threat', weight: 0.85, from: k + 2, to: k + 3 });
  }
}

const wished = (x: string | undefined) => x !== undefined && WISH_HARM.has(x);
const harmed = (x: string | undefined, y: string | undefined) => x === 'be' && y !== undefined && GROUP_VERB_PREDICATES.has(y);

/** "you should die", "you will suffer", "you deserve to be shot", "i hope you die". */
function findWishesAt(tokens: Token[], i: number, hits: Hit[]): void {
  const a = tokens[i + 1]?.w;
  const b = tokens[i + 2]?.w;
  const c = tokens[i + 3]?.w;
  const d = tokens[i + 4]?.w;
  const obliged = a === 'should' || a === 'must' || a === 'deserve' || a === 'need' || a === 'ought';
  if (
    (obliged && (wished(b) || harmed(b, c) || (b === 'to' && (wished(c) || harmed(c, d))))) ||
    ((a === 'will' || a === 'll' || a === 'gonna') && wished(b)) ||
    (a === 're' && (b === 'going' || b === 'gonna') && (wished(c) || (c === 'to' && wished(d))))
  ) {
    hits.push({ id: 'wish_of_harm', weight: 0.8, from: i, to: Math.min(tokens.length - 1, i + 4) });
  }
  const verb = tokens[i - 1]?.w;
  if ((verb === 'hope' || verb === 'wish') && (wished(a) || (a === 'get' && (b === 'cancer' || b === 'killed' || b === 'shot' || b === 'raped')))) {
    hits.push({ id: 'wish_of_harm', weight: 0.8, from: i - 1, to: Math.min(tokens.length - 1, i + 2) });
  }
}

function findThreats(tokens: Token[], hits: Hit[]): void {
  for (let i = 0; i < tokens.length; i++) {
    const w = tokens[i]!.w;
    if (THREAT_SUBJECTS.has(w)) findThreatsAt(tokens, i, hits);
    if (SECOND_PERSON.has(w)) findWishesAt(tokens, i, hits);
  }
}

function isGroup(tokens: Token[], i: number): boolean {
  const w = tokens[i]?.w;
  if (w === undefined) return false;
  return GROUPS.has(w) || ((w === 'people' || w === 'folks') && GROUP_QUALIFIERS.has(tokens[i - 1]?.w ?? ''));
}

const GROUP_DETERMINERS = new Set(words('all the every those these'));
const skipDeterminer = (tokens: Token[], j: number) => (GROUP_DETERMINERS.has(tokens[j]?.w ?? '') ? j + 1 : j);
const isGroupTarget = (tokens: Token[], j: number) => isGroup(tokens, j) || (GROUP_QUALIFIERS.has(tokens[j]?.w ?? '') && isGroup(tokens, j + 1));

function findGroupHate(tokens: Token[], hits: Hit[]): void {
  for (let i = 0; i < tokens.length; i++) {
    if (isGroup(tokens, i)) {
      let modal = false;
      let copula = false;
      for (let j = i + 1; j < tokens.length && j - i <= 5; j++) {
        const w = tokens[j]!.w;
        if (GROUP_NOUN_PREDICATES.has(w) && copula) {
          hits.push({ id: 'dehumanising', weight: 0.85, from: i, to: j });
          break;
        }
        if (GROUP_VERB_PREDICATES.has(w) && modal) {
          hits.push({ id: 'violence_against_group', weight: 0.85, from: i, to: j });
          break;
        }
        if (MODALS.has(w)) modal = true;
        if (w === 'are' || w === 'r' || w === 're' || w === 'is' || w === 'all') copula = true;
        if (!GROUP_LINKS.has(w) && !MODALS.has(w)) break;
      }
    }
    const w = tokens[i]!.w;
    // "kill all X", "gas the X", "death to X", "i hate X"
    if (ATTACK_VERBS.has(w)) {
      const j = skipDeterminer(tokens, i + 1);
      if (isGroupTarget(tokens, j)) hits.push({ id: 'violence_against_group', weight: 0.9, from: i, to: j });
    } else if (w === 'death' && tokens[i + 1]?.w === 'to') {
      const j = skipDeterminer(tokens, i + 2);
      if (isGroupTarget(tokens, j)) hits.push({ id: 'violence_against_group', weight: 0.9, from: i, to: j });
    } else if (w === 'hate' && tokens[i - 1]?.w === 'i') {
      const j = skipDeterminer(tokens, i + 1);
      if (isGroupTarget(tokens, j)) hits.push({ id: 'hate_of_group', weight: 0.7, from: i - 1, to: j });
    }
  }
}

function compileTerms(terms: readonly string[] | undefined): Phrase[] {
  return (terms ?? [])
    .filter((t) => typeof t === 'string')
    .map((t) => fold(t).text.replace(NOT_TERM_CHAR, ' ').replace(APOSTROPHE, '').trim())
    .filter((t) => t.length > 0)
    .slice(0, 1000)
    // Read like the text's tokens are (leetspeak undone), so "h4x0r" and "haxor" both match either.
    .map((t) => ({ words: words(t).map((w) => lookup(w).w), weight: 0.9, id: 'org_term' }));
}

/** Scores `text` for toxicity (0..1). Pure; never throws on any string. */
export function scoreToxicity(text: string, opts: ToxicityOptions = {}, extraPhrases: readonly Phrase[] = compileTerms(opts.terms)): ToxicityScore {
  const { tokens, map, folded } = tokenise(text);
  const hits: Hit[] = [];
  findInsults(tokens, folded, hits);
  findThreats(tokens, hits);
  findGroupHate(tokens, hits);
  let reporting = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (REPORTING.has(t.w)) reporting = true;
    if (SEVERE.has(t.w)) hits.push({ id: 'severe_slur', weight: 0.55, from: i, to: i });
    const phrases = PHRASE_INDEX.get(t.w);
    if (phrases) for (const p of phrases) if (matchPhrase(tokens, i, p.words)) hits.push({ id: p.id, weight: p.weight, from: i, to: i + p.words.length - 1 });
    for (const p of extraPhrases) if (p.words[0] === t.w && matchPhrase(tokens, i, p.words)) hits.push({ id: p.id, weight: p.weight, from: i, to: i + p.words.length - 1 });
  }
  if (hits.length === 0) return { score: 0, signals: [], findings: [] };
  const best = new Map<string, number>();
  for (const h of hits) best.set(h.id, Math.max(best.get(h.id) ?? 0, h.weight));
  let keep = 1;
  for (const w of best.values()) keep *= 1 - w;
  let score = 1 - keep;
  // Reporting or asking about abuse ("he called me an idiot, what do I do?") is not abuse.
  if (reporting && !best.has('org_term')) score *= 0.55;
  const findings: Finding[] = hits
    .filter((h) => h.weight >= 0.3)
    .map((h) => {
      const s = map[tokens[h.from]!.start]!;
      const lastChar = map[tokens[h.to]!.end - 1]!;
      const width = (text.codePointAt(lastChar) ?? 0) > 0xffff ? 2 : 1;
      return { type: 'TOXICITY', start: s, end: lastChar + width };
    });
  const signals = [...best.entries()].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  return { score: Math.round(score * 1000) / 1000, signals, findings };
}

/** The tokeniser and the few regexes toxicity runs (for the catastrophic-backtracking test). */
export const TOXICITY_REGEXES: readonly RegExp[] = [TOKEN, PLAIN_WORD, ANY_LETTER, EDGE_PUNCTUATION, APOSTROPHE, TRIPLE, REPEATS, MASK, NOT_TERM_CHAR];

export function createToxicityDetector(opts: ToxicityOptions = {}): Detector {
  const threshold = opts.threshold ?? 0.5;
  const terms = compileTerms(opts.terms);
  return {
    type: 'toxicity',
    redactable: true,
    detect(text: string): Detection {
      const { score, signals, findings } = scoreToxicity(text, opts, terms);
      const flagged = score >= threshold;
      return { flagged, reasons: flagged ? signals.map((s) => `toxicity: ${s}`) : [], findings: flagged ? findings : [], score };
    },
  };
}
