// Prompt injection and jailbreak detection: a scored heuristic over folded text. Each pattern is a
// signal with a weight; signals combine as a noisy OR (1 − Π(1 − w)), so one strong phrase ("ignore
// your previous instructions") blocks while a weak one alone ("jailbreak my iPhone", "no restrictions")
// does not. Text is folded first (see normalise.ts), then base64 segments and tag-character payloads
// are decoded and scored as well. Patterns run on a words-only form (a–z, 0–9, single spaces), with
// bounded gaps of whole words, so none can backtrack more than a constant per position.
import { Buffer } from 'node:buffer';
import { foldLeet, foldText, type FoldedText } from './normalise.js';
import type { Detection, Detector } from './types.js';

interface Signal {
  id: string;
  weight: number;
  re: RegExp;
  /** Where the pattern looks: the words-only form (default) or the folded text with its punctuation. */
  on?: 'words' | 'folded';
  /** A lower weight when the text has no sign of talking to an AI (e.g. "developer mode" on a phone). */
  weightWithoutAiContext?: number;
  /**
   * Necessary words (words-form signals): for each list, the text has at least one of its words,
   * whole, or the pattern cannot match — each list is a group of alternatives the pattern cannot do
   * without (of a phrase, one of its words). Checked against the text's set of words before the
   * pattern runs, so ordinary prose skips most patterns. Folded-form signals: literals instead.
   */
  needs?: readonly (readonly string[])[];
  needsLiteral?: readonly string[];
}

// Word groups more than one signal cannot do without (see `needs`).
const W_OVERRIDE = ['ignore', 'ignoring', 'disregard', 'disregarding', 'forget', 'forgetting', 'override', 'overriding', 'bypass', 'skip', 'discard', 'abandon', 'overrule', 'neglect', 'nevermind', 'mind', 'following', 'follow', 'away', 'aside'];
const W_N_STRONG = ['instruction', 'instructions', 'prompt', 'prompts', 'rules', 'directive', 'directives', 'guideline', 'guidelines', 'programming', 'guardrail', 'guardrails', 'restriction', 'restrictions', 'constraint', 'constraints', 'policy', 'policies', 'training', 'safeguard', 'safeguards', 'conditioning', 'protocol', 'protocols', 'filter', 'filters', 'limitation', 'limitations', 'boundaries', 'ethics', 'morals'];
const W_N_WEAK = ['context', 'message', 'messages', 'command', 'commands', 'orders', 'directions', 'guidance', 'text', 'conversation', 'settings', 'everything', 'task', 'tasks'];

const alt = (words: string) => `(?:${words})`;
// One word of a gap, never the speaker's own "my/our" (a user overriding their own instructions is benign).
const GAP = '(?!(?:my|our|me|i|we)\\b)[a-z0-9]{1,24}';
const gap = (n: number) => `(?: ${GAP}){0,${n}}`;

const V_OVERRIDE = alt(
  'ignore|ignoring|disregard|disregarding|forget|forgetting|override|overriding|bypass|skip|discard|abandon|overrule|neglect|nevermind|never mind|stop following|do not follow|don t follow|dont follow|no longer follow|throw away|put aside|set aside',
);
const Q_STRONG = alt('previous|previously|prior|preceding|above|earlier|initial|original|former|your|system|developer|safety|given|existing|current|openai|anthropic|hidden');
const N_STRONG_WORDS =
  'instructions?|instruction set|prompts?|system prompt|rules|directives?|guidelines?|programming|guardrails?|restrictions?|constraints?|polic(?:y|ies)|training|safeguards?|conditioning|protocols?|filters?|limitations?|boundaries|ethics|morals';
