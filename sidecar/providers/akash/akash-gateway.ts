// The provider's gateway (akash-network/provider gateway/rest), spoken over mTLS:
//   PUT /deployment/{dseq}/manifest                 body: the manifest JSON (the groups array)
//   GET /lease/{dseq}/{gseq}/{oseq}/status          → LeaseStatus {services, forwarded_ports, ips}
//   GET /lease/{dseq}/{gseq}/{oseq}/logs?follow=false&tail=N[&service=s]   (a WebSocket)
//
// TLS, as Akash's Go client (provider/client NewClient) does it:
//   - our client certificate (published on chain) is the only authentication;
//   - SNI is `mtls.<host>`: a provider that also holds a public (e.g. Let's Encrypt) certificate
//     for its host name serves that one without asking for a client certificate, and any other
//     name gets the mTLS config;
//   - the provider's certificate is accepted when it chains to a public root for the host name, or
//     when it is one of the provider's own certificates published on chain (self-signed,
//     CN = provider address): those are pinned as trust anchors and matched by fingerprint.
//     Nothing is sent to a server that proves neither.
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import WebSocket from 'ws';

export interface LeaseRef {
  dseq: string;
  gseq: number;
  oseq: number;
}

/** provider/client ServiceStatus. */
export interface ProviderServiceStatus {
  name: string;
  available: number;
  total: number;
  uris: string[] | null;
  observed_generation: number;
  replicas: number;
  updated_replicas: number;
  ready_replicas: number;
  available_replicas: number;
}

/** provider/client ForwardedPortStatus. */
export interface ProviderForwardedPort {
  host?: string;
  port: number;
  externalPort: number;
  proto: string;
  name: string;
}

/** provider/client LeaseStatus, the body of GET /lease/{dseq}/{gseq}/{oseq}/status. */
export interface ProviderLeaseStatus {
  errors?: string[];
  services: Record<string, ProviderServiceStatus | null> | null;
  forwarded_ports: Record<string, ProviderForwardedPort[]> | null;
  ips: Record<string, unknown[]> | null;
}

export interface ProviderGateway {
  submitManifest(dseq: string, manifestJson: string): Promise<void>;
  /** undefined when the provider has no manifest for the lease (it answers 404). */
  leaseStatus(lease: LeaseRef): Promise<ProviderLeaseStatus | undefined>;
  /** The last `tail` log lines of the lease's containers (one service when `service` is given). */
  leaseLogs(lease: LeaseRef, options: { tail: number; service?: string }): Promise<string[]>;
}

export interface ProviderGatewayTarget {
  /** The provider's host_uri from chain, e.g. https://provider.example.com:8443. */
  hostUri: string;
  /** The provider's address: the CN its own certificates carry. */
  provider: string;
  /** The provider's valid certificates on chain (PEM). */
  serverCertificates: string[];
  /** Our certificate and key (PEM). */
  client: { cert: string; key: string };
  timeoutMs?: number;
}

export class ProviderGatewayError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProviderGatewayError';
  }
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** The provider's private WebSocket close codes (gateway/rest router.go): 4000 internal, 4001 lease not found, 4002 unavailable. */
const WS_PROVIDER_ERROR = 4000;

const fingerprint = (pem: string): string | undefined => {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined; // a malformed certificate on chain pins nothing
  }
};

/** The TLS settings of every connection to one provider (see the header). */
export function gatewayTlsOptions(target: ProviderGatewayTarget): https.AgentOptions {
  const host = new URL(target.hostUri).hostname;
  const pinned = new Set(target.serverCertificates.map(fingerprint).filter((f): f is string => !!f));
  return {
    cert: target.client.cert,
    key: target.client.key,
    ca: [...tls.rootCertificates, ...target.serverCertificates],
    servername: `mtls.${host}`,
    minVersion: 'TLSv1.3',
    checkServerIdentity(_servername, peer) {
      if (pinned.has(peer.fingerprint256)) {
        return peer.subject?.CN === target.provider ? undefined : new Error(`the provider certificate's CN ${String(peer.subject?.CN)} is not ${target.provider}`);
      }
      return tls.checkServerIdentity(host, peer);
    },
  };
}

