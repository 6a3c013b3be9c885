// Knowledge bases for RAG: create them, upload text documents (split into chunks by the
// gateway), read a document's chunks, and test a question against the same ranking requests get.
import { useState, type ChangeEvent, type FormEvent } from 'react';
import { formatBytes, formatDateTime } from '../format';
import { useAction, useResource } from '../hooks';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { DataTable, Table, type Column } from '../table';
import type { KnowledgeBase, KnowledgeDocument, RetrievedChunk } from '../types';
import { Button, Card, ConfirmButton, ErrorNote, Field, Loading, Modal, PageHeader, useToast } from '../ui';
import { hasErrors, integer, maxLength, required, validate } from '../validate';

const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;
const CONTENT_TYPES: Record<string, string> = { md: 'text/markdown', markdown: 'text/markdown', csv: 'text/csv', json: 'application/json', txt: 'text/plain' };

export function contentTypeFor(filename: string): string {
  return CONTENT_TYPES[filename.split('.').pop()?.toLowerCase() ?? ''] ?? 'text/plain';
}

export function KnowledgeBasesPage() {
  const { api, perms } = useSession();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const kbs = useResource(async () => (await api.get<{ data: KnowledgeBase[] }>('/management/knowledge-bases')).data, []);
  const remove = useAction(async (k: KnowledgeBase) => {
    await api.del(`/management/knowledge-bases/${k.id}`);
    toast(`Knowledge base ${k.name} deleted`);
    await kbs.reload();
    return true;
  });
  const mayWrite = perms.can('knowledge:write');
  const columns: Column<KnowledgeBase>[] = [
    {
      header: 'Name',
      cell: (k) => (
        <Link to={`/knowledge-bases/${k.id}`}>
          <b>{k.name}</b>
        </Link>
      ),
    },
    { header: 'Description', cell: (k) => k.description || <span className="muted">—</span> },
    { header: 'Documents', numeric: true, cell: (k) => k.documents },
    { header: 'Chunks', numeric: true, cell: (k) => k.chunks },
    { header: 'Embedding model', cell: (k) => k.embedding_model ?? <span className="muted">full text only</span> },
    { header: 'Created', cell: (k) => formatDateTime(k.created_at) },
  ];
  if (mayWrite) {
    columns.push({ header: 'Actions', className: 'actions', cell: (k) => <ConfirmButton label="Delete" confirm={`Delete ${k.name} and its documents?`} busy={remove.busy} onConfirm={() => void remove.run(k)} /> });
  }
  return (
    <>
      <PageHeader
        title="Knowledge bases"
        subtitle={
          <>
            Requests name them in <code>inferia.knowledge_bases</code>; matching passages are added to the prompt.
          </>
        }
        actions={
          mayWrite ? (
            <Button kind="primary" onClick={() => setCreating(true)}>
              New knowledge base
            </Button>
          ) : null
        }
      />
      <ErrorNote error={remove.error} onDismiss={remove.reset} />
      <ErrorNote error={kbs.error} />
      {!kbs.data && kbs.loading ? (
        <Loading what="knowledge bases" />
      ) : (
        <DataTable label="knowledge bases" rows={kbs.data ?? []} columns={columns} rowKey={(k) => k.id} text={(k) => `${k.name} ${k.description} ${k.embedding_model ?? ''}`} empty="No knowledge bases yet." />
      )}
      {creating ? <CreateKbDialog onClose={() => setCreating(false)} /> : null}
    </>
  );
}

function CreateKbDialog({ onClose }: { onClose: () => void }) {
  const { api } = useSession();
  const [values, setValues] = useState({ name: '', description: '', embedding: '' });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof values, string>>>({});
  const create = useAction(() =>
    api.post<KnowledgeBase>('/management/knowledge-bases', {
      name: values.name.trim(),
      description: values.description.trim(),
      ...(values.embedding.trim() ? { embedding_model: values.embedding.trim() } : {}),
    }),
  );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { name: [required, maxLength(200)], description: [maxLength(2000)], embedding: [maxLength(256)] });
    setErrors(found);
    if (hasErrors(found)) return;
    const kb = await create.run();
    if (kb) navigate(`/knowledge-bases/${kb.id}`);
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Modal title="New knowledge base" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" htmlFor="kb-name" error={errors.name} hint="Requests refer to it by this name.">
          <input id="kb-name" value={values.name} onChange={set('name')} />
        </Field>
        <Field label="Description" htmlFor="kb-description" error={errors.description}>
          <input id="kb-description" value={values.description} onChange={set('description')} />
        </Field>
        <Field label="Embedding model" htmlFor="kb-embedding" error={errors.embedding} hint="Optional: a deployed embedding model; passages are then ranked by meaning too.">
          <input id="kb-embedding" value={values.embedding} onChange={set('embedding')} />
        </Field>
        <ErrorNote error={create.error} />
        <div className="form-actions">
          <Button kind="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" kind="primary" busy={create.busy}>
            Create
          </Button>
        </div>
      </form>
    </Modal>
  );
}

