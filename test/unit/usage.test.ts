// Status.IPAM counts (ipam/usage.ts) against Docker 29's documented examples and the edges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subnetUsage, usageBig } from '../../src/ipam/usage.js';
import { parseCIDR } from '../../src/lib/ip.js';

describe('subnet usage', () => {
  const cases: Array<[string, Parameters<typeof subnetUsage>[0], string[], [bigint, bigint]]> = [
    [
      "a fresh /16: network, gateway, broadcast (Docker's example)",
      { Subnet: '172.16.0.0/16', Gateway: '172.16.0.1' },
      [],
      [3n, 65533n],
    ],
    [
      'endpoints and kept addresses count; outsiders do not',
      { Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' },
      ['10.0.0.2', '10.0.0.3', '10.9.9.9'],
      [5n, 251n],
    ],
    [
      'an ip-range: only its free addresses are dynamic',
      {
        Subnet: '10.0.0.0/24',
        Gateway: '10.0.0.129',
        IPRange: '10.0.0.128/25',
        AuxiliaryAddresses: { x: '10.0.0.200' },
      },
      [],
      [4n, 124n],
    ],
    ['a /31 has no network or broadcast address', { Subnet: '10.0.0.0/31', Gateway: '10.0.0.0' }, [], [1n, 1n]],
    [
      "IPv6 /96: no broadcast (Docker's example has 3 more in use)",
      { Subnet: '2001:db8::/96', Gateway: '2001:db8::1' },
      ['2001:db8::2', '2001:db8::3', '2001:db8::4'],
      [5n, 4294967291n],
    ],
    ['a /48 saturates at 2^64 - 1', { Subnet: '2001:db8::/48', Gateway: '2001:db8::1' }, [], [2n, (1n << 64n) - 1n]],
  ];
  for (const [name, pool, held, [inUse, avail]] of cases) {
    it(name, () => assert.deepEqual(subnetUsage(pool, held), { IPsInUse: inUse, DynamicIPsAvailable: avail }));
  }

  it('IPv4 in plain numbers counts as the BigInt path does (random pools, ranges, held addresses, junk)', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const q = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
    for (let k = 0; k < 300; k++) {
      const len = 20 + rnd(13);
      const base = (((10 << 24) | (rnd(256) << 16) | (rnd(256) << 8)) >>> 0) & (~(2 ** (32 - len) - 1) >>> 0);
      const size = 2 ** (32 - len);
      const rlen = Math.min(32, len + rnd(4));
      const rbase = base + (rnd(size) & ~(2 ** (32 - rlen) - 1));
      const pool = {
        Subnet: `${q(base)}/${len}`,
        Gateway: q(base + 1),
        ...(rnd(2) ? { IPRange: `${q(rbase >>> 0)}/${rlen}` } : {}),
        ...(rnd(3) ? {} : { AuxiliaryAddresses: { a: q(base + rnd(size)) } }),
      };
      const held = Array.from(
        { length: rnd(40) },
        () => [q(base + rnd(size + 8)), '2001:db8::1', '', 'junk', '999.1.1.1'][rnd(5) ? 0 : rnd(5)] ?? '',
      );
      const s = parseCIDR(pool.Subnet)?.prefix;
      const r = (pool.IPRange ? parseCIDR(pool.IPRange)?.prefix : undefined) ?? s;
      assert.ok(s && r);
      assert.deepEqual(subnetUsage(pool, held), usageBig(s, r, pool, held), JSON.stringify({ pool, held }));
    }
  });
});
