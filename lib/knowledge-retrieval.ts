// Ranking a knowledge base's chunks for a question: one implementation for the inference
// gateway's RAG and the management API's retrieval preview, so what an operator tests is what a
// request gets. Postgres full-text search (the GIN index), and — when the knowledge base names an
// embedding model and the caller can embed — cosine similarity of embeddings too, the two
// rankings fused by reciprocal rank fusion (robust to their scores being on different scales).
import type { Db } from './db.js';

export interface KnowledgeBaseRef {
  id: string;
  name: string;
  embeddingModel: string | null;
}

export interface RagSource {
  knowledge_base: string;
  document_id: string;
  filename: string;
  chunk_id: string;
  ordinal: number;
  score: number;
  /** How it was found: `fulltext`, `vector` or both. */
  method: string;
}

export interface RetrievedPassage {
  content: string;
  source: RagSource;
}

/** Embeds texts with a knowledge base's embedding model; throws when the model is unreachable. */
export type EmbedQuery = (model: string, texts: string[]) => Promise<number[][]>;

export interface RetrieveOptions {
  query: string;
  topK: number;
  /** Without it, ranking is full text only. */
  embed?: EmbedQuery;
  /** Called for each knowledge base ranked by vectors (e.g. to embed its remaining chunks). */
  onVectorSearch?: (kb: KnowledgeBaseRef) => void;
}

interface ChunkHit {
  id: string;
  content: string;
  ordinal: number;
  document_id: string;
  knowledge_base_id: string;
  filename: string;
  score: number | null;
}

const MAX_QUERY_CHARS = 2000;
const RRF_K = 60;

export async function retrievePassages(db: Db, kbs: KnowledgeBaseRef[], options: RetrieveOptions): Promise<RetrievedPassage[]> {
  const { query, topK, embed } = options;
  if (kbs.length === 0 || !query.trim()) return [];
  const ids = kbs.map((k) => k.id);
  const candidates = topK * 3;
  // Any of the question's words may match (OR), ranked by cover density.
  const fulltext = await db.$queryRaw<ChunkHit[]>`
    SELECT c.id, c.content, c.ordinal, c.document_id, c.knowledge_base_id, d.filename,
           ts_rank_cd(to_tsvector('english', c.content), q) AS score
      FROM knowledge_chunks c
      JOIN knowledge_documents d ON d.id = c.document_id,
           to_tsquery('english', replace(plainto_tsquery('english', ${query.slice(0, MAX_QUERY_CHARS)})::text, '&', '|')) q
     WHERE c.knowledge_base_id = ANY(${ids}::uuid[])
       AND to_tsvector('english', c.content) @@ q
     ORDER BY score DESC, c.id
     LIMIT ${candidates}`;
  let vector: ChunkHit[] = [];
  for (const kb of kbs) {
    if (!kb.embeddingModel || !embed) continue;
    try {
      const [q] = await embed(kb.embeddingModel, [query.slice(0, 8000)]);
      if (!q) continue;
      vector = vector.concat(
        await db.$queryRaw<ChunkHit[]>`
          SELECT c.id, c.content, c.ordinal, c.document_id, c.knowledge_base_id, d.filename,
                 (SELECT sum(a * b) FROM unnest(c.embedding, ${q}::float8[]) AS t(a, b))
                   / NULLIF(sqrt((SELECT sum(a * a) FROM unnest(c.embedding) AS t(a))) * ${Math.hypot(...q)}, 0) AS score
            FROM knowledge_chunks c
            JOIN knowledge_documents d ON d.id = c.document_id
           WHERE c.knowledge_base_id = ${kb.id}::uuid AND cardinality(c.embedding) = ${q.length}
           ORDER BY score DESC NULLS LAST, c.id
           LIMIT ${candidates}`,
      );
      options.onVectorSearch?.(kb);
    } catch {
      // The embedding model is down or unreachable: full-text ranking still answers.
    }
  }
  const kbName = new Map(kbs.map((k) => [k.id, k.name]));
  const fused = new Map<string, { hit: ChunkHit; score: number; methods: Set<string> }>();
  const add = (hits: ChunkHit[], method: string) =>
    hits.forEach((h, rank) => {
      const e = fused.get(h.id) ?? { hit: h, score: 0, methods: new Set<string>() };
      e.score += 1 / (RRF_K + rank + 1);
      e.methods.add(method);
      fused.set(h.id, e);
    });
  add(fulltext, 'fulltext');
  add(
    vector.sort((a, b) => Number(b.score) - Number(a.score)),
    'vector',
  );
  return [...fused.values()]
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
    .map(({ hit, score, methods }) => ({
      content: hit.content,
      source: {
        knowledge_base: kbName.get(hit.knowledge_base_id) ?? hit.knowledge_base_id,
        document_id: hit.document_id,
        filename: hit.filename,
        chunk_id: hit.id,
        ordinal: hit.ordinal,
        score: Math.round(score * 1e6) / 1e6,
        method: [...methods].sort().join('+'),
      },
    }));
}
