import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { atEndOfTurn, endOfTurn, holdUntilEndOfTurn } from './turn-writes.js';

const nextTurn = () => new Promise((r) => setImmediate(r));

function fakeSocket(destroyed = false) {
  const calls: string[] = [];
  return { calls, socket: { destroyed, writableCorked: 0, cork: () => calls.push('cork'), uncork: () => calls.push('uncork') } };
}

describe('holdUntilEndOfTurn', () => {
  it('corks a socket once per turn and uncorks it when the turn ends', async () => {
    const a = fakeSocket();
    const b = fakeSocket();
    holdUntilEndOfTurn({ socket: a.socket });
    holdUntilEndOfTurn({ socket: a.socket }); // the same response writing again in this turn
    holdUntilEndOfTurn({ socket: b.socket });
    expect([a.calls, b.calls]).toEqual([['cork'], ['cork']]);
    await nextTurn();
    expect([a.calls, b.calls]).toEqual([
      ['cork', 'uncork'],
      ['cork', 'uncork'],
    ]);
    holdUntilEndOfTurn({ socket: a.socket }); // a later turn: held again
    await nextTurn();
    expect(a.calls).toEqual(['cork', 'uncork', 'cork', 'uncork']);
  });

  it('runs what waits for the end of the turn in order, before uncorking', async () => {
    const order: string[] = [];
    const s = fakeSocket();
    holdUntilEndOfTurn({ socket: { ...s.socket, uncork: () => order.push('uncork') } });
    atEndOfTurn(() => order.push('first'));
    void endOfTurn().then(() => order.push('awaited'));
    atEndOfTurn(() => order.push('second'));
    expect(order).toEqual([]);
    await nextTurn();
    await Promise.resolve();
    expect(order).toEqual(['first', 'second', 'uncork', 'awaited']);
  });

  it('leaves a response without a socket, or with a destroyed one, alone', async () => {
    const gone = fakeSocket(true);
    holdUntilEndOfTurn({ socket: gone.socket });
    holdUntilEndOfTurn({ socket: null });
    await nextTurn();
    expect(gone.calls).toEqual([]);
  });

  it('sends a held answer, head, body and end, in one write at the end of the turn', async () => {
    let corkedAfterEnd = -1;
    let corkedNextTurn = -1;
    const server = createServer((_req, res) => {
      holdUntilEndOfTurn(res);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('held ');
      res.write('answer');
      atEndOfTurn(() => res.end());
      corkedAfterEnd = res.socket!.writableCorked;
      setImmediate(() => (corkedNextTurn = res.socket?.writableCorked ?? 0));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      expect(body).toBe('held answer');
      expect(corkedAfterEnd).toBeGreaterThan(0); // nothing handed to the kernel before the turn ended
      expect(corkedNextTurn).toBe(0);
    } finally {
      server.close();
    }
  });
});
