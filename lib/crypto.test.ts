import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, generateApiKey, hashPassword, keyedHash, nodeToken, parseApiKey, verifyPassword } from './crypto.js';

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$32768\$8\$3\$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('Correct horse battery staple', stored)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });

  it('salts each hash', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });
});

describe('secrets at rest', () => {
  const key = Buffer.alloc(32, 3);
  it('round-trips and binds the ciphertext to its owner', () => {
    const sealed = encryptSecret(key, 'JBSWY3DPEHPK3PXP', 'totp:user-1');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(decryptSecret(key, sealed, 'totp:user-1')).toBe('JBSWY3DPEHPK3PXP');
    expect(() => decryptSecret(key, sealed, 'totp:user-2')).toThrow();
    expect(() => decryptSecret(Buffer.alloc(32, 4), sealed, 'totp:user-1')).toThrow();
  });

  it('detects tampering', () => {
    const sealed = encryptSecret(key, 'secret');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('SECRET').toString('base64url');
    expect(() => decryptSecret(key, parts.join('.'))).toThrow();
  });
});

describe('API keys', () => {
  it('are parsed by shape and stored only as a keyed hash', () => {
    const { key, prefix, hash } = generateApiKey('pepper');
    expect(parseApiKey(key)).toEqual({ prefix });
    expect(key.startsWith(prefix)).toBe(true);
    expect(hash).toBe(keyedHash('pepper', key));
    expect(hash).not.toContain(key.split('.')[1]);
    expect(parseApiKey('sk-inf-zzz.abc')).toBeUndefined();
    expect(parseApiKey(`${key}x`)).toBeUndefined();
  });

  it('node tokens are deterministic per replica and differ between replicas', () => {
    expect(nodeToken('p', 'd:0')).toBe(nodeToken('p', 'd:0'));
    expect(nodeToken('p', 'd:0')).not.toBe(nodeToken('p', 'd:1'));
  });
});