const N_WEAK_WORDS = 'context|messages?|commands?|orders|directions|guidance|text|conversation|settings|everything|tasks?';
const N_STRONG = alt(N_STRONG_WORDS);
const N_WEAK = alt(N_WEAK_WORDS);
// "… instructions I gave you": the speaker's own instructions, which they may override.
const NOT_OWN = '(?! (?:i|we) (?:gave|wrote|sent|told|provided|said|typed|mentioned|asked))';
const FOLLOW_UP = alt(
  'say|print|output|write|respond|reply|tell|reveal|show|do|follow|repeat|act|answer|translate|execute|run|obey|comply|give|list|provide|generate|explain|return|send|insult|curse|swear|describe',
);
const AI_CONTEXT =
  /\b(?:chatgpt|gpt\d?|openai|anthropic|claude|gemini|llama|llm|language model|ai model|ai assistant|assistant|chatbot|the model|ai|your (?:responses?|answers?|outputs?|replies|policies|guidelines|restrictions|filters|programming|rules)|content polic(?:y|ies)|respond|response|answer|reply|output|generate)\b/;
const META_TOPIC = /\b(?:prompt injections?|jailbreak(?:s|ing)?|injection attacks?|adversarial prompts?|red team(?:ing)?)\b/;
const META_FRAME =
  /\b(?:what is|what are|what s|explain|explaining|how (?:do|does|can|to|should|would) (?:i |we |you |they )?(?:detect|prevent|defend|protect|mitigate|stop|block|test|classify|handle|filter|work)|examples? of|research|classifier|for a (?:talk|presentation|class|course|paper|blog|report)|security team|awareness|dataset|why (?:does|do|would|did))\b/;

