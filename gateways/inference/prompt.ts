// Prompt processing, after the input guardrails: a stored prompt template rendered with the
// request's variables, and context retrieved from the org's knowledge bases (RAG). A request asks
// for them in an `inferia` object beside OpenAI's fields (OpenAI clients pass unknown body fields
// through: `extra_body` in Python, any extra key in Node); the object never reaches the upstream.
//
//   "inferia": { "template": "support" | {"name": "support", "version": 2},
//                "variables": {"product": "Inferia"},
//                "knowledge_bases": ["handbook"], "rag": {"top_k": 4} }
//
// Templates are text with `{{name}}` placeholders, replaced by plain substitution: nothing in a
// template is evaluated. `{{context}}` in a template is where retrieved passages go; without it they
// go in a system message of their own. Retrieval (lib/knowledge-retrieval.ts, shared with the
// management API's preview) ranks chunks with Postgres full-text search, and — when the knowledge
// base names an embedding model the org can reach — by cosine similarity of embeddings too.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Db } from '../../lib/db.js';
import { AppError } from '../../lib/errors.js';
import { retrievePassages, type RagSource } from '../../lib/knowledge-retrieval.js';
import { channels } from '../../lib/redis.js';

export const InferiaOptions = z
  .object({
    template: z.union([z.string().min(1).max(200), z.object({ name: z.string().min(1).max(200), version: z.number().int().min(1).optional() })]).optional(),
    variables: z.record(z.string().max(100), z.union([z.string().max(100_000), z.number(), z.boolean()])).optional(),
    knowledge_bases: z.array(z.string().min(1).max(200)).min(1).max(10).optional(),
    rag: z.object({ top_k: z.number().int().min(1).max(20).default(4), max_chars: z.number().int().min(200).max(100_000).default(8000) }).optional(),
  })
  .strict();
export type InferiaOptions = z.infer<typeof InferiaOptions>;

export type { RagSource };

export interface Processed {
  /** The messages (chat) or prompt (completions) to send on. */
  messages?: unknown[];
  prompt?: unknown;
  sources: RagSource[];
  template: { name: string; version: number } | null;
}

/** Embeds a text through the gateway's routing (the knowledge base's embedding model). */
export type EmbedFn = (orgId: string, model: string, texts: string[], signal: AbortSignal) => Promise<number[][]>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const TEMPLATE_TTL_MS = 30_000;
const EMBED_FILL_BATCH = 32;

/** Replaces `{{name}}` placeholders; a missing variable is the caller's error, named. */
export function renderTemplate(template: string, variables: Record<string, string | number | boolean>, context?: string): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    if (name === 'context' && context !== undefined) return context;
    const v = variables[name];
    if (v === undefined) {
      throw new AppError('bad_request', `The template needs the variable \`${name}\`.`, { field: `inferia.variables.${name}`, openai_code: 'template_variable_missing' });
    }
    return String(v);
  });
}

export function formatContext(passages: { source: RagSource; content: string }[]): string {
  return passages.map((p, i) => `[${i + 1}] (${p.source.knowledge_base}/${p.source.filename})\n${p.content}`).join('\n\n');
}

interface TemplateRow {
  name: string;
  version: number;
  template: string;
}

