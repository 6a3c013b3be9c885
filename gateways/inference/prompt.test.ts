import { describe, expect, it } from 'vitest';
import { AppError } from '../../lib/errors.js';
import { InferiaOptions, lastUserText, renderTemplate } from './prompt.js';

describe('prompt templates', () => {
  it('substitutes variables as plain text: nothing in a template or a value is evaluated', () => {
    const out = renderTemplate('Hi {{ name }}, {{name}}! ${process.exit()} {{n}}', { name: '{{n}} `x`', n: 3 });
    expect(out).toBe('Hi {{n}} `x`, {{n}} `x`! ${process.exit()} 3');
  });

  it('names a missing variable as the field to fix', () => {
    try {
      renderTemplate('Dear {{customer}}', {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).details).toMatchObject({ field: 'inferia.variables.customer' });
    }
  });

  it('puts retrieved context where {{context}} is', () => {
    expect(renderTemplate('Use: {{context}}', {}, '[1] passage')).toBe('Use: [1] passage');
  });

  it('reads the question from the last user turn, text parts included', () => {
    expect(lastUserText({ messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'a' }, { role: 'user', content: [{ type: 'text', text: 'second' }] }] })).toBe('second');
    expect(lastUserText({ prompt: 'legacy' })).toBe('legacy');
  });

  it('refuses unknown options and out-of-range retrieval settings', () => {
    expect(InferiaOptions.safeParse({ code: 'x' }).success).toBe(false);
    expect(InferiaOptions.safeParse({ knowledge_bases: ['kb'], rag: { top_k: 500 } }).success).toBe(false);
    expect(InferiaOptions.safeParse({ template: { name: 't', version: 2 }, variables: { a: 1 } }).success).toBe(true);
  });
});
