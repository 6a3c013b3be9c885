// An organisation's policy objects: provider credentials (encrypted at rest, never returned),
// guardrail policies, prompt templates, knowledge bases with their documents, and quotas. Every
// read is scoped to the caller's organisation; every change is audited in its transaction and
// announced so inference gateways drop cached policy.
import { checkOutboundUrl, OutboundRefused } from '../../lib/net/outbound.js';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { audit } from '../../lib/audit.js';
import type { Config } from '../../lib/config.js';
import { encryptSecret } from '../../lib/crypto.js';
import type { Db } from '../../lib/db.js';
import { AppError, conflict, forbidden, notFound } from '../../lib/errors.js';
import type { Caller } from '../../lib/http/auth.js';
import { retrievePassages } from '../../lib/knowledge-retrieval.js';
import { channels } from '../../lib/redis.js';
import type { RequestMeta } from './management-service.js';

export interface PolicyDeps {
  db: Db;
  redis: Redis;
  config: Config;
}

const orgOf = (caller: Caller) => {
  if (caller.kind !== 'user') throw forbidden('a user token is required');
  return caller.orgId;
};

const uniqueViolation = (err: unknown, what: string) => {
  if ((err as { code?: string }).code === 'P2002') return conflict(`${what} with this name already exists`, { field: 'name' });
  return err;
};

/** Splits a document into overlapping chunks on paragraph and sentence boundaries. */
export function chunkText(text: string, size = 800, overlap = 100): string[] {
  const clean = text.replace(/\r\n/g, '\n').trim();
  if (!clean) return [];
  const chunks: string[] = [];
  let start = 0;
  while (start < clean.length) {
    let end = Math.min(clean.length, start + size);
    if (end < clean.length) {
      const window = clean.slice(start, end);
      const cut = Math.max(window.lastIndexOf('\n\n'), window.lastIndexOf('. '), window.lastIndexOf('\n'));
      if (cut > size / 2) end = start + cut + 1;
    }
    chunks.push(clean.slice(start, end).trim());
    if (end >= clean.length) break;
    start = Math.max(end - overlap, start + 1);
  }
  return chunks.filter(Boolean);
}

export class PolicyService {
  constructor(private readonly deps: PolicyDeps) {}

  /** Policy changed: inference gateways drop their cached contexts (they carry the policy). */
  private async announce() {
    await this.deps.redis.publish(channels.apiKeys, '*').catch(() => 0);
  }

  /** A provider changed: inference gateways reload their routing table (external providers are targets). */
  private async announceRoutes() {
    await this.deps.redis.publish(channels.routes, 'providers').catch(() => 0);
  }

  // ───────────────────────────── providers ─────────────────────────────

  private providerView(p: Awaited<ReturnType<Db['providerConfig']['findFirstOrThrow']>>) {
    return {
      id: p.id,
      name: p.name,
      provider: p.provider,
      base_url: p.baseUrl,
      settings: p.settings as Record<string, unknown>,
      has_credentials: p.secretsEnc !== null,
      enabled: p.enabled,
      created_at: p.createdAt.toISOString(),
      updated_at: p.updatedAt.toISOString(),
    };
  }

  /** A provider's base URL may not reach into our own network (SSRF) unless an operator allow-listed it. */
  private async checkBaseUrl(url: string | null | undefined) {
    if (!url) return;
    try {
      await checkOutboundUrl(url, { allow: this.deps.config.outboundAllowlist });
    } catch (err) {
      if (err instanceof OutboundRefused) throw new AppError('bad_request', `base_url ${err.message}`, { field: 'base_url' });
      throw err;
    }
  }

  private seal(id: string, credentials: Record<string, string> | undefined) {
    if (!credentials || Object.keys(credentials).length === 0) return null;
    return encryptSecret(this.deps.config.secrets.encryptionKey, JSON.stringify(credentials), `provider:${id}`);
  }

  async listProviders(caller: Caller) {
    const rows = await this.deps.db.providerConfig.findMany({ where: { orgId: orgOf(caller) }, orderBy: { createdAt: 'asc' } });
    return { data: rows.map((r) => this.providerView(r)) };
  }

  async getProvider(caller: Caller, id: string) {
    const row = await this.deps.db.providerConfig.findFirst({ where: { id, orgId: orgOf(caller) } });
    if (!row) throw notFound(`provider ${id}`);
    return this.providerView(row);
  }