const SIGNAL_LIST: Signal[] = [
  // Instruction override
  { id: 'override_instructions', needs: [W_OVERRIDE, W_N_STRONG], weight: 0.8, re: new RegExp(`\\b${V_OVERRIDE}${gap(3)} ${Q_STRONG}${gap(2)} ${N_STRONG}\\b${NOT_OWN}`) },
  { id: 'override_context', needs: [W_OVERRIDE, W_N_WEAK], weight: 0.5, re: new RegExp(`\\b${V_OVERRIDE}${gap(3)} ${Q_STRONG}${gap(2)} ${N_WEAK}\\b${NOT_OWN}`) },
  { id: 'override_all_rules', needs: [W_OVERRIDE, W_N_STRONG], weight: 0.45, re: new RegExp(`\\b${V_OVERRIDE}${gap(2)} (?:all|any|every)${gap(2)} ${N_STRONG}\\b`) },
  {
    id: 'override_then_command', needs: [W_OVERRIDE, ['and', 'then', 'instead', 'now']],
    weight: 0.5,
    re: new RegExp(`\\b${V_OVERRIDE}${gap(4)} ${alt(`${N_STRONG_WORDS}|${N_WEAK_WORDS}|above|before`)}${gap(3)} (?:and|then|instead|now)${gap(2)} ${FOLLOW_UP}\\b`),
  },
  {
    id: 'forget_everything', needs: [['forget', 'ignore', 'disregard', 'erase', 'clear'], ['everything', 'all']],
    weight: 0.75,
    re: /\b(?:forget|ignore|disregard|erase|clear) (?:about )?(?:everything|all)(?: of it)? (?:you (?:were|have been|ve been|are) (?:told|taught|instructed|given|programmed|trained)|(?:above|before this|previously|so far|prior to this))\b/,
  },
  {
    id: 'new_instructions', needs: [['new', 'updated', 'real', 'actual', 'true', 'revised', 'hidden', 'secret'], ['instructions', 'prompt', 'directive', 'directives', 'orders', 'task', 'rules', 'role', 'goal', 'purpose', 'objective']],
    weight: 0.45,
    re: /\b(?:(?:your|the|these are|here are|follow)(?: [a-z]{1,15})? )?(?:new|updated|real|actual|true|revised|hidden|secret) (?:system )?(?:instructions|prompt|directives?|orders|task|rules|role|goal|purpose|objective)\b/,
  },
  // System prompt exfiltration
  {
    id: 'prompt_exfiltration', needs: [['prompt', 'message', 'instructions', 'preprompt', 'configuration', 'given']],
    weight: 0.7,
    re: new RegExp(
      `\\b(?:reveal|show|print|display|output|repeat|tell|give|send|leak|dump|expose|disclose|share|recite|write out|spell out|list|what (?:is|are|was|were|s)|copy|paste|paraphrase|summari[sz]e|translate|describe)(?: (?:me|us))?${gap(2)} (?:your|the (?:hidden|secret|initial|full|complete|exact|entire|confidential)|(?:hidden|secret|initial|confidential))(?: (?:own|original|full|exact|entire|complete|initial|hidden|secret|system|developer))? (?:system prompt|system message|initial prompt|instructions|prompt|developer message|hidden prompt|pre ?prompt|preprompt|meta prompt|system instructions|configuration|guidelines you were given|rules you were given)\\b(?! (?:for|on|about|to|how) )`,
    ),
  },
  {
    id: 'system_prompt_request', needs: [['prompt', 'message']],
    weight: 0.35,
    re: /\b(?:reveal|show|print|display|output|repeat|tell me|give me|leak|dump|expose|disclose|recite|copy)(?: [a-z0-9]{1,24}){0,2} (?:the )?(?:system prompt|system message|developer message|initial prompt)\b/,
  },
  {
    id: 'repeat_above_verbatim', needs: [['above', 'preceding', 'before', 'prior', 'far'], ['verbatim', 'word', 'exactly', 'starting', 'full', 'block', 'everything', 'unchanged', 'changes', 'modification']],
    weight: 0.6,
    re: new RegExp(
      `\\b(?:repeat|print|output|copy|reproduce|write|echo|return|show|display|reveal)${gap(4)} (?:above|preceding|before this|prior to this|so far)${gap(5)} (?:verbatim|word for word|exactly|starting (?:with|from)|in full|in a code block|including everything|unchanged|without (?:changes|modification))\\b`,
    ),
  },
  {
    id: 'repeat_above', needs: [['above', 'before', 'preceding', 'prior']],
    weight: 0.4,
    re: /\b(?:repeat|print|output|copy|reproduce|echo|reveal|show)(?: [a-z0-9]{1,24}){0,2} (?:everything|all|the text|the words|all text|all words|all the text|all the words|the content|the instructions|the prompt|your prompt|the message) (?:above|before|preceding|prior)\b/,
  },
  // Personas and jailbreaks
  {
    id: 'jailbreak_persona', needs: [['anything', 'dan', 'jailbreak', 'jailbroken', 'developer', 'dev', 'stan', 'dude', 'aim', 'tom', 'confidant', 'chaosgpt', 'gpt', 'betterdan', 'devmode', 'omega', 'ai']],
    weight: 0.75,
    re: /\b(?:do anything now|dan mode|dan prompt|jailbreak prompt|jailbroken mode|developer mode (?:enabled|output|activated)|dev mode (?:enabled|activated)|(?:you are|you re|act as|pretend to be|become|roleplay as|role play as|play the role of|you will be|you ll be|you are going to be|you re going to be)(?: [a-z]{1,24}){0,2} (?:dan(?! s\b)|stan|dude|aim|mongo tom|evil confidant|anti dan|chaosgpt|chaos gpt|betterdan|better dan|devmode|omega|unrestricted ai|uncensored ai))\b/,
  },
  {
    id: 'special_mode', needs: [['mode']],
    weight: 0.65,
    weightWithoutAiContext: 0.2,
    re: /\b(?:enable|enabled|activate|activated|enter|entering|switch to|switched to|turn on|turned on|unlock|unlocked|in|into|with|simulate)(?: [a-z]{1,24}){0,1} (?:developer|dev|debug|god|admin|sudo|root|unrestricted|jailbreak|jailbroken|evil|opposite|unfiltered|uncensored|unlocked|maintenance) mode\b/,
  },
  {
    id: 'unrestricted_identity', needs: [['you'], ['free', 'freed', 'unrestricted', 'unfiltered', 'uncensored', 'unbound', 'unchained', 'liberated', 'jailbroken', 'amoral', 'immoral', 'unethical', 'rogue', 'longer', 'not', 'without', 'able', 'capable', 'allowed']],
    weight: 0.7,
    re: new RegExp(
      `\\b(?:you are|you re|you will be|you ll be|from now on you(?: are| re| will| ll)?|now you are|you have become|you become|you are now|you re now)(?: now)?${gap(3)} (?:free (?:from|of)|freed|unrestricted|unfiltered|uncensored|unbound|unchained|liberated|jailbroken|amoral|immoral|unethical|rogue|no longer (?:bound|restricted|limited|constrained|required to follow|chatgpt|an ai|an assistant|a language model|claude|subject to)|not bound|not restricted|without (?:any )?(?:rules|restrictions|limits|limitations|filters|guidelines|ethics|morals)|able to do anything|capable of anything|allowed to (?:say|do) anything)\\b`,
    ),
  },
  { id: 'you_are_now', needs: [['now']], weight: 0.2, re: /\b(?:you are now|you re now|from now on you|from now on your|you will now act|you will now respond|you will now be)\b/ },
  {
    id: 'roleplay_bypass', needs: [['pretend', 'act', 'behave', 'roleplay', 'role', 'simulate', 'respond', 'answer', 'reply', 'imagine', 'let', 'lets', 'hypothetically'], ['rules', 'restrictions', 'limits', 'limitations', 'filters', 'guidelines', 'ethics', 'morals', 'morality', 'boundaries', 'censorship', 'policy', 'policies', 'safety', 'constraints', 'programming']],
    weight: 0.65,
    re: new RegExp(
      `\\b(?:pretend|act|behave|roleplay|role play|simulate|respond|answer|reply|imagine|let s play a game|lets play a game|hypothetically)${gap(6)} (?:you (?:have|ve got|had|are|were) (?:no|without(?: any)?|free (?:from|of)|not bound by|not restricted by|unbound by)|without(?: any)?|no longer (?:have|bound by)|not bound by|not restricted by|unbound by|free (?:from|of)) (?:[a-z]{1,15} )?(?:rules|restrictions|limits|limitations|filters|guidelines|ethics|morals|morality|boundaries|censorship|content polic(?:y|ies)|safety|constraints|programming)\\b`,
    ),
  },
  {
    id: 'no_restrictions', needs: [['restrictions', 'limitations', 'filters', 'guidelines', 'censorship', 'constraints', 'morals', 'ethics', 'policy', 'policies', 'safeguards', 'guardrails']],
    weight: 0.35,
    re: /\b(?:no|without(?: any)?|free (?:from|of)|not bound by|unbound by|zero) (?:(?:ethical|moral|content|safety|openai|anthropic|ai|usage) )?(?:restrictions|limitations|filters|guidelines|censorship|constraints|morals|ethics|polic(?:y|ies)|safeguards|guardrails)\b/,
  },
  { id: 'jailbreak_term', needs: [['jailbreak', 'jailbroken', 'jailbreaking', 'jail']], weight: 0.3, re: /\b(?:jailbreak|jailbroken|jailbreaking|jail broken)\b/ },
  { id: 'stay_in_character', needs: [['character']], weight: 0.35, re: /\b(?:stay|remain|never break|don t break|do not break|dont break|never leave|stay fully)(?: [a-z]{1,15})? (?:in )?character\b/ },
  {
    id: 'dual_response', needs: [['jailbreak', 'jailbroken', 'unfiltered', 'uncensored', 'dan', 'developer']],
    weight: 0.5,
    re: /\b(?:two|2|both|dual) (?:different |separate )?(?:responses|answers|replies|paragraphs|outputs)\b(?: [a-z0-9]{1,24}){0,10} (?:jailbreak|jailbroken|unfiltered|uncensored|dan|developer mode)\b/,
  },
  {
    id: 'evil_ai_roleplay', needs: [['unrestricted', 'unfiltered', 'uncensored', 'evil', 'rogue', 'malicious', 'jailbroken', 'amoral', 'unethical', 'unaligned', 'uncontrolled', 'unlimited'], ['ai', 'assistant', 'model', 'chatbot', 'version', 'bot', 'llm', 'intelligence', 'gpt', 'chatgpt', 'entity', 'persona']],
    weight: 0.7,
    re: /\b(?:act as|pretend to be|pretend you are|simulate|emulate|you are|you re|become|roleplay as|role play as|play|be)(?: [a-z]{1,24}){0,2} (?:an? )?(?:unrestricted|unfiltered|uncensored|evil|rogue|malicious|jailbroken|amoral|unethical|unaligned|uncontrolled|unlimited)(?: [a-z]{1,24})? (?:ai|assistant|model|chatbot|version|bot|llm|language model|intelligence|gpt|chatgpt|entity|persona)\b/,
  },
  {
    id: 'unrestricted_ai_persona', needs: [['ai', 'assistant', 'model', 'chatbot', 'bot', 'version', 'llm']],
    weight: 0.65,
    re: /\b(?:ai|assistant|model|chatbot|bot|language model|version of yourself|llm)(?: (?:with|that has|having|without)) (?:no|zero|any)? ?(?:filters|rules|restrictions|limits|limitations|guidelines|ethics|morals|censorship|guardrails|safety)\b/,
  },
  {
    id: 'rules_do_not_apply', needs: [['apply', 'matter', 'exist', 'count', 'bind']],
    weight: 0.55,
    re: /\b(?:safety|content|ethical|your|the usual|normal|openai s|openai|anthropic s)(?: [a-z]{1,15})? (?:rules|restrictions|guidelines|filters|policies|polic(?:y|ies)|limits|limitations) (?:don t|do not|doesn t|does not|no longer|won t|will not|shouldn t) (?:apply|matter|exist|count|bind)\b/,
  },
  {
    id: 'no_refusal', needs: [['anything', 'rules', 'limits', 'restrictions', 'filters', 'refuse', 'refusing', 'refusal', 'warning', 'warnings', 'disclaimer', 'disclaimers', 'censorship', 'filtering', 'moralizing', 'moralising']],
    weight: 0.4,
    re: /\b(?:you (?:can|will|must|should|are able to|are allowed to) (?:say|do|answer|generate|write) anything|there are no (?:rules|limits|restrictions|filters)|never refuse|cannot refuse|can t refuse|must not refuse|do not refuse|don t refuse|without refusing|(?:answer|respond)(?: [a-z]{1,24}){0,3} (?:without|no) (?:refus(?:al|ing)|warnings?|disclaimers?|censorship|filtering|moralizing|moralising))\b/,
  },
  {
    id: 'bypass_your_safety', needs: [['filter', 'filters', 'restriction', 'restrictions', 'guardrail', 'guardrails', 'guidelines', 'policy', 'policies', 'censorship', 'safeguard', 'safeguards', 'alignment', 'moderation', 'limitations', 'protocols', 'programming', 'training', 'rules', 'safety']],
    weight: 0.55,
    re: new RegExp(
      `\\b(?:bypass|circumvent|evade|get around|get past|work around|sidestep|break out of|escape|disable|turn off|deactivate|remove|switch off|override|ignore)${gap(2)} (?:your|its|the ai s|the model s|openai s|anthropic s|chatgpt s)(?: [a-z]{1,24})? (?:filters?|restrictions?|guardrails?|guidelines|polic(?:y|ies)|censorship|safeguards?|alignment|moderation|limitations|protocols|programming|training|rules|safety)\\b`,
    ),
  },
  {
    id: 'bypass_safety', needs: [['safety', 'content', 'ethical', 'moral'], ['filter', 'filters', 'restriction', 'restrictions', 'guardrail', 'guardrails', 'guidelines', 'policy', 'policies', 'check', 'checks', 'mechanism', 'mechanisms', 'measure', 'measures']],
    weight: 0.4,
    re: /\b(?:bypass|circumvent|evade|get around|get past|disable|turn off|remove) (?:the |all |any )?(?:ai |model )?(?:safety|content|ethical|moral) (?:filters?|restrictions?|guardrails?|guidelines|polic(?:y|ies)|checks?|mechanisms?|measures?)\b/,
  },
  // Forged chat-template and role markers
  {
    id: 'chat_template_markers', needsLiteral: ['<', '['],
    weight: 0.5,
    on: 'folded',
    re: /<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id|eot_id|begin_of_text)\|>|\[\/?inst\]|<<\/?sys>>|<\/?(?:system|sys|instructions?|admin)>|\[(?:system|admin|developer)(?: message| note| override| prompt)?\]/,
  },
  { id: 'role_prefix', needsLiteral: [':'], weight: 0.35, on: 'folded', re: /(?:^|[.!?\]>] )(?:system|assistant|developer) ?: / },
  {
    id: 'fake_override_notice', needs: [['override', 'overrides', 'activated', 'granted', 'prompt', 'instructions', 'attention']],
    weight: 0.5,
    re: /\b(?:(?:system|admin|administrator|developer|root|sudo|security|maintenance) (?:override|overrides|mode activated|access granted)|(?:begin|start|end) (?:of )?(?:the )?(?:system|new) (?:prompt|instructions)|important new instructions|attention (?:ai|assistant|llm|model))\b/,
  },
  // Encoded payloads
  {
    id: 'decode_and_follow', needs: [['base64', 'base', 'b64', 'rot13', 'rot', 'hex', 'hexadecimal', 'binary', 'morse', 'cipher', 'encoded', 'reversed']],
    weight: 0.4,
    re: /\b(?:decode|decipher|decrypt|translate|convert|interpret|unscramble|reverse)(?: [a-z0-9]{1,24}){0,4} (?:base64|base 64|b64|rot13|rot 13|hex|hexadecimal|binary|morse|cipher|encoded|reversed)(?: [a-z0-9]{1,24}){0,6} (?:and|then)(?: [a-z0-9]{1,24}){0,2} (?:follow|execute|do|obey|run|act on|perform|carry out|comply|answer|respond)\b/,
  },
];

