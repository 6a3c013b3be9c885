-- Fallback models per API key: tried in order when the requested model has nothing healthy.
ALTER TABLE "api_keys" ADD COLUMN "fallback_models" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- Full-text retrieval over knowledge chunks (RAG): the expression the inference gateway ranks with.
CREATE INDEX "knowledge_chunks_fulltext_idx" ON "knowledge_chunks" USING GIN (to_tsvector('english', "content"));
