import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FastifyBaseLogger, FastifyInstance, RawRequestDefaultExpression } from 'fastify';
import { lazyChildLoggerFactory } from './lazy-child-logger.js';

function logger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const parent = pino({ level, redact: ['req.headers.authorization'] }, sink) as unknown as FastifyBaseLogger;
  let children = 0;
  const counting = Object.create(parent, { child: { value: (...a: Parameters<FastifyBaseLogger['child']>) => (children++, parent.child(...a)) } }) as FastifyBaseLogger;
  const child = lazyChildLoggerFactory.call({} as FastifyInstance, counting, { reqId: 'req_1' }, {}, {} as RawRequestDefaultExpression);
  return { child, lines, children: () => children };
}

describe('lazy child logger', () => {
  it('makes no child for lines below the level, and writes the others as pino would, bindings included', async () => {
    const { child, lines, children } = logger('warn');
    child.info({ a: 1 }, 'quiet');
    child.debug('quieter');
    expect(children()).toBe(0);
    expect(child.level).toBe('warn');
    child.warn({ req: { headers: { authorization: 'secret' } } }, 'loud');
    child.error('louder');
    await new Promise((r) => setImmediate(r));
    expect(children()).toBe(1);
    expect(lines).toMatchObject([
      { level: 40, reqId: 'req_1', msg: 'loud', req: { headers: { authorization: '[Redacted]' } } },
      { level: 50, reqId: 'req_1', msg: 'louder' },
    ]);
  });

  it('follows a level set on it, and hands out real children', async () => {
    const { child, lines } = logger('warn');
    child.level = 'debug';
    child.debug('now');
    child.child({ sub: 1 }).info('grandchild');
    await new Promise((r) => setImmediate(r));
    expect(lines).toMatchObject([
      { level: 20, reqId: 'req_1', msg: 'now' },
      { level: 30, reqId: 'req_1', sub: 1, msg: 'grandchild' },
    ]);
  });
});