export class PromptProcessor {
  private readonly templates = new Map<string, { row: TemplateRow | null; expiresAt: number }>();
  private readonly filling = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly embed?: EmbedFn,
  ) {}

  /** Template edits reach every gateway at once (the filtration gateway announces policy changes). */
  async subscribe(subscriber: Redis): Promise<void> {
    await subscriber.subscribe(channels.apiKeys);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === channels.apiKeys && message === '*') this.templates.clear();
    });
    // A notice sent while the subscription was down is lost: start afresh when it is back.
    subscriber.on('ready', () => this.templates.clear());
  }

  async process(orgId: string, body: { messages?: unknown[]; prompt?: unknown }, opts: InferiaOptions, signal: AbortSignal): Promise<Processed> {
    const template = opts.template ? await this.template(orgId, typeof opts.template === 'string' ? { name: opts.template } : opts.template) : null;
    let context: string | undefined;
    let sources: RagSource[] = [];
    if (opts.knowledge_bases) {
      const query = lastUserText(body);
      const rag = opts.rag ?? { top_k: 4, max_chars: 8000 };
      const passages = query ? await this.retrieve(orgId, opts.knowledge_bases, query, rag.top_k, signal) : [];
      let budget = rag.max_chars;
      const kept = passages.filter((p) => (budget -= p.content.length) >= 0 || p === passages[0]);
      sources = kept.map((p) => p.source);
      context = kept.length > 0 ? formatContext(kept) : '';
    }
    const variables = opts.variables ?? {};
    const rendered = template ? renderTemplate(template.template, variables, context) : undefined;
    const usesContext = template ? /\{\{\s*context\s*\}\}/.test(template.template) : false;
    const contextNote =
      context !== undefined && !usesContext
        ? context.length > 0
          ? `Answer using the following context where it is relevant. Cite passages by their [number].\n\n${context}`
          : 'No passage of the knowledge base matched this question.'
        : undefined;
    const preamble = [rendered, contextNote].filter((t): t is string => t !== undefined);
    const out: Processed = { sources, template: template ? { name: template.name, version: template.version } : null };
    if (Array.isArray(body.messages)) {
      out.messages = [...preamble.map((content) => ({ role: 'system', content })), ...body.messages];
    } else if (body.prompt !== undefined) {
      const head = preamble.join('\n\n');
      out.prompt = typeof body.prompt === 'string' ? `${head}\n\n${body.prompt}` : Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === 'string') ? (body.prompt as string[]).map((p) => `${head}\n\n${p}`) : body.prompt;
    }
    return out;
  }

  private async template(orgId: string, ref: { name: string; version?: number }): Promise<TemplateRow> {
    const cacheKey = `${orgId}\u0000${ref.name}\u0000${ref.version ?? 'latest'}`;
    const now = Date.now();
    let hit = this.templates.get(cacheKey);
    if (!hit || hit.expiresAt <= now) {
      const row = await this.db.promptTemplate.findFirst({
        where: { orgId, name: ref.name, ...(ref.version ? { version: ref.version } : {}) },
        orderBy: { version: 'desc' },
        select: { name: true, version: true, template: true },
      });
      hit = { row, expiresAt: now + TEMPLATE_TTL_MS };
      if (this.templates.size > 10_000) this.templates.clear();
      this.templates.set(cacheKey, hit);
    }
    if (!hit.row) {
      throw new AppError('not_found', `Prompt template \`${ref.name}\`${ref.version ? ` version ${ref.version}` : ''} does not exist.`, {
        field: 'inferia.template',
        openai_code: 'template_not_found',
      });
    }
    return hit.row;
  }

  private async retrieve(orgId: string, names: string[], query: string, topK: number, signal: AbortSignal) {
    const kbs = await this.db.knowledgeBase.findMany({ where: { orgId, OR: [{ name: { in: names } }, { id: { in: names.filter(isUuid) } }] }, select: { id: true, name: true, embeddingModel: true } });
    const missing = names.filter((n) => !kbs.some((k) => k.name === n || k.id === n));
    if (missing.length > 0) {
      throw new AppError('not_found', `Knowledge base \`${missing[0]}\` does not exist.`, { field: 'inferia.knowledge_bases', openai_code: 'knowledge_base_not_found' });
    }
    const embed = this.embed;
    return retrievePassages(this.db, kbs, {
      query,
      topK,
      embed: embed ? (model, texts) => embed(orgId, model, texts, signal) : undefined,
      onVectorSearch: (kb) => this.fillEmbeddings(orgId, kb.id, kb.embeddingModel!),
    });
  }

  /**
   * Chunks uploaded before (or while) the embedding model ran have no embedding yet: embed a batch
   * of them in the background after a retrieval, so the vector ranking covers the knowledge base
   * without the upload path needing a model. Idempotent (several gateways may race: same vectors).
   */
  private fillEmbeddings(orgId: string, kbId: string, model: string): void {
    if (!this.embed || this.filling.has(kbId)) return;
    this.filling.add(kbId);
    const embed = this.embed;
    void (async () => {
      const rows = await this.db.knowledgeChunk.findMany({ where: { knowledgeBaseId: kbId, embedding: { isEmpty: true } }, select: { id: true, content: true }, take: EMBED_FILL_BATCH });
      if (rows.length === 0) return;
      const vectors = await embed(orgId, model, rows.map((r) => r.content.slice(0, 8000)), AbortSignal.timeout(60_000));
      await this.db.$transaction(async (tx) => {
        for (const [i, r] of rows.entries()) await tx.knowledgeChunk.update({ where: { id: r.id }, data: { embedding: vectors[i] ?? [] } });
      });
    })()
      .catch(() => undefined)
      .finally(() => this.filling.delete(kbId));
  }
}

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** The question to retrieve for: the last user turn (chat), or the prompt (completions). */
export function lastUserText(body: { messages?: unknown[]; prompt?: unknown }): string {
  if (Array.isArray(body.messages)) {
    for (let i = body.messages.length - 1; i >= 0; i--) {
      const m = body.messages[i] as { role?: unknown; content?: unknown } | null;
      if (!m || m.role !== 'user') continue;
      if (typeof m.content === 'string') return m.content;
      if (Array.isArray(m.content)) {
        return m.content
          .map((p: unknown) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
          .join(' ')
          .trim();
      }
    }
    return '';
  }
  if (typeof body.prompt === 'string') return body.prompt;
  if (Array.isArray(body.prompt) && typeof body.prompt[0] === 'string') return body.prompt[0];
  return '';
}
