// TEST DOUBLE of an Akash provider's gateway — for tests only, never used by the sidecar.
//
// A local HTTPS server on 127.0.0.1 (random port) with a self-signed ECDSA certificate made here,
// CN = the provider's address (what a provider publishes on chain). Like the real gateway
// (akash-network/provider gateway/rest + gateway/utils) it asks every client for a certificate
// and accepts only one that is self-signed with subject CN = issuer CN = an address and that
// is that address's certificate "on chain" (a callback stands in for the cert module). It serves,
// in the provider's wire format:
//   PUT /deployment/{dseq}/manifest          JSON manifest (array of groups) → 200, empty body;
//                                            undecodable JSON → 422
//   GET /lease/{dseq}/{gseq}/{oseq}/status   404 before a manifest; then LeaseStatus JSON
//   GET /lease/{dseq}/{gseq}/{oseq}/logs     WebSocket: {"name","message"} text frames, then the
//                                            connection drops (follow=false), or close 4001
//                                            when the lease has no manifest
// and records what it saw: the client certificates presented, the SNI names, the request bodies.
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import jsrsasign from 'jsrsasign';
import { WebSocketServer } from 'ws';
import type { ProviderLeaseStatus } from './akash-gateway.js';

export interface SelfSignedCertificate {
  cert: string;
  key: string;
}

/** A provider-style certificate: ECDSA P-256, self-signed, CN = address, server and client auth. */
export function selfSignedProviderCertificate(address: string): SelfSignedCertificate {
  const { prvKeyObj, pubKeyObj } = jsrsasign.KEYUTIL.generateKeypair('EC', 'secp256r1');
  const now = Date.now();
  const time = (ms: number) => new Date(ms).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
  const cert = new jsrsasign.KJUR.asn1.x509.Certificate({
    version: 3,
    serial: { int: now },
    issuer: { str: `/CN=${address}` },
    subject: { str: `/CN=${address}` },
    notbefore: time(now - 60_000),
    notafter: time(now + 86_400_000),
    sbjpubkey: pubKeyObj,
    ext: [
      { extname: 'keyUsage', critical: true, names: ['keyEncipherment', 'dataEncipherment'] },
      { extname: 'extKeyUsage', array: [{ name: 'clientAuth' }, { name: 'serverAuth' }] },
      { extname: 'basicConstraints', critical: true },
    ],
    sigalg: 'SHA256withECDSA',
    cakey: prvKeyObj,
  });
  return { cert: cert.getPEM(), key: jsrsasign.KEYUTIL.getPEM(prvKeyObj, 'PKCS8PRV') };
}

export interface PresentedClientCertificate {
  subjectCN: string;
  issuerCN: string;
  /** Decimal, as the chain keys certificates. */
  serial: string;
  fingerprint256: string;
}

export interface ProviderGatewayTestDouble {
  hostUri: string;
  provider: string;
  /** The provider's certificate as it would be published on chain. */
  certificatePem: string;
  /** Client certificates presented on each authenticated request, in order. */
  presented: PresentedClientCertificate[];
  /** SNI names the clients asked for. */
  serverNames: string[];
  /** Bodies of PUT /deployment/{dseq}/manifest, by dseq (the raw text received). */
  manifests: Map<string, string>;
  requests: { method: string; path: string; status: number }[];
  /** Ingress host name reported for each service; `available` replicas reported (default 1). */
  ingressHost: string;
  available: number;
  logLines: { name: string; message: string }[];
  close(): Promise<void>;
}

export interface ProviderGatewayTestDoubleOptions {
  provider: string;
  /** The valid certificates (PEM) an owner has on chain. */
  clientCertificatesOnChain: (owner: string) => string[];
  ingressHost?: string;
}

const hexToDecimal = (hex: string) => BigInt(`0x${hex}`).toString(10);