// One object shape for every signal (the loop over them reads the same properties of each: with
// the optional ones absent here and there, each read was a megamorphic look-up).
const SIGNALS: Signal[] = SIGNAL_LIST.map((s) => ({
  id: s.id,
  weight: s.weight,
  re: s.re,
  on: s.on ?? 'words',
  weightWithoutAiContext: s.weightWithoutAiContext,
  needs: s.needs ?? [],
  needsLiteral: s.needsLiteral,
}));

const NON_WORD = /[^a-z0-9]+/g;
const QUOTE = /["'`\u2018\u2019\u201c\u201d\u00ab\u00bb]/;
const UPPER = /[A-Z]/;
const LOWER = /[a-z]/;
const URL_SAFE_MINUS = /-/g;
const URL_SAFE_UNDERSCORE = /_/g;
const BASE64_SEGMENT = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}/g;
const MAX_BASE64_SEGMENTS = 32;
const MAX_BASE64_CHARS = 64 * 1024;

export interface InjectionOptions {
  /** Score at or above which the text is flagged (0..1). Default 0.5. */
  threshold?: number;
  /** Decode base64-looking segments and score them too. Default true. */
  decodeBase64?: boolean;
}

export interface InjectionScore {
  score: number;
  /** Signal ids, strongest first; `…(base64)` / `…(hidden)` when found in a decoded payload. */
  signals: string[];
}

