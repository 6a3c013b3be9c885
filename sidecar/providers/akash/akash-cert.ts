// The client certificate an Akash provider's gateway asks for (mTLS) before it takes a manifest or
// answers lease status. As Akash's own clients make it (akashjs CertificateManager, the Go
// `cert generate client`): an ECDSA P-256 key, a self-signed X.509 v3 certificate whose subject and
// issuer CN are the account address, extended key usage clientAuth (the provider verifies the
// chain with that usage), published on chain with akash.cert.v1beta3.MsgCreateCertificate. The
// chain keys it by (owner, serial) and checks that the CN is the owner and that the public key
// (PEM type "EC PUBLIC KEY") verifies the certificate's signature.
//
// One certificate serves every job: it is kept in the sidecar's data dir in a file only the
// sidecar's user can read (mode 0600). The private key is never logged and never leaves that file
// except as the TLS client key.
import { generateKeyPairSync, randomInt, sign } from 'node:crypto';
import akashCert from '@akashnetwork/akash-api/akash/cert/v1beta3';
import type { EncodeObject } from '@cosmjs/proto-signing';
import jsrsasign from 'jsrsasign';
import { readPrivateJson, writePrivateJson } from './private-file.js';

const { MsgCreateCertificate } = akashCert;
export const MSG_CREATE_CERTIFICATE = `/${MsgCreateCertificate.$type}`;

const DAY_MS = 24 * 60 * 60 * 1000;
/** akashjs and the Go CLI both issue certificates for a year. */
export const CERTIFICATE_VALIDITY_DAYS = 365;
/** Replace the certificate this long before it expires, so a job never starts on one about to lapse. */
const RENEW_BEFORE_MS = 7 * DAY_MS;
/** Back-dated a little: the provider checks notBefore against its own clock. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const SIGALG = 'SHA256withECDSA';

export interface AkashClientCertificate {
  owner: string;
  /** The serial in decimal, as the chain keys the certificate (CertificateID.serial). */
  serial: string;
  /** PEM "CERTIFICATE". */
  cert: string;
  /** PEM "EC PUBLIC KEY" (an SPKI body), the form MsgCreateCertificate.pubkey must have. */
  publicKey: string;
  /** PEM PKCS#8 private key: the TLS client key. Never log it. */
  privateKey: string;
  notBefore: string;
  notAfter: string;
}

/** X.509 UTCTime (YYMMDDHHMMSSZ); fine until 2049. */
const utcTime = (d: Date) => d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');

/** A positive DER INTEGER in hex: even length, no high bit set on the first byte. */
function derPositiveHex(n: bigint): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return /^[89a-f]/.test(hex) ? `00${hex}` : hex;
}

export function generateClientCertificate(owner: string, options: { now?: Date; validDays?: number } = {}): AkashClientCertificate {
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime() + (options.validDays ?? CERTIFICATE_VALIDITY_DAYS) * DAY_MS);
  // Unique per owner on chain (a second certificate with the same serial is refused): time in µs, as akashjs does, plus noise.
  const serial = BigInt(now.getTime()) * 1000n + BigInt(randomInt(1000));
  // The key pair comes from Node's CSPRNG (OpenSSL), and so does the signature's nonce; jsrsasign
  // only lays out the X.509 structure.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const name = { str: `/CN=${owner}` };
  const tbs = new jsrsasign.KJUR.asn1.x509.TBSCertificate({
    version: 3,
    serial: { hex: derPositiveHex(serial) },
    sigalg: SIGALG,
    issuer: name,
    subject: name,
    notbefore: utcTime(notBefore),
    notafter: utcTime(notAfter),
    sbjpubkey: spki,
    // The extensions akashjs puts on the certificates the Akash console uses.
    ext: [
      { extname: 'keyUsage', critical: true, names: ['keyEncipherment', 'dataEncipherment'] },
      { extname: 'extKeyUsage', array: [{ name: 'clientAuth' }] },
      { extname: 'basicConstraints', cA: true, critical: true },
    ],
  });
  const sighex = sign('sha256', Buffer.from(tbs.getEncodedHex(), 'hex'), privateKey).toString('hex'); // ECDSA-Sig-Value, DER
  const certificate = new jsrsasign.KJUR.asn1.x509.Certificate({ tbsobj: tbs, sigalg: SIGALG, sighex });
  return {
    owner,
    serial: serial.toString(10),
    cert: certificate.getPEM(),
    // An SPKI "PUBLIC KEY"; the chain wants the same body labelled "EC PUBLIC KEY".
    publicKey: spki.replace(/PUBLIC KEY/g, 'EC PUBLIC KEY'),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}

/** Whether a stored certificate can still be used for `owner` at `now`. */
export function isUsableCertificate(c: AkashClientCertificate | undefined, owner: string, now = new Date()): c is AkashClientCertificate {
  return !!c && c.owner === owner && Date.parse(c.notAfter) - RENEW_BEFORE_MS > now.getTime() && Date.parse(c.notBefore) <= now.getTime();
}

/** MsgCreateCertificate carries the PEM texts themselves as bytes. */
export function createCertificateMessage(c: Pick<AkashClientCertificate, 'owner' | 'cert' | 'publicKey'>): EncodeObject {
  const bytes = (s: string) => new TextEncoder().encode(s);
  return { typeUrl: MSG_CREATE_CERTIFICATE, value: MsgCreateCertificate.fromPartial({ owner: c.owner, cert: bytes(c.cert), pubkey: bytes(c.publicKey) }) };
}

export interface CertificateStore {
  load(): AkashClientCertificate | undefined;
  save(certificate: AkashClientCertificate): void;
}

/** A certificate kept in one file (mode 0600); `undefined` keeps it in memory for this process. */
export function createCertificateStore(file: string | undefined): CertificateStore {
  let current: AkashClientCertificate | undefined;
  return {
    load() {
      if (!current && file) current = readPrivateJson<AkashClientCertificate>(file);
      return current;
    },
    save(certificate) {
      if (file) writePrivateJson(file, certificate);
      current = certificate;
    },
  };
}
