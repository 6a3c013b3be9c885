// Development secrets for the embedded default: generated once into the data folder (mode 0600)
// and passed to every process, so tokens survive a restart and no default secret is ever used.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevSecrets {
  JWT_SECRET: string;
  ENCRYPTION_KEY: string;
  INTERNAL_SERVICE_TOKEN: string;
  API_KEY_PEPPER: string;
}

export function loadOrCreateSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'secrets.json');
  const env = process.env;
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
    return {
      JWT_SECRET: env.JWT_SECRET ?? stored.JWT_SECRET,
      ENCRYPTION_KEY: env.ENCRYPTION_KEY ?? stored.ENCRYPTION_KEY,
      INTERNAL_SERVICE_TOKEN: env.INTERNAL_SERVICE_TOKEN ?? stored.INTERNAL_SERVICE_TOKEN,
      API_KEY_PEPPER: env.API_KEY_PEPPER ?? stored.API_KEY_PEPPER,
    };
  }
  const secrets: DevSecrets = {
    JWT_SECRET: env.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: env.ENCRYPTION_KEY ?? randomBytes(32).toString('hex'),
    INTERNAL_SERVICE_TOKEN: env.INTERNAL_SERVICE_TOKEN ?? randomBytes(32).toString('base64url'),
    API_KEY_PEPPER: env.API_KEY_PEPPER ?? randomBytes(32).toString('base64url'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