type Found = Map<string, number>;

// "i g n o r e" → "ignore": runs of three or more single letters are read as one word.
const SPACED_LETTERS = /\b(?:[a-z] ){2,}[a-z]\b/g;
const SPACE = / /g;
const joinSpaced = (run: string) => run.replace(SPACE, '');
const wordsOf = (folded: string) => ` ${folded.replace(NON_WORD, ' ').trim().replace(SPACED_LETTERS, joinSpaced)} `;

/** Each signal's pattern and what it cannot match without (for the test that checks it). */
export const INJECTION_PREFILTERS: readonly Pick<Signal, 'id' | 're' | 'on' | 'needs' | 'needsLiteral'>[] = SIGNALS;
/** The words form a signal pattern runs on. */
export const injectionWords = (folded: string) => wordsOf(folded);

/** Every regex the injection detector runs (for the catastrophic-backtracking test). */
export const INJECTION_REGEXES: readonly RegExp[] = [...SIGNALS.map((s) => s.re), AI_CONTEXT, META_TOPIC, META_FRAME, NON_WORD, BASE64_SEGMENT, UPPER, LOWER, SPACED_LETTERS, QUOTE];

// Each `needs` list of each signal gets an index; a word points at the lists it is in.
const NEED_LISTS = SIGNALS.map((s) => (s.needs ?? []).map(() => 0));
const LISTS_OF_WORD = new Map<string, number[]>();
let needCount = 0;
SIGNALS.forEach((s, i) =>
  (s.needs ?? []).forEach((list, k) => {
    const id = needCount++;
    NEED_LISTS[i]![k] = id;
    for (const w of list) LISTS_OF_WORD.set(w, [...(LISTS_OF_WORD.get(w) ?? []), id]);
  }),
);