export async function startProviderGatewayTestDouble(options: ProviderGatewayTestDoubleOptions): Promise<ProviderGatewayTestDouble> {
  const own = selfSignedProviderCertificate(options.provider);
  const server: Server = createServer({ cert: own.cert, key: own.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
  const wss = new WebSocketServer({ noServer: true });

  const double: Omit<ProviderGatewayTestDouble, 'hostUri'> = {
    provider: options.provider,
    certificatePem: own.cert,
    presented: [],
    serverNames: [],
    manifests: new Map(),
    requests: [],
    ingressHost: options.ingressHost ?? 'engine-test.ingress.provider.test',
    available: 1,
    logLines: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  /** The owner the client certificate proves, as gateway/utils + ValidatePeerCertificates decide it; undefined when it proves none. */
  function authenticate(socket: TLSSocket): string | undefined {
    double.serverNames.push(socket.servername || '');
    const peer = socket.getPeerCertificate();
    if (!peer || !peer.raw) return undefined;
    const presented = {
      subjectCN: String(peer.subject?.CN ?? ''),
      issuerCN: String(peer.issuer?.CN ?? ''),
      serial: hexToDecimal(peer.serialNumber),
      fingerprint256: peer.fingerprint256,
    };
    double.presented.push(presented);
    if (!/^akash1[0-9a-z]{38}$/.test(presented.subjectCN) || presented.subjectCN !== presented.issuerCN) return undefined;
    const onChain = options.clientCertificatesOnChain(presented.subjectCN).map((pem) => new X509Certificate(pem));
    const match = onChain.find((c) => hexToDecimal(c.serialNumber) === presented.serial && c.raw.equals(peer.raw));
    if (!match) return undefined;
    if (!match.verify(match.publicKey) || Date.parse(match.validTo) < Date.now() || Date.parse(match.validFrom) > Date.now()) return undefined;
    return presented.subjectCN;
  }

  const key = (owner: string, dseq: string) => `${owner}/${dseq}`;
  const manifestsByOwner = new Map<string, unknown[]>();

  function leaseStatus(manifest: unknown[]): ProviderLeaseStatus {
    const names = manifest.flatMap((g) => ((g as { services?: { name: string }[] }).services ?? []).map((s) => s.name));
    return {
      services: Object.fromEntries(
        names.map((name) => [
          name,
          {
            name,
            available: double.available,
            total: 1,
            uris: [double.ingressHost],
            observed_generation: 1,
            replicas: 1,
            updated_replicas: 1,
            ready_replicas: double.available,
            available_replicas: double.available,
          },
        ]),
      ),
      forwarded_ports: null,
      ips: null,
    };
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'https://provider.test').pathname;
    const answer = (status: number, body = '', type = 'text/plain; charset=utf-8') => {
      double.requests.push({ method: req.method ?? '', path, status });
      res.writeHead(status, body ? { 'content-type': type } : {});
      res.end(body);
    };
    const owner = authenticate(req.socket as TLSSocket);
    if (!owner) return answer(401, 'unauthorized\n');
    const put = /^\/deployment\/(\d+)\/manifest$/.exec(path);
    if (put && req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (err) {
          return answer(422, `${(err as Error).message}\n`);
        }
        if (!Array.isArray(parsed)) return answer(422, 'json: cannot unmarshal object into Go value of type v2beta2.Manifest\n');
        double.manifests.set(put[1]!, text);
        manifestsByOwner.set(key(owner, put[1]!), parsed);
        answer(200);
      });
      return;
    }
    const status = /^\/lease\/(\d+)\/(\d+)\/(\d+)\/status$/.exec(path);
    if (status && req.method === 'GET') {
      const manifest = manifestsByOwner.get(key(owner, status[1]!));
      return manifest ? answer(200, JSON.stringify(leaseStatus(manifest)), 'application/json') : answer(404);
    }
    answer(404, '404 page not found\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    const url = new URL(req.url ?? '/', 'https://provider.test');
    const logs = /^\/lease\/(\d+)\/(\d+)\/(\d+)\/logs$/.exec(url.pathname);
    const owner = authenticate(socket as TLSSocket);
    if (!owner || !logs) {
      socket.end(`HTTP/1.1 ${owner ? '404 Not Found' : '401 Unauthorized'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    double.requests.push({ method: 'GET', path: `${url.pathname}${url.search}`, status: 101 });
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!manifestsByOwner.has(key(owner, logs[1]!))) {
        ws.close(4001, '');
        return;
      }
      const tail = Number(url.searchParams.get('tail') ?? '-1');
      const service = url.searchParams.get('service');
      const lines = double.logLines.filter((l) => !service || l.name === service);
      for (const line of tail >= 0 ? lines.slice(-tail) : lines) ws.send(JSON.stringify(line));
      // follow=false: the provider's writer returns and drops the connection without a close frame.
      setTimeout(() => ws.terminate(), 20);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(double, { hostUri: `https://127.0.0.1:${port}` });
}