export function KnowledgeBasePage({ id }: { id: string }) {
  const { api, perms } = useSession();
  const toast = useToast();
  const kbs = useResource(async () => (await api.get<{ data: KnowledgeBase[] }>('/management/knowledge-bases')).data, [id]);
  const docs = useResource(async () => (await api.get<{ data: KnowledgeDocument[] }>(`/management/knowledge-bases/${id}/documents`)).data, [id]);
  const [open, setOpen] = useState<KnowledgeDocument | null>(null);
  const remove = useAction(async (d: KnowledgeDocument) => {
    await api.del(`/management/knowledge-bases/${id}/documents/${d.id}`);
    toast(`${d.filename} removed`);
    if (open?.id === d.id) setOpen(null);
    await docs.reload();
    return true;
  });
  const kb = kbs.data?.find((k) => k.id === id);
  const mayWrite = perms.can('knowledge:write');
  if (kbs.data && !kb) return <ErrorNote error={new Error('This knowledge base does not exist (or belongs to another organisation).')} />;
  const columns: Column<KnowledgeDocument>[] = [
    { header: 'File', cell: (d) => <b>{d.filename}</b> },
    { header: 'Type', cell: (d) => d.content_type },
    { header: 'Size', numeric: true, cell: (d) => formatBytes(d.bytes) },
    { header: 'Chunks', numeric: true, cell: (d) => d.chunks },
    { header: 'Added', cell: (d) => formatDateTime(d.created_at) },
    {
      header: 'Actions',
      className: 'actions',
      cell: (d) => (
        <span className="row-actions" onClick={(e) => e.stopPropagation()}>
          <Button kind="ghost" onClick={() => setOpen(d)}>
            Chunks
          </Button>
          {mayWrite ? <ConfirmButton label="Remove" confirm={`Remove ${d.filename}?`} busy={remove.busy} onConfirm={() => void remove.run(d)} /> : null}
        </span>
      ),
    },
  ];
  return (
    <>
      <PageHeader
        title={kb?.name ?? 'Knowledge base'}
        subtitle={
          <>
            <Link to="/knowledge-bases">Knowledge bases</Link> / {kb?.description || id}
          </>
        }
      />
      <ErrorNote error={remove.error} onDismiss={remove.reset} />
      <ErrorNote error={docs.error} />
      <div className="grid-2 grid-wide">
        <Card title="Documents">
          {!docs.data ? (
            <Loading what="documents" />
          ) : (
            <DataTable label="documents" rows={docs.data} columns={columns} rowKey={(d) => d.id} text={(d) => `${d.filename} ${d.content_type}`} empty="No documents yet." pageSize={10} />
          )}
          {mayWrite ? <Upload kbId={id} onDone={() => void Promise.all([docs.reload(), kbs.reload()])} /> : null}
        </Card>
        <QueryCard kbId={id} embedding={kb?.embedding_model ?? null} />
      </div>
      {open ? <ChunksDialog kbId={id} doc={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}

function Upload({ kbId, onDone }: { kbId: string; onDone: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [file, setFile] = useState<{ name: string; content: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const upload = useAction(async () => {
    const out = await api.post<{ chunks: number }>(`/management/knowledge-bases/${kbId}/documents`, { filename: file!.name, content_type: contentTypeFor(file!.name), content: file!.content });
    toast(`${file!.name}: ${out.chunks} ${out.chunks === 1 ? 'chunk' : 'chunks'}`);
    setFile(null);
    onDone();
    return true;
  });
  const choose = async (e: ChangeEvent<HTMLInputElement>) => {
    const f = e.target.files?.[0];
    e.target.value = '';
    setError(null);
    if (!f) return;
    if (f.size > MAX_DOCUMENT_BYTES) return setError(`${f.name} is ${formatBytes(f.size)}; at most ${formatBytes(MAX_DOCUMENT_BYTES)}.`);
    const content = await f.text();
    if (!content.trim()) return setError(`${f.name} is empty.`);
    setFile({ name: f.name, content });
  };
  return (
    <div className="upload">
      <Field label="Add a document" htmlFor="kb-file" error={error} hint="Text, Markdown, CSV or JSON, up to 5 MiB.">
        <input id="kb-file" type="file" accept=".txt,.md,.markdown,.csv,.json,text/plain,text/markdown,text/csv,application/json" onChange={(e) => void choose(e)} />
      </Field>
      {file ? (
        <div className="row-actions">
          <span>
            {file.name} ({formatBytes(new Blob([file.content]).size)})
          </span>
          <Button kind="primary" busy={upload.busy} onClick={() => void upload.run()}>
            Upload
          </Button>
        </div>
      ) : null}
      <ErrorNote error={upload.error} />
    </div>
  );
}

function ChunksDialog({ kbId, doc, onClose }: { kbId: string; doc: KnowledgeDocument; onClose: () => void }) {
  const { api } = useSession();
  const chunks = useResource(async () => (await api.get<{ data: { ordinal: number; content: string }[] }>(`/management/knowledge-bases/${kbId}/documents/${doc.id}/chunks`)).data, [doc.id]);
  return (
    <Modal title={`${doc.filename}: ${doc.chunks} chunks`} onClose={onClose} wide>
      <ErrorNote error={chunks.error} />
      {!chunks.data ? (
        <Loading what="chunks" />
      ) : (
        <DataTable
          label="chunks"
          rows={chunks.data}
          rowKey={(c) => String(c.ordinal)}
          text={(c) => c.content}
          pageSize={10}
          columns={[
            { header: '#', numeric: true, cell: (c) => c.ordinal },
            { header: 'Text', cell: (c) => <div className="chunk">{c.content}</div> },
          ]}
        />
      )}
    </Modal>
  );
}

function QueryCard({ kbId, embedding }: { kbId: string; embedding: string | null }) {
  const { api } = useSession();
  const [values, setValues] = useState({ query: '', topK: '4' });
  const [errors, setErrors] = useState<Partial<Record<'query' | 'topK', string>>>({});
  const [result, setResult] = useState<RetrievedChunk[] | null>(null);
  const run = useAction(async () => {
    const out = await api.post<{ data: RetrievedChunk[] }>(`/management/knowledge-bases/${kbId}/query`, { query: values.query.trim(), top_k: Number(values.topK) });
    setResult(out.data);
    return true;
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { query: [required, maxLength(2000)], topK: [integer(1, 20)] });
    setErrors(found);
    if (!hasErrors(found)) void run.run();
  };
  return (
    <Card title="Test a query">
      <form onSubmit={submit} noValidate>
        <Field label="Question" htmlFor="kb-query" error={errors.query}>
          <input id="kb-query" value={values.query} onChange={(e) => setValues((v) => ({ ...v, query: e.target.value }))} />
        </Field>
        <div className="inline-form">
          <Field label="Passages" htmlFor="kb-topk" error={errors.topK}>
            <input id="kb-topk" className="narrow" inputMode="numeric" value={values.topK} onChange={(e) => setValues((v) => ({ ...v, topK: e.target.value }))} />
          </Field>
          <Button type="submit" kind="primary" busy={run.busy}>
            Retrieve
          </Button>
        </div>
      </form>
      {embedding ? <p className="muted small">Ranked by full text here; requests also rank by {embedding} embeddings.</p> : null}
      <ErrorNote error={run.error} />
      {result ? (
        <Table
          rows={result}
          rowKey={(r) => r.chunk_id}
          empty="No passage matches: a request would get none either."
          columns={[
            { header: '#', numeric: true, cell: (r) => r.rank },
            {
              header: 'Passage',
              cell: (r) => (
                <div>
                  <div className="muted small">
                    {r.filename} · chunk {r.ordinal} · score {r.score}
                  </div>
                  <div className="chunk">{r.content}</div>
                </div>
              ),
            },
          ]}
        />
      ) : null}
    </Card>
  );
}
