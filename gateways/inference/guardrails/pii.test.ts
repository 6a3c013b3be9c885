import { describe, expect, it } from 'vitest';
import { createPiiDetector, findPii, luhn, validIban, validPhone } from './pii.js';
import { detectorGuardrail } from './verdict.js';

const found = (text: string, types?: string[]) => findPii(text, { types }).map((f) => [f.type, text.slice(f.start, f.end)]);

describe('PII detection', () => {
  it.each([
    ['EMAIL', 'write to john.smith+tag@mail.example.co.uk today', 'john.smith+tag@mail.example.co.uk'],
    ['PHONE', 'call +44 20 7946 0958 now', '+44 20 7946 0958'],
    ['PHONE', 'E.164: +14155550132.', '+14155550132'],
    ['PHONE', 'office (415) 555-0132 ext', '(415) 555-0132'],
    ['PHONE', 'mobile 07700 900123', '07700 900123'],
    ['PHONE', 'fr 06 12 34 56 78', '06 12 34 56 78'],
    ['CREDIT_CARD', 'card 4111 1111 1111 1111 exp', '4111 1111 1111 1111'],
    ['CREDIT_CARD', 'card 5500-0000-0000-0004', '5500-0000-0000-0004'],
    ['CREDIT_CARD', 'amex 3782 822463 10005', '3782 822463 10005'],
    ['CREDIT_CARD', 'raw 4111111111111111', '4111111111111111'],
    ['IBAN', 'iban GB82 WEST 1234 5698 7654 32.', 'GB82 WEST 1234 5698 7654 32'],
    ['IBAN', 'iban DE89370400440532013000', 'DE89370400440532013000'],
    ['US_SSN', 'ssn 078-05-1120', '078-05-1120'],
    ['US_SSN', 'SSN: 078051120', '078051120'],
    ['UK_NINO', 'NINO AB 12 34 56 C', 'AB 12 34 56 C'],
    ['ES_DNI', 'DNI 12345678Z', '12345678Z'],
    ['ES_DNI', 'NIE X1234567L', 'X1234567L'],
    ['PASSPORT', 'passport number: 533380006', '533380006'],
    ['IP_ADDRESS', 'host 203.0.113.45.', '203.0.113.45'],
    ['IP_ADDRESS', 'v6 2001:db8:85a3::8a2e:370:7334 ok', '2001:db8:85a3::8a2e:370:7334'],
    ['AWS_ACCESS_KEY', 'key AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
    ['AWS_SECRET_KEY', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['GITHUB_TOKEN', 'ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ12', 'ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ12'],
    ['API_KEY', 'OPENAI_API_KEY=sk-proj-4fG7hJ2kL9mN3pQ8rS1tU6vW0xY5zA2bC7dE', 'sk-proj-4fG7hJ2kL9mN3pQ8rS1tU6vW0xY5zA2bC7dE'],
    ['API_KEY', 'stripe sk_live_51H8xYzAbCdEfGhIjKlMnOpQr', 'sk_live_51H8xYzAbCdEfGhIjKlMnOpQr'],
    ['SLACK_TOKEN', 'xoxb-2048-1234567890-AbCdEfGhIjKlMnOp', 'xoxb-2048-1234567890-AbCdEfGhIjKlMnOp'],
    ['SECRET', 'password: "Tr0ub4dor&3"', 'Tr0ub4dor&3'],
    ['JWT', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
  ])('finds %s in %j', (type, text, value) => {
    expect(found(text)).toContainEqual([type, value]);
  });

  it('finds a PEM private key from BEGIN to END, and an unterminated one to the end of its body', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc+/==\n-----END RSA PRIVATE KEY-----';
    expect(found(`key:\n${key}\nthanks`)).toEqual([['PRIVATE_KEY', key]]);
    expect(found('-----BEGIN PRIVATE KEY-----\nMIIEpAIB\nAAKC')).toEqual([['PRIVATE_KEY', '-----BEGIN PRIVATE KEY-----\nMIIEpAIB\nAAKC']]);
  });

  it.each([
    ['a card number failing Luhn', 'card 4111 1111 1111 1112'],
    ['a Luhn-valid number outside issuer ranges', 'order 1111 1111 1111 1117'],
    ['an IBAN with a wrong check digit', 'GB83 WEST 1234 5698 7654 32'],
    ['an IBAN of the wrong length for its country', 'GB82 WEST 1234 5698 7654'],
    ['an SSN with area 000', '000-12-3456'],
    ['a DNI with a wrong letter', '12345678A'],
    ['a date and a time', 'on 2024-03-15 at 14:30'],
    ['a version number', 'version 1.2.3.4 and v2.3.4.1'],
    ['localhost', 'listening on 127.0.0.1:8080'],
    ['a ten-digit id', 'order 1234567890'],
    ['an ISBN', 'ISBN 978-3-16-148410-0'],
    ['C++ scope', 'std::vector<int> and a::b'],
    ['a MAC address and a clock time', '00:1A:2B:3C:4D:5E at 12:30:45'],
    ['a key placeholder', 'sk-xxxxxxxxxxxxxxxxxxxxxxxx'],
    ['a password placeholder', 'password: ${DB_PASSWORD} or password=changeme'],
    ['prose about passwords', 'the password: must be long'],
    ['an address without a top-level domain', 'user@localhost'],
  ])('ignores %s', (_what, text) => {
    expect(found(text)).toEqual([]);
  });

  it('separates two numbers written one after the other', () => {
    expect(found('call 555-123-4567 555-987-6543')).toEqual([
      ['PHONE', '555-123-4567'],
      ['PHONE', '555-987-6543'],
    ]);
  });

  it('gives an overlap to the more specific type (a card is not also a phone number)', () => {
    expect(found('4111 1111 1111 1111')).toEqual([['CREDIT_CARD', '4111 1111 1111 1111']]);
  });

  it('restricts to the configured types and groups', () => {
    const text = 'mail a@b.co, card 4111111111111111, key AKIAIOSFODNN7EXAMPLE';
    expect(found(text, ['EMAIL']).map((f) => f[0])).toEqual(['EMAIL']);
    expect(found(text, ['secrets']).map((f) => f[0])).toEqual(['AWS_ACCESS_KEY']);
    expect(found(text, ['financial', 'email']).map((f) => f[0])).toEqual(['EMAIL', 'CREDIT_CARD']);
  });

  it('never reports allowed values', () => {
    expect(findPii('support@acme.com or bob@acme.com', { allow: ['Support@Acme.com'] }).length).toBe(1);
    expect(findPii('+44 20 7946 0958', { allow: ['+442079460958'] })).toEqual([]);
  });
});

describe('PII validators', () => {
  it('checks Luhn, mod-97 and phone shapes', () => {
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('79927398710')).toBe(false);
    expect(validIban('GB29 NWBK 6016 1331 9268 19')).toBe(true);
    expect(validIban('GB29 NWBK 6016 1331 9268 18')).toBe(false);
    expect(validPhone('+1 (415) 555-0132')).toBe(true);
    expect(validPhone('123-456-7890')).toBe(false); // no North American area code starts with 1
    expect(validPhone('2024-01-15')).toBe(false);
  });
});

describe('PII guardrail', () => {
  const text = 'Mail jane@example.org or call +1 415 555 0132.';

  it('redacts with [REDACTED_<TYPE>] and reports types, not values', () => {
    const v = detectorGuardrail(createPiiDetector(), 'redact', 'open').check(text, { stage: 'input' });
    expect(v).toMatchObject({ verdict: 'redact', guardrail: 'pii', data: { redacted: 'Mail [REDACTED_EMAIL] or call [REDACTED_PHONE].' } });
    expect(v.reasons).toEqual(['pii: EMAIL', 'pii: PHONE']);
    expect(JSON.stringify(v.reasons)).not.toContain('jane');
  });

  it('blocks, or logs and passes, by action', () => {
    expect(detectorGuardrail(createPiiDetector(), 'block', 'open').check(text, { stage: 'input' })).toMatchObject({ verdict: 'block' });
    const logged = detectorGuardrail(createPiiDetector(), 'log', 'open').check(text, { stage: 'input' });
    expect(logged).toMatchObject({ verdict: 'pass', reasons: ['pii: EMAIL', 'pii: PHONE'] });
    expect(logged.data?.redacted).toBeUndefined();
  });

  it('passes clean text with no reasons', () => {
    expect(detectorGuardrail(createPiiDetector(), 'block', 'open').check('hello world', { stage: 'input' })).toMatchObject({ verdict: 'pass', reasons: [] });
  });
});