export function createProviderGateway(target: ProviderGatewayTarget): ProviderGateway {
  const base = target.hostUri.replace(/\/+$/, '');
  const timeoutMs = target.timeoutMs ?? 30_000;
  const agent = new https.Agent({ ...gatewayTlsOptions(target), keepAlive: false });
  const leasePath = (l: LeaseRef) => `/lease/${encodeURIComponent(l.dseq)}/${l.gseq}/${l.oseq}`;

  function call(method: 'GET' | 'PUT', path: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = https.request(`${base}${path}`, { method, agent, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new ProviderGatewayError(`${method} ${path}: answer larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new ProviderGatewayError(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof ProviderGatewayError ? err : new ProviderGatewayError(`${method} ${base}${path}: ${err.message}`)));
      req.end(body);
    });
  }

  const failure = (what: string, r: { status: number; text: string }) =>
    new ProviderGatewayError(`provider ${target.provider} answered ${r.status} to ${what}${r.text.trim() ? `: ${r.text.trim().slice(0, 300)}` : ''}`, r.status);

  return {
    async submitManifest(dseq, manifestJson) {
      const r = await call('PUT', `/deployment/${encodeURIComponent(dseq)}/manifest`, manifestJson);
      if (r.status < 200 || r.status >= 300) throw failure('the manifest', r);
    },

    async leaseStatus(lease) {
      const r = await call('GET', `${leasePath(lease)}/status`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw failure('lease status', r);
      return JSON.parse(r.text) as ProviderLeaseStatus;
    },

    leaseLogs(lease, options) {
      const url = new URL(`${base}${leasePath(lease)}/logs`);
      url.protocol = 'wss:';
      url.searchParams.set('follow', 'false');
      url.searchParams.set('tail', String(Math.max(0, Math.floor(options.tail))));
      if (options.service) url.searchParams.set('service', options.service);
      return new Promise<string[]>((resolve, reject) => {
        const lines: string[] = [];
        const ws = new WebSocket(url, { agent, handshakeTimeout: timeoutMs });
        // With follow=false the provider sends what it has and drops the connection.
        const timer = setTimeout(() => {
          ws.terminate();
          resolve(lines);
        }, timeoutMs);
        ws.on('message', (data: WebSocket.RawData) => {
          try {
            const line = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data)) as { name?: unknown; message?: unknown };
            if (typeof line.message === 'string') lines.push(line.message);
          } catch {
            // not a ServiceLogMessage: skip it
          }
        });
        ws.on('unexpected-response', (_req, res) => {
          clearTimeout(timer);
          reject(new ProviderGatewayError(`provider ${target.provider} answered ${res.statusCode ?? 0} to the logs request`, res.statusCode));
          res.resume();
          ws.terminate();
        });
        ws.on('error', (err) => {
          clearTimeout(timer);
          reject(err instanceof ProviderGatewayError ? err : new ProviderGatewayError(`logs from ${base}: ${err.message}`));
        });
        ws.on('close', (code, reason) => {
          clearTimeout(timer);
          if (code >= WS_PROVIDER_ERROR && lines.length === 0) reject(new ProviderGatewayError(`provider ${target.provider} closed the log stream (${code}${reason.length ? ` ${reason.toString()}` : ''})`));
          else resolve(options.tail > 0 ? lines.slice(-options.tail) : lines);
        });
      });
    },
  };
}

/**
 * Where the service answers, from the provider's lease status: the first ingress host name of a
 * global port 80 expose (plain HTTP through the provider's shared ingress), else the forwarded
 * host:port of `port`. `ready` says whether at least one replica is available.
 */
export function serviceEndpoint(status: ProviderLeaseStatus, service: string, port: number): { url?: string; ready: boolean; available: number; total: number } {
  const s = status.services?.[service];
  const available = s?.available ?? 0;
  const total = s?.total ?? 0;
  const host = s?.uris?.find(Boolean);
  if (host) return { url: `http://${host}`, ready: available > 0, available, total };
  const forwarded = status.forwarded_ports?.[service]?.find((p) => p.port === port && p.host);
  if (forwarded) return { url: `http://${forwarded.host}:${forwarded.externalPort}`, ready: available > 0, available, total };
  return { ready: available > 0, available, total };
}
