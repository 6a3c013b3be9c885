import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockEngine } from './mock-engine.js';

describe('mock engine (a test engine that speaks the OpenAI API)', () => {
  let engine: Awaited<ReturnType<typeof startMockEngine>>;
  let client: OpenAI;

  beforeAll(async () => {
    engine = await startMockEngine({ model: 'mock-unit', log: () => {} });
    client = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused' });
  });
  afterAll(() => engine.close());

  it('answers deterministically, naming the model and echoing the user', async () => {
    const out = await client.chat.completions.create({ model: 'mock-unit', messages: [{ role: 'user', content: 'ping' }] });
    expect(out.choices[0]?.message.content).toBe('This is the mock engine serving mock-unit. You said: ping');
    expect(out.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streams the same text in chunks, with usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-unit',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = 0;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage?.total_tokens ?? usage;
    }
    expect(text).toBe('This is the mock engine serving mock-unit. You said: stream me');
    expect(chunks).toBeGreaterThan(5);
    expect(usage).toBeGreaterThan(0);
  });

  it('returns normalised, input-dependent embeddings', async () => {
    const out = await client.embeddings.create({ model: 'mock-unit', input: ['a', 'b'] });
    const [a, b] = out.data.map((d) => d.embedding);
    expect(a).toHaveLength(16);
    expect(Math.hypot(...a!)).toBeCloseTo(1, 3);
    expect(a).not.toEqual(b);
  });

  it('rejects a request without messages in OpenAI error shape', async () => {
    await expect(client.chat.completions.create({ model: 'mock-unit', messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
  });

  it('reports READY through the heartbeat endpoint, retrying until acknowledged', async () => {
    const beats: { auth?: string; body: Record<string, unknown> }[] = [];
    let calls = 0;
    const gateway = createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        if (!req.url?.endsWith('/heartbeat')) return void res.writeHead(200).end('{}'); // shipped log lines
        calls += 1;
        beats.push({ auth: req.headers.authorization, body: JSON.parse(data) as Record<string, unknown> });
        res.writeHead(calls === 1 ? 401 : 200).end('{}'); // the first beat arrives before the node is known
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const port = (gateway.address() as AddressInfo).port;
    const node = await startMockEngine({
      model: 'hb',
      log: () => {},
      heartbeat: { url: `http://127.0.0.1:${port}/inventory/heartbeat`, token: 'tok', provider: 'local', providerInstanceId: 'n1', intervalMs: 60_000 },
    });
    try {
      const deadline = Date.now() + 5000;
      while (beats.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(beats.length).toBe(2);
      expect(beats[1]).toMatchObject({ auth: 'Bearer tok', body: { provider: 'local', provider_instance_id: 'n1', state: 'READY', expose_url: node.url } });
    } finally {
      await node.close();
      gateway.close();
    }
  });
});
