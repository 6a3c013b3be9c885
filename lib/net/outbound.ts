// Outbound URLs a user can set (an external provider's base URL) must not reach into our own
// network: loopback, private, link-local, carrier-grade NAT, multicast, unspecified and cloud
// metadata addresses are refused unless an operator allow-lists them (`OUTBOUND_ALLOWLIST`:
// CIDRs, addresses or host names, comma-separated). The host is resolved and every address it
// resolves to is checked, so a public name pointing at 169.254.169.254 is refused too.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const BLOCKED_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local (includes fd00:ec2::254, AWS metadata over IPv6)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64: embeds IPv4
];
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.com']);

const blocked = new BlockList();
for (const [net, prefix] of BLOCKED_V4) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of BLOCKED_V6) blocked.addSubnet(net, prefix, 'ipv6');

export interface OutboundPolicy {
  /** Operator allow-list entries: CIDRs (`10.1.0.0/16`), addresses, or host names. */
  allow: readonly string[];
}

export class OutboundRefused extends Error {
  constructor(
    message: string,
    readonly host: string,
  ) {
    super(message);
  }
}

function allowList(entries: readonly string[]) {
  const list = new BlockList();
  const hosts = new Set<string>();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [addr, prefix] = entry.split('/');
    const family = isIP(addr ?? '');
    if (family === 0) hosts.add(entry);
    else if (prefix !== undefined) list.addSubnet(addr!, Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
    else list.addAddress(addr!, family === 4 ? 'ipv4' : 'ipv6');
  }
  return { list, hosts };
}

/** An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is checked as the IPv4 address it is. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 4 ? 'ipv4' : 'ipv6' };
}

export function isBlockedAddress(address: string, policy: OutboundPolicy = { allow: [] }): boolean {
  const { list } = allowList(policy.allow);
  const a = unmapped(address);
  if (list.check(a.address, a.family)) return false;
  return blocked.check(a.address, a.family);
}

/** Resolves the URL's host and refuses it when any address is internal and not allow-listed. */
export async function checkOutboundUrl(url: string, policy: OutboundPolicy, resolve: typeof lookup = lookup): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundRefused('is not a valid URL', url);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new OutboundRefused('must use http or https', parsed.hostname);
  if (parsed.username || parsed.password) throw new OutboundRefused('must not carry credentials in the URL (use credentials)', parsed.hostname);
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const { list, hosts } = allowList(policy.allow);
  if (hosts.has(host)) return;
  if (METADATA_HOSTS.has(host) || host.endsWith('.internal') || host === 'localhost' || host.endsWith('.localhost')) {
    throw new OutboundRefused(`points at an internal host (${host}); an operator can allow it with OUTBOUND_ALLOWLIST`, host);
  }
  const addresses = isIP(host) ? [{ address: host }] : await resolve(host, { all: true, verbatim: true }).catch(() => {
    throw new OutboundRefused(`host ${host} does not resolve`, host);
  });
  for (const { address } of addresses) {
    const a = unmapped(address);
    if (list.check(a.address, a.family)) continue;
    if (blocked.check(a.address, a.family)) {
      throw new OutboundRefused(`resolves to an internal address (${address}); an operator can allow it with OUTBOUND_ALLOWLIST`, host);
    }
  }
}