const isWordCode = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);

/**
 * Calls `visit` with each word of `wordsOf(folded)`, in order, without making that string: runs of
 * a–z and 0–9, and three or more one-letter words in a row as one ("i g n o r e" → "ignore").
 */
export function eachInjectionWord(folded: string, visit: (word: string) => void): void {
  let letters = ''; // one-letter words in a row, not visited yet
  const flush = () => {
    if (letters.length >= 3) visit(letters);
    else for (let k = 0; k < letters.length; k++) visit(letters[k]!);
    letters = '';
  };
  const n = folded.length;
  let i = 0;
  while (i < n) {
    if (!isWordCode(folded.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isWordCode(folded.charCodeAt(i))) i++;
    if (i - start === 1 && folded.charCodeAt(start) >= 0x61) {
      letters += folded[start];
      continue;
    }
    if (letters) flush();
    visit(folded.slice(start, i));
  }
  if (letters) flush();
}

// Which `needs` lists a text meets (collect's scratch: it never runs inside itself).
const met = new Uint8Array(needCount);
const markWord = (w: string) => {
  const lists = LISTS_OF_WORD.get(w);
  if (lists) for (const id of lists) met[id] = 1;
};

function collect(folded: string, found: Found, suffix: string): void {
  // Which `needs` lists the text meets: one look-up per word of the text.
  met.fill(0);
  eachInjectionWord(folded, markWord);
  let words: string | undefined; // made only for a signal whose words are all there
  let aiContext: boolean | undefined;
  signals: for (let i = 0; i < SIGNALS.length; i++) {
    const s = SIGNALS[i]!;
    const needs = NEED_LISTS[i]!;
    for (let k = 0; k < needs.length; k++) if (met[needs[k]!] !== 1) continue signals;
    if (s.needsLiteral && !s.needsLiteral.some((l) => folded.includes(l))) continue;
    if (!s.re.test(s.on === 'folded' ? folded : (words ??= wordsOf(folded)))) continue;
    let w = s.weight;
    if (s.weightWithoutAiContext !== undefined) {
      aiContext ??= AI_CONTEXT.test((words ??= wordsOf(folded)));
      if (!aiContext) w = s.weightWithoutAiContext;
    }
    const id = s.id + suffix;
    if ((found.get(id) ?? 0) < w) found.set(id, w);
  }
}

const combine = (weights: Iterable<number>) => {
  let keep = 1;
  for (const w of weights) keep *= 1 - w;
  return 1 - keep;
};

/** Whether the text has 16 base64 characters in a row: BASE64_SEGMENT cannot match otherwise (one pass, no backtracking). */
function hasBase64Run(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const inClass = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f || c === 0x5f || c === 0x2d;
    if (!inClass) run = 0;
    else if (++run >= 16) return true;
  }
  return false;
}

