// /management/providers, guardrails, prompt-templates, knowledge-bases (+ documents), quotas,
// and /internal/logs. Access comes from the route table; handlers validate and delegate.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isoDateTime, PG_INT_MAX } from '../../lib/http/common.js';
import { PROVIDERS } from '../../lib/providers.js';
import { callerOf } from './app.js';
import { requestMeta } from './management-routes.js';
import type { PolicyService } from './policy-service.js';

const name = z.string().trim().min(1).max(200);
const Id = z.object({ id: z.uuid() });
const jsonObject = z.record(z.string(), z.unknown());
const httpUrl = z.url({ protocol: /^https?$/ }).max(2000);
const credentials = z.record(z.string().min(1).max(100), z.string().max(10_000));

const ProviderBody = z.object({
  name,
  provider: z.enum([...PROVIDERS, 'openai']),
  base_url: httpUrl.nullish(),
  settings: jsonObject.default({}),
  credentials: credentials.optional(),
  enabled: z.boolean().default(true),
});
const ProviderPatch = z.object({ base_url: httpUrl.nullish(), settings: jsonObject.optional(), credentials: credentials.optional(), enabled: z.boolean().optional() });

const GuardrailRule = z.object({
  type: z.enum(['pii', 'toxicity', 'prompt_injection', 'llm_judge']),
  stage: z.enum(['input', 'output', 'both']).default('input'),
  action: z.enum(['block', 'redact', 'log']).default('block'),
  options: jsonObject.default({}),
});
const GuardrailBody = z.object({
  name,
  config: z.object({ rules: z.array(GuardrailRule).max(50) }),
  enabled: z.boolean().default(true),
  api_key_ids: z.array(z.uuid()).max(500).default([]),
});
const TemplateBody = z.object({ name, template: z.string().min(1).max(100_000) });
const KnowledgeBaseBody = z.object({
  name,
  description: z.string().max(2000).default(''),
  // A model deployed (or served by a provider) in the org: chunks are embedded with it and retrieved by similarity too.
  embedding_model: z.string().trim().min(1).max(256).nullish(),
});
const DocumentBody = z.object({
  filename: z.string().trim().min(1).max(500),
  content_type: z.enum(['text/plain', 'text/markdown', 'text/csv', 'application/json']).default('text/plain'),
  content: z.string().min(1).max(5 * 1024 * 1024),
});
// `minute` limits are rate limits (requests and tokens per minute); `day`/`month` are quotas.
const QuotaBody = z.object({
  api_key_id: z.uuid().nullish(),
  period: z.enum(['minute', 'day', 'month']).default('month'),
  token_limit: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  request_limit: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
});
const LogEntry = z.object({
  request_id: z.string().min(1).max(200),
  org_id: z.uuid(),
  api_key_id: z.uuid().nullish(),
  model: z.string().min(1).max(256),
  deployment_id: z.uuid().nullish(),
  replica: z.string().max(300).nullish(),
  stream: z.boolean().optional(),
  prompt_tokens: z.number().int().min(0).max(PG_INT_MAX).optional(),
  completion_tokens: z.number().int().min(0).max(PG_INT_MAX).optional(),
  latency_ms: z.number().int().min(0).max(PG_INT_MAX).optional(),
  ttfb_ms: z.number().int().min(0).max(PG_INT_MAX).nullish(),
  status_code: z.number().int().min(100).max(599),
  error_code: z.string().max(100).nullish(),
  guardrails: z.array(z.unknown()).max(100).optional(),
  rag_sources: z.array(z.unknown()).max(100).optional(),
  created_at: isoDateTime().optional(),
});

