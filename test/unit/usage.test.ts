// Status.IPAM counts (ipam/usage.ts) against Docker 29's documented examples and the edges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subnetUsage } from '../../src/ipam/usage.js';

describe('subnet usage', () => {
  const cases: Array<[string, Parameters<typeof subnetUsage>[0], string[], [bigint, bigint]]> = [
    ['a fresh /16: network, gateway, broadcast (Docker\'s example)', { Subnet: '172.16.0.0/16', Gateway: '172.16.0.1' }, [], [3n, 65533n]],
    ['endpoints and kept addresses count; outsiders do not', { Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }, ['10.0.0.2', '10.0.0.3', '10.9.9.9'], [5n, 251n]],
    ['an ip-range: only its free addresses are dynamic', { Subnet: '10.0.0.0/24', Gateway: '10.0.0.129', IPRange: '10.0.0.128/25', AuxiliaryAddresses: { x: '10.0.0.200' } }, [], [4n, 124n]],
    ['a /31 has no network or broadcast address', { Subnet: '10.0.0.0/31', Gateway: '10.0.0.0' }, [], [1n, 1n]],
    ['IPv6 /96: no broadcast (Docker\'s example has 3 more in use)', { Subnet: '2001:db8::/96', Gateway: '2001:db8::1' }, ['2001:db8::2', '2001:db8::3', '2001:db8::4'], [5n, 4294967291n]],
    ['a /48 saturates at 2^64 - 1', { Subnet: '2001:db8::/48', Gateway: '2001:db8::1' }, [], [2n, (1n << 64n) - 1n]],
  ];
  for (const [name, pool, held, [inUse, avail]] of cases) {
    it(name, () => assert.deepEqual(subnetUsage(pool, held), { IPsInUse: inUse, DynamicIPsAvailable: avail }));
  }
});
