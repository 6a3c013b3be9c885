// The fuzz harness can fail: a route that answers 500 for some valid input is found, and the
// report names the operation with a curl reproduction (what gateways.test.ts prints).
import { join } from 'node:path';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { commonPlugin } from '../../lib/http/common.js';
import { ROOT } from '../../lib/local-services/supervisor.js';
import { ensureSchemathesis, runSchemathesis } from '../helpers/schemathesis.js';

it('finds a 5xx and reports it with its reproduction', async () => {
  const app = Fastify();
  await app.register(commonPlugin, { service: 'harness', title: 'harness', isPublic: () => true });
  app.withTypeProvider<ZodTypeProvider>().post('/boom', { schema: { body: z.object({ n: z.number().int() }) } }, async (req) => {
    if (req.body.n > 5) throw new Error('boom');
    return { ok: true };
  });
  try {
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const reportDir = join(process.env.INFERIA_DATA_DIR ?? join(ROOT, '.inferia', 'test'), 'fuzz');
    const r = await runSchemathesis(await ensureSchemathesis(), { name: 'harness', schemaUrl: `${url}/openapi.json`, reportDir, mode: 'positive', maxExamples: 20 });
    expect(r.operations).toBe(1);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ operation: 'POST /boom' });
    expect(r.failures[0]!.message).toMatch(/\[500\][\s\S]*curl -X POST .*\/boom/);
  } finally {
    await app.close();
  }
}, 600_000);
