// JSON files holding secrets (the mTLS client key, manifests carrying the node token): written
// whole with mode 0600 and renamed into place, so no reader ever sees a partial or world-readable file.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function readPrivateJson<T>(file: string): T | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

export function writePrivateJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600); // a leftover tmp file from an older run keeps its mode otherwise
  renameSync(tmp, file);
}
