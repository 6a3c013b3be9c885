import { describe, expect, it } from 'vitest';
import { checkOutboundUrl, isBlockedAddress } from './outbound.js';

const none = { allow: [] };
const fakeDns = (map: Record<string, string[]>) =>
  (async (host: string) => {
    const addresses = map[host];
    if (!addresses) throw new Error('ENOTFOUND');
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as never;

describe('outbound URL policy (SSRF)', () => {
  it.each([
    'http://127.0.0.1/v1',
    'http://127.1.2.3:8080',
    'http://10.0.0.5',
    'http://172.20.1.1',
    'http://192.168.1.10',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1',
    'http://0.0.0.0',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://localhost:8000',
    'http://metadata.google.internal/computeMetadata/v1',
    'http://user:pass@api.example.com',
    'file:///etc/passwd',
    'gopher://api.example.com',
  ])('refuses %s', async (url) => {
    await expect(checkOutboundUrl(url, none, fakeDns({ 'api.example.com': ['93.184.216.34'] }))).rejects.toThrow();
  });

  it('refuses a public name that resolves to an internal address (any of them)', async () => {
    await expect(checkOutboundUrl('https://evil.example', none, fakeDns({ 'evil.example': ['93.184.216.34', '169.254.169.254'] }))).rejects.toThrow(/internal address/);
  });

  it('accepts public addresses and names', async () => {
    await expect(checkOutboundUrl('https://api.openai.com/v1', none, fakeDns({ 'api.openai.com': ['104.18.7.192', '2606:4700::6812:7c0'] }))).resolves.toBeUndefined();
    await expect(checkOutboundUrl('http://93.184.216.34/v1', none)).resolves.toBeUndefined();
  });

  it('lets an operator allow-list networks, addresses and hosts', async () => {
    const policy = { allow: ['10.1.0.0/16', '127.0.0.1', 'vllm.internal'] };
    await expect(checkOutboundUrl('http://10.1.2.3:8000/v1', policy)).resolves.toBeUndefined();
    await expect(checkOutboundUrl('http://127.0.0.1:9000/v1', policy)).resolves.toBeUndefined();
    await expect(checkOutboundUrl('http://vllm.internal/v1', policy)).resolves.toBeUndefined();
    await expect(checkOutboundUrl('http://10.2.0.1/v1', policy)).rejects.toThrow();
    expect(isBlockedAddress('10.1.9.9', policy)).toBe(false);
    expect(isBlockedAddress('10.9.9.9', policy)).toBe(true);
  });
});