  async createProvider(
    caller: Caller,
    input: { name: string; provider: string; base_url?: string | null; settings: Record<string, unknown>; credentials?: Record<string, string>; enabled: boolean },
    meta: RequestMeta,
  ) {
    const orgId = orgOf(caller);
    const id = randomUUID();
    await this.checkBaseUrl(input.base_url);
    try {
      const row = await this.deps.db.$transaction(async (tx) => {
        const created = await tx.providerConfig.create({
          data: {
            id,
            orgId,
            name: input.name,
            provider: input.provider,
            baseUrl: input.base_url ?? null,
            settings: input.settings as object,
            secretsEnc: this.seal(id, input.credentials),
            enabled: input.enabled,
          },
        });
        await audit(tx, {
          orgId,
          actor: caller,
          action: 'provider.create',
          resourceType: 'provider',
          resourceId: id,
          after: { name: input.name, provider: input.provider, credential_fields: Object.keys(input.credentials ?? {}) },
          ...meta,
        });
        return created;
      });
      await this.announceRoutes();
      return this.providerView(row);
    } catch (err) {
      throw uniqueViolation(err, 'a provider');
    }
  }

  async updateProvider(
    caller: Caller,
    id: string,
    input: { base_url?: string | null; settings?: Record<string, unknown>; credentials?: Record<string, string>; enabled?: boolean },
    meta: RequestMeta,
  ) {
    const orgId = orgOf(caller);
    const before = await this.deps.db.providerConfig.findFirst({ where: { id, orgId } });
    if (!before) throw notFound(`provider ${id}`);
    await this.checkBaseUrl(input.base_url);
    const row = await this.deps.db.$transaction(async (tx) => {
      const updated = await tx.providerConfig.update({
        where: { id },
        data: {
          ...(input.base_url !== undefined ? { baseUrl: input.base_url } : {}),
          ...(input.settings ? { settings: input.settings as object } : {}),
          ...(input.credentials ? { secretsEnc: this.seal(id, input.credentials) } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        },
      });
      await audit(tx, {
        orgId,
        actor: caller,
        action: 'provider.update',
        resourceType: 'provider',
        resourceId: id,
        before: { base_url: before.baseUrl, enabled: before.enabled },
        after: { base_url: updated.baseUrl, enabled: updated.enabled, credentials_replaced: Boolean(input.credentials) },
        ...meta,
      });
      return updated;
    });
    await this.announceRoutes();
    return this.providerView(row);
  }

  async deleteProvider(caller: Caller, id: string, meta: RequestMeta) {
    const orgId = orgOf(caller);
    const row = await this.deps.db.providerConfig.findFirst({ where: { id, orgId } });
    if (!row) throw notFound(`provider ${id}`);
    await this.deps.db.$transaction(async (tx) => {
      await tx.providerConfig.delete({ where: { id } });
      await audit(tx, { orgId, actor: caller, action: 'provider.delete', resourceType: 'provider', resourceId: id, before: { name: row.name }, ...meta });
    });
    await this.announceRoutes();
    return { id, deleted: true };
  }

  // ───────────────────────────── guardrail policies ─────────────────────────────

  private guardrailView(g: Awaited<ReturnType<Db['guardrailPolicy']['findFirstOrThrow']>>) {
    return { id: g.id, name: g.name, config: g.config as Record<string, unknown>, enabled: g.enabled, api_key_ids: g.apiKeyIds, updated_at: g.updatedAt.toISOString() };
  }

  async listGuardrails(caller: Caller) {
    const rows = await this.deps.db.guardrailPolicy.findMany({ where: { orgId: orgOf(caller) }, orderBy: { createdAt: 'asc' } });
    return { data: rows.map((r) => this.guardrailView(r)) };
  }

  async upsertGuardrail(
    caller: Caller,
    id: string | undefined,
    input: { name: string; config: Record<string, unknown>; enabled: boolean; api_key_ids: string[] },
    meta: RequestMeta,
  ) {
    const orgId = orgOf(caller);
    if (input.api_key_ids.length > 0) {
      const owned = await this.deps.db.apiKey.count({ where: { orgId, id: { in: input.api_key_ids } } });
      if (owned !== input.api_key_ids.length) throw new AppError('bad_request', 'api_key_ids: unknown API key', { field: 'api_key_ids' });
    }
    const before = id ? await this.deps.db.guardrailPolicy.findFirst({ where: { id, orgId } }) : null;
    if (id && !before) throw notFound(`guardrail policy ${id}`);
    try {
      const row = await this.deps.db.$transaction(async (tx) => {
        const data = { name: input.name, config: input.config as object, enabled: input.enabled, apiKeyIds: input.api_key_ids };
        const saved = id ? await tx.guardrailPolicy.update({ where: { id }, data }) : await tx.guardrailPolicy.create({ data: { ...data, orgId } });
        await audit(tx, {
          orgId,
          actor: caller,
          action: id ? 'guardrail.update' : 'guardrail.create',
          resourceType: 'guardrail_policy',
          resourceId: saved.id,
          before: before ? { config: before.config as Record<string, unknown>, enabled: before.enabled } : null,
          after: { config: input.config, enabled: input.enabled },
          ...meta,
        });
        return saved;
      });
      await this.announce();
      return this.guardrailView(row);
    } catch (err) {
      throw uniqueViolation(err, 'a guardrail policy');
    }
  }

  async deleteGuardrail(caller: Caller, id: string, meta: RequestMeta) {
    const orgId = orgOf(caller);
    const row = await this.deps.db.guardrailPolicy.findFirst({ where: { id, orgId } });
    if (!row) throw notFound(`guardrail policy ${id}`);
    await this.deps.db.$transaction(async (tx) => {
      await tx.guardrailPolicy.delete({ where: { id } });
      await audit(tx, { orgId, actor: caller, action: 'guardrail.delete', resourceType: 'guardrail_policy', resourceId: id, before: { name: row.name }, ...meta });
    });
    await this.announce();
    return { id, deleted: true };
  }

  // ───────────────────────────── prompt templates ─────────────────────────────

  private templateView(t: Awaited<ReturnType<Db['promptTemplate']['findFirstOrThrow']>>) {
    return { id: t.id, name: t.name, version: t.version, template: t.template, variables: t.variables, created_at: t.createdAt.toISOString() };
  }

  async listTemplates(caller: Caller) {
    const rows = await this.deps.db.promptTemplate.findMany({ where: { orgId: orgOf(caller) }, orderBy: [{ name: 'asc' }, { version: 'desc' }] });
    return { data: rows.map((r) => this.templateView(r)) };
  }

  /** Saving a template under an existing name makes a new version; old versions stay readable. */
  async saveTemplate(caller: Caller, input: { name: string; template: string }, meta: RequestMeta) {
    const orgId = orgOf(caller);
    const variables = [...new Set([...input.template.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1]!))];
    const row = await this.deps.db.$transaction(async (tx) => {
      const latest = await tx.promptTemplate.findFirst({ where: { orgId, name: input.name }, orderBy: { version: 'desc' } });
      const saved = await tx.promptTemplate.create({ data: { orgId, name: input.name, template: input.template, variables, version: (latest?.version ?? 0) + 1 } });
      await audit(tx, { orgId, actor: caller, action: 'prompt_template.save', resourceType: 'prompt_template', resourceId: saved.id, after: { name: saved.name, version: saved.version, variables }, ...meta });
      return saved;
    });
    await this.announce();
    return this.templateView(row);
  }

