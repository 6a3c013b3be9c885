// The mTLS client certificate: what is generated (parsed back from the PEM), the message that
// publishes it, and the file it is kept in.
import { X509Certificate, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import akashCert from '@akashnetwork/akash-api/akash/cert/v1beta3';
import jsrsasign from 'jsrsasign';
import { afterEach, describe, expect, it } from 'vitest';
import { akashRegistry } from './akash-chain.js';
import { createCertificateMessage, createCertificateStore, generateClientCertificate, isUsableCertificate } from './akash-cert.js';

const { MsgCreateCertificate } = akashCert;
const OWNER = 'akash1qy352eufqy352eufqy352eufqy352eufh6rrvr';
const DAY = 86_400_000;

describe('Akash client certificate', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const c = generateClientCertificate(OWNER, { now });
  const x509 = new X509Certificate(c.cert);

  it('is an ECDSA P-256 certificate, self-signed, subject and issuer CN = the account address', () => {
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x509.subject).toBe(`CN=${OWNER}`);
    expect(x509.issuer).toBe(`CN=${OWNER}`);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(c.privateKey))).toBe(true);
    const parsed = new jsrsasign.X509();
    parsed.readCertPEM(c.cert);
    expect(parsed.getVersion()).toBe(3);
    expect(parsed.getSignatureAlgorithmName()).toBe('SHA256withECDSA');
  });

  it('is valid for a year from a few minutes before now', () => {
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    expect(from).toBeLessThanOrEqual(now.getTime());
    expect(now.getTime() - from).toBeLessThanOrEqual(10 * 60_000);
    expect(to - now.getTime()).toBe(365 * DAY);
    expect([Date.parse(c.notBefore), Date.parse(c.notAfter)]).toEqual([from, to]);
  });

  it('carries the extensions Akash clients put on it: keyUsage, extKeyUsage clientAuth, basicConstraints', () => {
    const parsed = new jsrsasign.X509();
    parsed.readCertPEM(c.cert);
    expect(parsed.getExtKeyUsage()).toEqual({ extname: 'keyUsage', critical: true, names: ['keyEncipherment', 'dataEncipherment'] });
    expect(parsed.getExtExtKeyUsage()).toEqual({ extname: 'extKeyUsage', array: ['clientAuth'] });
    expect(parsed.getExtBasicConstraints()).toEqual({ extname: 'basicConstraints', critical: true, cA: true });
    expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // Node reports the extended key usage OIDs: clientAuth
  });

  it('names its serial in decimal, as the chain keys certificates, and makes a new one each time', () => {
    expect(c.serial).toBe(BigInt(`0x${x509.serialNumber}`).toString(10));
    expect(BigInt(c.serial)).toBeGreaterThan(0n);
    expect(generateClientCertificate(OWNER, { now }).serial).not.toBe(c.serial);
  });

  it('gives the public key as an "EC PUBLIC KEY" PEM whose body is the certificate key (SPKI)', () => {
    expect(c.publicKey).toMatch(/^-----BEGIN EC PUBLIC KEY-----\r?\n[\s\S]+-----END EC PUBLIC KEY-----\s*$/);
    const spki = createPublicKey(c.publicKey.replace(/EC PUBLIC KEY/g, 'PUBLIC KEY'));
    expect(spki.export({ type: 'spki', format: 'der' })).toEqual(x509.publicKey.export({ type: 'spki', format: 'der' }));
    const data = Buffer.from('tls handshake');
    expect(verify('sha256', data, spki, sign('sha256', data, createPrivateKey(c.privateKey)))).toBe(true);
    expect(c.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('is usable for its owner until a week before it expires', () => {
    expect(isUsableCertificate(c, OWNER, now)).toBe(true);
    expect(isUsableCertificate(c, 'akash1someoneelse', now)).toBe(false);
    expect(isUsableCertificate(c, OWNER, new Date(now.getTime() + 359 * DAY))).toBe(false);
    expect(isUsableCertificate(undefined, OWNER, now)).toBe(false);
  });
});

describe('MsgCreateCertificate', () => {
  it('encodes the certificate and public key PEM texts as bytes, for the owner', () => {
    const c = generateClientCertificate(OWNER);
    const msg = createCertificateMessage(c);
    expect(msg.typeUrl).toBe('/akash.cert.v1beta3.MsgCreateCertificate');
    const wire = MsgCreateCertificate.decode(akashRegistry.encode(msg));
    expect(wire.owner).toBe(OWNER);
    expect(new TextDecoder().decode(wire.cert)).toBe(c.cert);
    expect(new TextDecoder().decode(wire.pubkey)).toBe(c.publicKey);
    expect(JSON.stringify(msg)).not.toContain('PRIVATE KEY');
  });
});

describe('certificate store', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps the certificate and key in a file only its owner can read, and reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'akash-cert-'));
    dirs.push(dir);
    const file = join(dir, 'sidecar', 'akash-client-cert.json');
    const c = generateClientCertificate(OWNER);
    createCertificateStore(file).save(c);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(c);
    expect(createCertificateStore(file).load()).toEqual(c);
  });

  it('keeps it in memory without a file', () => {
    const store = createCertificateStore(undefined);
    expect(store.load()).toBeUndefined();
    const c = generateClientCertificate(OWNER);
    store.save(c);
    expect(store.load()).toBe(c);
  });
});