export async function policyRoutes(fastify: FastifyInstance, opts: { policy: PolicyService }) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { policy } = opts;

  app.get('/management/providers', async (req) => policy.listProviders(callerOf(req)));
  app.post('/management/providers', { schema: { body: ProviderBody } }, async (req, reply) =>
    reply.status(201).send(await policy.createProvider(callerOf(req), req.body, requestMeta(req))),
  );
  app.get('/management/providers/:id', { schema: { params: Id } }, async (req) => policy.getProvider(callerOf(req), req.params.id));
  app.patch('/management/providers/:id', { schema: { params: Id, body: ProviderPatch } }, async (req) =>
    policy.updateProvider(callerOf(req), req.params.id, req.body, requestMeta(req)),
  );
  app.delete('/management/providers/:id', { schema: { params: Id } }, async (req) => policy.deleteProvider(callerOf(req), req.params.id, requestMeta(req)));

  app.get('/management/guardrails', async (req) => policy.listGuardrails(callerOf(req)));
  app.post('/management/guardrails', { schema: { body: GuardrailBody } }, async (req, reply) =>
    reply.status(201).send(await policy.upsertGuardrail(callerOf(req), undefined, req.body, requestMeta(req))),
  );
  app.put('/management/guardrails/:id', { schema: { params: Id, body: GuardrailBody } }, async (req) =>
    policy.upsertGuardrail(callerOf(req), req.params.id, req.body, requestMeta(req)),
  );
  app.delete('/management/guardrails/:id', { schema: { params: Id } }, async (req) => policy.deleteGuardrail(callerOf(req), req.params.id, requestMeta(req)));

  app.get('/management/prompt-templates', async (req) => policy.listTemplates(callerOf(req)));
  app.post('/management/prompt-templates', { schema: { body: TemplateBody } }, async (req, reply) =>
    reply.status(201).send(await policy.saveTemplate(callerOf(req), req.body, requestMeta(req))),
  );
  app.delete('/management/prompt-templates/:id', { schema: { params: Id } }, async (req) => policy.deleteTemplate(callerOf(req), req.params.id, requestMeta(req)));

  app.get('/management/knowledge-bases', async (req) => policy.listKnowledgeBases(callerOf(req)));
  app.post('/management/knowledge-bases', { schema: { body: KnowledgeBaseBody } }, async (req, reply) =>
    reply.status(201).send(await policy.createKnowledgeBase(callerOf(req), req.body, requestMeta(req))),
  );
  app.delete('/management/knowledge-bases/:id', { schema: { params: Id } }, async (req) => policy.deleteKnowledgeBase(callerOf(req), req.params.id, requestMeta(req)));
  app.get('/management/knowledge-bases/:id/documents', { schema: { params: Id } }, async (req) => policy.listDocuments(callerOf(req), req.params.id));
  app.post('/management/knowledge-bases/:id/documents', { schema: { params: Id, body: DocumentBody }, bodyLimit: 6 * 1024 * 1024 }, async (req, reply) =>
    reply.status(201).send(await policy.addDocument(callerOf(req), req.params.id, req.body, requestMeta(req))),
  );
  const DocParams = z.object({ id: z.uuid(), document_id: z.uuid() });
  app.get('/management/knowledge-bases/:id/documents/:document_id/chunks', { schema: { params: DocParams } }, async (req) =>
    policy.listChunks(callerOf(req), req.params.id, req.params.document_id),
  );
  app.post(
    '/management/knowledge-bases/:id/query',
    { schema: { params: Id, body: z.object({ query: z.string().trim().min(1).max(2000), top_k: z.number().int().min(1).max(20).default(4) }) } },
    async (req) => policy.queryKnowledgeBase(callerOf(req), req.params.id, req.body),
  );
  app.delete('/management/knowledge-bases/:id/documents/:document_id', { schema: { params: DocParams } }, async (req) =>
    policy.deleteDocument(callerOf(req), req.params.id, req.params.document_id, requestMeta(req)),
  );

  app.get('/management/quotas', async (req) => policy.listQuotas(callerOf(req)));
  app.put('/management/quotas', { schema: { body: QuotaBody } }, async (req) => policy.setQuota(callerOf(req), req.body, requestMeta(req)));

  app.post('/internal/logs', { schema: { body: z.object({ logs: z.array(LogEntry).min(1).max(1000) }) }, bodyLimit: 4 * 1024 * 1024 }, async (req) =>
    policy.ingestLogs(req.body.logs),
  );
}
