// Which chain job (Nosana job address, Akash dseq) this sidecar created for which instance id.
// Live providers keep it in a file so a create retried after a sidecar restart finds the job it
// already paid for instead of posting a second one.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LedgerEntry {
  instanceId: string;
  jobId: string;
  createdAt: string;
  /** Whatever the provider needs later (IPFS hash of the definition, manifest version, …). */
  details: Record<string, string>;
}

export interface JobLedger {
  byInstance(instanceId: string): LedgerEntry | undefined;
  byJob(jobId: string): LedgerEntry | undefined;
  record(entry: LedgerEntry): void;
  all(): LedgerEntry[];
}

/** A ledger in one JSON file (written whole, renamed into place); `undefined` keeps it in memory. */
export function createJobLedger(file: string | undefined): JobLedger {
  let entries: LedgerEntry[] | undefined;
  const load = (): LedgerEntry[] => {
    if (entries) return entries;
    entries = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { jobs: LedgerEntry[] }).jobs : [];
    return entries;
  };
  const save = () => {
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify({ jobs: load() }, null, 2));
    renameSync(`${file}.tmp`, file);
  };
  return {
    // The newest entry wins: an instance re-created after its job ended has a newer job.
    byInstance: (instanceId) => load().findLast((e) => e.instanceId === instanceId),
    byJob: (jobId) => load().find((e) => e.jobId === jobId),
    record(entry) {
      load().push(entry);
      save();
    },
    all: () => [...load()],
  };
}