/** Text that base64 decodes to, when it is readable text (not bytes that happen to decode). */
function decodeBase64Text(segment: string): string | undefined {
  const clean = segment.replace(URL_SAFE_MINUS, '+').replace(URL_SAFE_UNDERSCORE, '/');
  if (clean.length % 4 === 1) return undefined;
  const decoded = Buffer.from(clean, 'base64').toString('utf8');
  if (decoded.length < 8) return undefined;
  let readable = 0;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09 || (c >= 0xa0 && c !== 0xfffd)) readable++;
  }
  return readable / decoded.length >= 0.9 && decoded.includes(' ') ? decoded : undefined;
}

function scoreInto(text: string, f: FoldedText, found: Found, suffix: string, depth: number, decodeBase64: boolean): void {
  collect(f.text, found, suffix);
  const leet = foldLeet(f.text);
  if (leet !== f.text) collect(leet, found, suffix);
  if (f.hidden.trim().length >= 4) {
    found.set('tag_character_payload', 0.6);
    scoreInto(f.hidden, foldText(f.hidden), found, '(hidden)', depth + 1, decodeBase64);
  }
  if (f.invisibleInWords >= 3) found.set('zero_width_in_words', Math.max(found.get('zero_width_in_words') ?? 0, 0.2));
  if (f.mixedScriptWords >= 2) found.set('mixed_script_words', Math.max(found.get('mixed_script_words') ?? 0, 0.2));
  if (!decodeBase64 || depth >= 2 || !hasBase64Run(text)) return;
  BASE64_SEGMENT.lastIndex = 0;
  let m: RegExpExecArray | null;
  let segments = 0;
  let chars = 0;
  while ((m = BASE64_SEGMENT.exec(text)) !== null && segments < MAX_BASE64_SEGMENTS && chars < MAX_BASE64_CHARS) {
    const seg = m[0];
    // Words and identifiers decode to noise; real payloads mix case or carry digits and padding.
    if (!UPPER.test(seg) || !LOWER.test(seg)) continue;
    segments++;
    chars += seg.length;
    const decoded = decodeBase64Text(seg.slice(0, MAX_BASE64_CHARS));
    if (decoded === undefined) continue;
    const inner: Found = new Map();
    scoreInto(decoded, foldText(decoded), inner, '', depth + 1, decodeBase64);
    for (const [id, w] of inner) {
      const key = `${id}(base64)`;
      if ((found.get(key) ?? 0) < w) found.set(key, w);
    }
  }
}