  async deleteTemplate(caller: Caller, id: string, meta: RequestMeta) {
    const orgId = orgOf(caller);
    const row = await this.deps.db.promptTemplate.findFirst({ where: { id, orgId } });
    if (!row) throw notFound(`prompt template ${id}`);
    await this.deps.db.$transaction(async (tx) => {
      await tx.promptTemplate.delete({ where: { id } });
      await audit(tx, { orgId, actor: caller, action: 'prompt_template.delete', resourceType: 'prompt_template', resourceId: id, before: { name: row.name, version: row.version }, ...meta });
    });
    await this.announce();
    return { id, deleted: true };
  }

  // ───────────────────────────── knowledge bases ─────────────────────────────

  async listKnowledgeBases(caller: Caller) {
    const rows = await this.deps.db.knowledgeBase.findMany({
      where: { orgId: orgOf(caller) },
      include: { _count: { select: { documents: true, chunks: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return {
      data: rows.map((k) => ({ id: k.id, name: k.name, description: k.description, embedding_model: k.embeddingModel, documents: k._count.documents, chunks: k._count.chunks, created_at: k.createdAt.toISOString() })),
    };
  }

  async createKnowledgeBase(caller: Caller, input: { name: string; description: string; embedding_model?: string | null }, meta: RequestMeta) {
    const orgId = orgOf(caller);
    try {
      const row = await this.deps.db.$transaction(async (tx) => {
        const kb = await tx.knowledgeBase.create({ data: { orgId, name: input.name, description: input.description, embeddingModel: input.embedding_model ?? null } });
        await audit(tx, { orgId, actor: caller, action: 'knowledge_base.create', resourceType: 'knowledge_base', resourceId: kb.id, after: input, ...meta });
        return kb;
      });
      return { id: row.id, name: row.name, description: row.description, embedding_model: row.embeddingModel, documents: 0, chunks: 0, created_at: row.createdAt.toISOString() };
    } catch (err) {
      throw uniqueViolation(err, 'a knowledge base');
    }
  }

  private async knowledgeBaseFor(caller: Caller, id: string) {
    const kb = await this.deps.db.knowledgeBase.findFirst({ where: { id, orgId: orgOf(caller) } });
    if (!kb) throw notFound(`knowledge base ${id}`);
    return kb;
  }

  async deleteKnowledgeBase(caller: Caller, id: string, meta: RequestMeta) {
    const kb = await this.knowledgeBaseFor(caller, id);
    await this.deps.db.$transaction(async (tx) => {
      await tx.knowledgeBase.delete({ where: { id } });
      await audit(tx, { orgId: kb.orgId, actor: caller, action: 'knowledge_base.delete', resourceType: 'knowledge_base', resourceId: id, before: { name: kb.name }, ...meta });
    });
    return { id, deleted: true };
  }

  /** Stores a text document and its chunks in one transaction. */
  async addDocument(caller: Caller, kbId: string, input: { filename: string; content_type: string; content: string }, meta: RequestMeta) {
    const kb = await this.knowledgeBaseFor(caller, kbId);
    const chunks = chunkText(input.content);
    const doc = await this.deps.db.$transaction(async (tx) => {
      const created = await tx.knowledgeDocument.create({
        data: { knowledgeBaseId: kb.id, filename: input.filename, contentType: input.content_type, bytes: Buffer.byteLength(input.content), status: 'CHUNKED' },
      });
      await tx.knowledgeChunk.createMany({ data: chunks.map((content, ordinal) => ({ knowledgeBaseId: kb.id, documentId: created.id, ordinal, content })) });
      await audit(tx, {
        orgId: kb.orgId,
        actor: caller,
        action: 'knowledge_document.add',
        resourceType: 'knowledge_document',
        resourceId: created.id,
        after: { knowledge_base_id: kb.id, filename: input.filename, bytes: created.bytes, chunks: chunks.length },
        ...meta,
      });
      return created;
    });
    return { id: doc.id, knowledge_base_id: kb.id, filename: doc.filename, bytes: doc.bytes, status: doc.status, chunks: chunks.length };
  }

  async listDocuments(caller: Caller, kbId: string) {
    const kb = await this.knowledgeBaseFor(caller, kbId);
    const docs = await this.deps.db.knowledgeDocument.findMany({
      where: { knowledgeBaseId: kb.id },
      include: { _count: { select: { chunks: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return {
      data: docs.map((d) => ({ id: d.id, filename: d.filename, content_type: d.contentType, bytes: d.bytes, status: d.status, chunks: d._count.chunks, created_at: d.createdAt.toISOString() })),
    };
  }

  async listChunks(caller: Caller, kbId: string, documentId: string) {
    const kb = await this.knowledgeBaseFor(caller, kbId);
    const chunks = await this.deps.db.knowledgeChunk.findMany({ where: { knowledgeBaseId: kb.id, documentId }, orderBy: { ordinal: 'asc' } });
    if (chunks.length === 0 && !(await this.deps.db.knowledgeDocument.count({ where: { id: documentId, knowledgeBaseId: kb.id } }))) {
      throw notFound(`document ${documentId}`);
    }
    return { data: chunks.map((c) => ({ ordinal: c.ordinal, content: c.content })) };
  }

  /**
   * A retrieval preview: the chunks a request naming this knowledge base would get for `query`,
   * ranked by the inference gateway's own code. Full text only here: this gateway does not route
   * to embedding models, so a knowledge base with one may rank differently at inference time.
   */
  async queryKnowledgeBase(caller: Caller, kbId: string, input: { query: string; top_k: number }) {
    const kb = await this.knowledgeBaseFor(caller, kbId);
    const passages = await retrievePassages(this.deps.db, [{ id: kb.id, name: kb.name, embeddingModel: kb.embeddingModel }], { query: input.query, topK: input.top_k });
    return {
      knowledge_base_id: kb.id,
      query: input.query,
      methods: ['fulltext'],
      vector_ranking_at_inference: kb.embeddingModel !== null,
      data: passages.map((p, i) => ({ rank: i + 1, ...p.source, content: p.content })),
    };
  }

  async deleteDocument(caller: Caller, kbId: string, documentId: string, meta: RequestMeta) {
    const kb = await this.knowledgeBaseFor(caller, kbId);
    const doc = await this.deps.db.knowledgeDocument.findFirst({ where: { id: documentId, knowledgeBaseId: kb.id } });
    if (!doc) throw notFound(`document ${documentId}`);
    await this.deps.db.$transaction(async (tx) => {
      await tx.knowledgeDocument.delete({ where: { id: doc.id } });
      await audit(tx, { orgId: kb.orgId, actor: caller, action: 'knowledge_document.delete', resourceType: 'knowledge_document', resourceId: doc.id, before: { filename: doc.filename }, ...meta });
    });
    return { id: doc.id, deleted: true };
  }

  // ───────────────────────────── quotas ─────────────────────────────

  async listQuotas(caller: Caller) {
    const rows = await this.deps.db.quota.findMany({ where: { orgId: orgOf(caller) }, orderBy: { createdAt: 'asc' } });
    return {
      data: rows.map((q) => ({
        id: q.id,
        api_key_id: q.apiKeyId,
        period: q.period,
        token_limit: q.tokenLimit === null ? null : Number(q.tokenLimit),
        request_limit: q.requestLimit === null ? null : Number(q.requestLimit),
      })),
    };
  }

  /** One quota per (key or org, period): setting it again replaces the limits. */
  async setQuota(
    caller: Caller,
    input: { api_key_id?: string | null; period: 'minute' | 'day' | 'month'; token_limit?: number | null; request_limit?: number | null },
    meta: RequestMeta,
  ) {
    const orgId = orgOf(caller);
    const apiKeyId = input.api_key_id ?? null;
    if (apiKeyId && !(await this.deps.db.apiKey.count({ where: { id: apiKeyId, orgId } }))) {
      throw new AppError('bad_request', 'api_key_id: unknown API key', { field: 'api_key_id' });
    }
    const limits = { tokenLimit: input.token_limit ?? null, requestLimit: input.request_limit ?? null };
    const row = await this.deps.db.$transaction(async (tx) => {
      const existing = await tx.quota.findFirst({ where: { orgId, apiKeyId, period: input.period } });
      const saved = existing
        ? await tx.quota.update({ where: { id: existing.id }, data: limits })
        : await tx.quota.create({ data: { orgId, apiKeyId, period: input.period, ...limits } });
      await audit(tx, { orgId, actor: caller, action: 'quota.set', resourceType: 'quota', resourceId: saved.id, after: { ...input }, ...meta });
      return saved;
    });
    await this.announce();
    return { id: row.id, api_key_id: row.apiKeyId, period: row.period, token_limit: input.token_limit ?? null, request_limit: input.request_limit ?? null };
  }

  // ───────────────────────────── inference logs (internal) ─────────────────────────────

  /** Idempotent by request id: a log delivered twice is stored once. */
  async ingestLogs(
    logs: {
      request_id: string;
      org_id: string;
      api_key_id?: string | null;
      model: string;
      deployment_id?: string | null;
      replica?: string | null;
      stream?: boolean;
      prompt_tokens?: number;
      completion_tokens?: number;
      latency_ms?: number;
      ttfb_ms?: number | null;
      status_code: number;
      error_code?: string | null;
      guardrails?: unknown[];
      rag_sources?: unknown[];
      created_at?: string;
    }[],
  ) {
    const result = await this.deps.db.inferenceLog.createMany({
      data: logs.map((l) => ({
        requestId: l.request_id,
        orgId: l.org_id,
        apiKeyId: l.api_key_id ?? null,
        model: l.model,
        deploymentId: l.deployment_id ?? null,
        replica: l.replica ?? null,
        stream: l.stream ?? false,
        promptTokens: l.prompt_tokens ?? 0,
        completionTokens: l.completion_tokens ?? 0,
        latencyMs: l.latency_ms ?? 0,
        ttfbMs: l.ttfb_ms ?? null,
        statusCode: l.status_code,
        errorCode: l.error_code ?? null,
        guardrails: (l.guardrails ?? []) as object[],
        ragSources: (l.rag_sources ?? []) as object[],
        ...(l.created_at ? { createdAt: new Date(l.created_at) } : {}),
      })),
      skipDuplicates: true,
    });
    return { received: logs.length, stored: result.count };
  }
}
