// Password hashing, secrets at rest, keyed hashes and tokens. Node's own crypto only: scrypt,
// AES-256-GCM and HMAC-SHA256 are all there and well reviewed.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// OWASP password storage cheat sheet: scrypt N=2^17, r=8, p=1 (128 MiB). We use 2^15 with
// r=8, p=3, the cheat sheet's equal-cost alternative at a quarter of the memory.
const SCRYPT = { N: 2 ** 15, r: 8, p: 3, keyLen: 32, maxmem: 128 * 1024 * 1024 } as const;

function scryptAsync(password: string, salt: Buffer, params: { N: number; r: number; p: number; keyLen: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, params.keyLen, { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT.maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, all self-describing so costs can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, saltB64, hashB64] = stored.split('$');
  if (kind !== 'scrypt' || !n || !r || !p || !saltB64 || !hashB64) return false;
  const expected = Buffer.from(hashB64, 'base64url');
  const key = await scryptAsync(password, Buffer.from(saltB64, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    keyLen: expected.length,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash with the cost of a real one, for the unknown-user path (same timing as a wrong password). */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

const GCM_VERSION = 'v1';

/** AES-256-GCM; output `v1.<iv>.<tag>.<ciphertext>` (base64url). `aad` binds the value to its owner. */
export function encryptSecret(key: Buffer, plaintext: string, aad = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [GCM_VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export function decryptSecret(key: Buffer, sealed: string, aad = ''): string {
  const [version, iv, tag, ct] = sealed.split('.');
  if (version !== GCM_VERSION || !iv || !tag || ct === undefined) throw new Error('malformed sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}

export function keyedHash(pepper: string, value: string): string {
  return createHmac('sha256', pepper).update(value).digest('base64url');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export const API_KEY_PREFIX = 'sk-inf-';

/** `sk-inf-<lookup>.<secret>`: the lookup part finds the row, the secret is checked by keyed hash. */
export function generateApiKey(pepper: string): { key: string; prefix: string; hash: string } {
  const lookup = randomBytes(6).toString('hex');
  const key = `${API_KEY_PREFIX}${lookup}.${randomBytes(24).toString('base64url')}`;
  return { key, prefix: `${API_KEY_PREFIX}${lookup}`, hash: keyedHash(pepper, key) };
}

export function parseApiKey(key: string): { prefix: string } | undefined {
  const m = /^(sk-inf-[0-9a-f]{12})\.[A-Za-z0-9_-]{32}$/.exec(key);
  return m ? { prefix: m[1]! } : undefined;
}

/** Node tokens are derived, not stored: a retried provisioning activity hands out the same token. */
export function nodeToken(pepper: string, providerInstanceId: string): string {
  return createHmac('sha256', pepper).update(`node:${providerInstanceId}`).digest('base64url');
}
