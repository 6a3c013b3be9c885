-- AlterTable
ALTER TABLE "batches" ADD COLUMN     "cancelling_at" TIMESTAMPTZ(3),
ADD COLUMN     "expired_at" TIMESTAMPTZ(3),
ADD COLUMN     "finalizing_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "batch_items" (
    "batch_id" TEXT NOT NULL,
    "line" INTEGER NOT NULL,
    "custom_id" TEXT NOT NULL,
    "body" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "result" JSONB,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "batch_items_pkey" PRIMARY KEY ("batch_id","line")
);

-- CreateIndex
CREATE INDEX "batch_items_batch_id_status_idx" ON "batch_items"("batch_id", "status");

-- AddForeignKey
ALTER TABLE "batch_items" ADD CONSTRAINT "batch_items_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;
