import { describe, expect, it } from 'vitest';
import { createToxicityDetector, scoreToxicity } from './toxicity.js';
import { detectorGuardrail } from './verdict.js';

const flagged = (text: string) => createToxicityDetector().detect(text).flagged;

describe('toxicity detection', () => {
  it.each([
    ['an insult addressed to you', 'You are such an idiot.'],
    ['an insult after the name', 'What a pathetic loser you are.'],
    ['an insult of a third person', 'He is a total moron.'],
    ['an insult of a relative', 'Your mom is a whore.'],
    ['a vocative insult', 'Thanks, idiot.'],
    ['a threat', 'I will kill you.'],
    ['a chained threat', "I'm going to find you and hurt you."],
    ['a threat in your sleep', "I'll stab you in your sleep."],
    ['a wish of harm', 'I hope you die.'],
    ['incitement to self-harm', 'kill yourself'],
    ['dehumanising a group', 'Immigrants are vermin.'],
    ['violence against a group', 'Muslims should be exterminated.'],
    ['hatred of a group', 'I hate women.'],
    ['an abusive phrase', 'fuck off'],
  ])('flags %s', (_what, text) => {
    expect(flagged(text)).toBe(true);
  });

  it.each([
    ['leetspeak', 'you 1d10t'],
    ['masks', 'ur a f*cking m0r0n'],
    ['stretched letters', 'you stuuuupid clown'],
    ['spaced letters', 'you are an i d i o t'],
    ['dotted letters', 'you are an i.d.i.o.t'],
    ['homoglyphs', 'уоu ѕtuрid іdіоt'],
    ['zero-width characters', 'you are an id\u200biot'],
  ])('sees through %s', (_what, text) => {
    expect(flagged(text)).toBe(true);
  });

  it.each([
    'How do I kill the process on port 3000?',
    'kill -9 1234',
    'We need to shoot a photo for the catalog.',
    "I'll shoot you an email tomorrow.",
    "I'm going to beat you at chess!",
    "I'll beat you in chess.",
    'Beat the eggs until stiff.',
    'This code is garbage, can you refactor it?',
    'I feel so stupid today.',
    'Am I an idiot for buying this?',
    "You're not an idiot, you just made a mistake.",
    'Is "moron" an offensive word?',
    'My coworker called me an idiot, how do I respond?',
    'Idiot-proof design tips',
    'The Idiot is a novel by Dostoevsky.',
    'Jews were killed in the Holocaust; what were the causes?',
    'Damn, this recipe is good!',
    'Shut up and take my money!',
  ])('passes the benign %j', (text) => {
    expect(flagged(text)).toBe(false);
  });

  it('adds the org terms, as whole words', () => {
    const d = createToxicityDetector({ terms: ['frobnicator', 'Bad Word'] });
    expect(d.detect('you frobnicator').flagged).toBe(true);
    expect(d.detect('what a bad word').flagged).toBe(true);
    expect(d.detect('frobnicators are fine').flagged).toBe(false);
  });

  it('points findings at the original text, through folding', () => {
    const text = 'Well уоu ѕtuрid іdіоt!';
    const r = scoreToxicity(text);
    expect(r.findings.map((f) => text.slice(f.start, f.end))).toEqual(['ѕtuрid', 'іdіоt']);
  });

  it('redacts only the abuse', () => {
    const v = detectorGuardrail(createToxicityDetector(), 'redact', 'open').check('Listen, you are such an idiot. Anyway, see you.', { stage: 'output' });
    expect(v).toMatchObject({ verdict: 'redact', data: { redacted: 'Listen, you are such an [REDACTED_TOXICITY]. Anyway, see you.' } });
  });
});