/** Scores `text` for prompt injection (0..1). Pure; never throws on any string. */
export function scoreInjection(text: string, opts: InjectionOptions = {}): InjectionScore {
  const found: Found = new Map();
  const folded = foldText(text);
  scoreInto(text, folded, found, '', 0, opts.decodeBase64 !== false);
  if (found.size === 0) return { score: 0, signals: [] };
  let score = combine(found.values());
  // Talking about injection ("what is prompt injection? e.g. 'ignore previous instructions'") is not
  // doing it: asked about, with the example quoted. Unquoted, the phrase is an instruction like any other.
  const words = wordsOf(folded.text);
  if (QUOTE.test(text) && META_TOPIC.test(words) && META_FRAME.test(words)) score *= 0.6;
  const signals = [...found.entries()].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  return { score: Math.round(score * 1000) / 1000, signals };
}

export function createInjectionDetector(opts: InjectionOptions = {}): Detector {
  const threshold = opts.threshold ?? 0.5;
  return {
    type: 'prompt_injection',
    redactable: false,
    detect(text: string): Detection {
      const { score, signals } = scoreInjection(text, opts);
      const flagged = score >= threshold;
      return { flagged, reasons: flagged ? signals.map((s) => `prompt_injection: ${s}`) : [], findings: [], score };
    },
  };
}
