import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type NetctlError } from '../../src/lib/errors.js';
import {
  DEFAULT_POOLS,
  allocate,
  buildPools,
  checkDefaultPools,
  defaultPool,
  release,
  type PoolRequest,
  type TakenPrefix,
} from '../../src/ipam/ipam.js';
import { parseCIDR } from '../../src/lib/ip.js';

const req = (r: Partial<PoolRequest>): PoolRequest => ({
  subnets: [],
  gateways: [],
  ipRanges: [],
  auxAddresses: {},
  ...r,
});
const taken = (cidr: string, owner: string): TakenPrefix => ({
  prefix: parseCIDR(cidr)?.prefix ?? assert.fail(cidr),
  owner,
});

describe('IPAM: create-time validation (docs/reference.md §7 messages)', () => {
  const errors: Array<[string, Partial<PoolRequest>, TakenPrefix[], RegExp]> = [
    ['bad CIDR', { subnets: ['10.0.0.0/40'] }, [], /invalid subnet 10\.0\.0\.0\/40/],
    ['garbage', { subnets: ['web'] }, [], /invalid subnet web/],
    ['host bits', { subnets: ['10.1.1.1/24'] }, [], /invalid subnet 10\.1\.1\.1\/24: it should be 10\.1\.1\.0\/24/],
    [
      'overlap with a network',
      { subnets: ['10.1.0.0/16'] },
      [taken('10.1.2.0/24', 'network web')],
      /Pool overlaps with other one on this address space.*network web/,
    ],
    [
      'overlap within the request',
      { subnets: ['10.1.0.0/16', '10.1.2.0/24'] },
      [],
      /Pool overlaps with other one on this address space/,
    ],
    [
      'gateway outside',
      { subnets: ['10.1.0.0/24'], gateways: ['10.2.0.1'] },
      [],
      /no matching subnet for gateway 10\.2\.0\.1/,
    ],
    [
      'range outside',
      { subnets: ['10.1.0.0/24'], ipRanges: ['10.2.0.0/25'] },
      [],
      /no matching subnet for range 10\.2\.0\.0\/25/,
    ],
    [
      'range larger than subnet',
      { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/23'] },
      [],
      /no matching subnet for range/,
    ],
    [
      'aux outside',
      { subnets: ['10.1.0.0/24'], auxAddresses: { r: '10.3.0.1' } },
      [],
      /no matching subnet for aux-address 10\.3\.0\.1/,
    ],
    [
      'gateway without subnet',
      { gateways: ['10.1.0.1'] },
      [],
      /every ip-range or gateway must have a corresponding subnet/,
    ],
    [
      'range without subnet',
      { ipRanges: ['10.1.0.0/25'] },
      [],
      /every ip-range or gateway must have a corresponding subnet/,
    ],
    [
      'two gateways in one subnet',
      { subnets: ['10.1.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] },
      [],
      /multiple gateways/,
    ],
    // special-purpose blocks (issue 18): inside one, or containing one
    [
      'loopback',
      { subnets: ['127.0.0.0/8'] },
      [],
      /invalid subnet 127\.0\.0\.0\/8: it overlaps the special-purpose block 127\.0\.0\.0\/8 \(loopback\)/,
    ],
    ['inside loopback', { subnets: ['127.5.0.0/16'] }, [], /127\.0\.0\.0\/8 \(loopback\)/],
    ['"this network"', { subnets: ['0.0.0.0/8'] }, [], /0\.0\.0\.0\/8/],
    ['multicast', { subnets: ['224.0.0.0/4'] }, [], /224\.0\.0\.0\/4 \(multicast\)/],
    ['reserved', { subnets: ['250.1.0.0/16'] }, [], /240\.0\.0\.0\/4 \(reserved\)/],
    ['link-local without the option', { subnets: ['169.254.1.0/24'] }, [], /169\.254\.0\.0\/16 \(link-local\)/],
    ['a /0 contains them all', { subnets: ['0.0.0.0/0'] }, [], /special-purpose block 0\.0\.0\.0\/8/],
    ['a /1 contains them', { subnets: ['128.0.0.0/1'] }, [], /special-purpose block/],
    [
      'link-local option does not allow a prefix containing 169.254/16',
      { subnets: ['169.254.0.0/15'], ipamOptions: { 'link-local': 'true' } },
      [],
      /169\.254\.0\.0\/16/,
    ],
    [
      'bad link-local value',
      { subnets: ['10.1.0.0/24'], ipamOptions: { 'link-local': 'yes' } },
      [],
      /invalid ipam-opt link-local=yes: expected true or false/,
    ],
    ['IPv6 unspecified', { subnets: ['::/128'] }, [], /::\/128 \(unspecified\)/],
    ['IPv6 loopback', { subnets: ['::1/128'] }, [], /::1\/128 \(loopback\)/],
    ['IPv6 containing ::1', { subnets: ['::/64'] }, [], /special-purpose block ::\/128/],
    ['IPv6 link-local', { subnets: ['fe80::/64'] }, [], /fe80::\/10 \(link-local\)/],
    [
      'IPv6 link-local even with the option',
      { subnets: ['fe80::/64'], ipamOptions: { 'link-local': 'true' } },
      [],
      /fe80::\/10/,
    ],
    ['IPv6 multicast', { subnets: ['ff02::/16'] }, [], /ff00::\/8 \(multicast\)/],
    ['IPv6 /0', { subnets: ['::/0'] }, [], /special-purpose block/],
    [
      'gateway is the network address',
      { subnets: ['10.3.0.0/24'], gateways: ['10.3.0.0'] },
      [],
      /invalid gateway 10\.3\.0\.0: it is the network address of subnet 10\.3\.0\.0\/24/,
    ],
    [
      'gateway is the broadcast address',
      { subnets: ['10.2.0.0/24'], gateways: ['10.2.0.255'] },
      [],
      /invalid gateway 10\.2\.0\.255: it is the broadcast address of subnet 10\.2\.0\.0\/24/,
    ],
    [
      'gateway in loopback',
      { subnets: ['10.2.0.0/24'], gateways: ['127.0.0.1'] },
      [],
      /invalid gateway 127\.0\.0\.1: .*127\.0\.0\.0\/8 \(loopback\)/,
    ],
    [
      'ip-range in multicast',
      { subnets: ['10.2.0.0/24'], ipRanges: ['224.1.0.0/24'] },
      [],
      /invalid ip-range 224\.1\.0\.0\/24: .*multicast/,
    ],
    [
      'aux-address in loopback',
      { subnets: ['10.2.0.0/24'], auxAddresses: { r: '127.0.0.2' } },
      [],
      /invalid aux-address r=127\.0\.0\.2: .*loopback/,
    ],
    [
      'aux-address is the broadcast address',
      { subnets: ['10.2.0.0/24'], auxAddresses: { r: '10.2.0.255' } },
      [],
      /invalid aux-address r=10\.2\.0\.255: it is the broadcast address/,
    ],
  ];
  for (const [name, r, t, re] of errors) {
    it(`refuses: ${name}`, () => assert.throws(() => buildPools(req(r), t), re));
  }

  it('link-local subnets with --ipam-opt link-local=true; /31 and /32 gateways at either end (RFC 3021)', () => {
    assert.deepEqual(buildPools(req({ subnets: ['169.254.10.0/24'], ipamOptions: { 'link-local': 'true' } }), []), [
      { Subnet: '169.254.10.0/24', Gateway: '169.254.10.1' },
    ]);
    assert.throws(
      () => buildPools(req({ subnets: ['169.254.10.0/24'] }), []),
      (e: NetctlError) => /--ipam-opt link-local=true/.test(e.hint ?? ''),
    );
    assert.deepEqual(buildPools(req({ subnets: ['10.9.0.0/31'], gateways: ['10.9.0.0'] }), []), [
      { Subnet: '10.9.0.0/31', Gateway: '10.9.0.0' },
    ]);
    assert.deepEqual(buildPools(req({ subnets: ['10.9.0.4/32'], gateways: ['10.9.0.4'] }), []), [
      { Subnet: '10.9.0.4/32', Gateway: '10.9.0.4' },
    ]);
    assert.deepEqual(buildPools(req({ subnets: ['10.9.1.0/30'], gateways: ['10.9.1.2'] }), []), [
      { Subnet: '10.9.1.0/30', Gateway: '10.9.1.2' },
    ]);
  });

  it('default-address-pools are checked as --subnet is', () => {
    const ok = checkDefaultPools([{ base: '10.10.0.0/16', size: 24 }], 'config.json');
    assert.deepEqual(ok, [{ base: '10.10.0.0/16', size: 24 }]);
    const bad: Array<[unknown, RegExp]> = [
      [{ base: '10.0.0.0/8' }, /expected a list/],
      [[{ base: '127.0.0.0/8', size: 16 }], /pool 0: invalid base 127\.0\.0\.0\/8: .*loopback/],
      [[{ base: '169.254.0.0/16', size: 24 }], /link-local/],
      [[{ base: '0.0.0.0/0', size: 8 }], /special-purpose/],
      [[{ base: '10.1.2.3/16', size: 24 }], /it should be 10\.1\.0\.0\/16/],
      [[{ base: '10.0.0.0/16', size: 8 }], /size 8 must be an integer from 16/],
      [[{ base: '10.0.0.0/16', size: 31 }], /size 31/],
      [[{ base: '10.0.0.0/16', size: 24.5 }], /size 24\.5/],
      [[{ base: 'x', size: 24 }], /invalid subnet x/],
      [[null], /pool 0: expected/],
    ];
    for (const [v, re] of bad)
      assert.throws(
        () => checkDefaultPools(v, 'config.json'),
        (e: Error) => /^invalid default-address-pools in config\.json: /.test(e.message) && re.test(e.message),
        JSON.stringify(v),
      );
  });

  it('a default pool behind a big route is skipped in one step, not one per candidate', () => {
    // 2^22 candidates per pool; walked one by one this takes seconds.
    const pools = [{ base: '10.0.0.0/8', size: 30 }];
    assert.equal(defaultPool(pools, [taken('10.0.0.0/9', 'a route')]).Subnet, '10.128.0.0/30');
    assert.throws(
      () => defaultPool(pools, [taken('10.0.0.0/9', 'a'), taken('10.128.0.0/9', 'b')]),
      /could not find an available/,
    );
    assert.equal(defaultPool(pools, [taken('10.0.0.0/30', 'a'), taken('10.0.0.4/32', 'b')]).Subnet, '10.0.0.8/30');
  });

  it('defaults the gateway to the first address of the subnet, or of the range', () => {
    assert.deepEqual(buildPools(req({ subnets: ['10.1.0.0/24'] }), []), [
      { Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' },
    ]);
    assert.deepEqual(
      buildPools(req({ subnets: ['10.1.0.0/16'], ipRanges: ['10.1.5.0/24'], auxAddresses: { a: '10.1.5.0' } }), []),
      [{ Subnet: '10.1.0.0/16', Gateway: '10.1.5.1', IPRange: '10.1.5.0/24', AuxiliaryAddresses: { a: '10.1.5.0' } }],
    );
  });

  it('default pools skip what routes and networks hold, in Docker order', () => {
    assert.equal(defaultPool(DEFAULT_POOLS, []).Subnet, '172.17.0.0/16');
    assert.deepEqual(
      defaultPool(DEFAULT_POOLS, [taken('172.17.0.0/16', 'docker0'), taken('172.18.5.0/24', 'a route')]),
      { Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' },
    );
    const all = DEFAULT_POOLS.slice(0, 15).map((p) => taken(p.base, 'x'));
    assert.equal(defaultPool(DEFAULT_POOLS, [...all, taken('192.168.0.0/20', 'wifi')]).Subnet, '192.168.16.0/20');
    assert.throws(
      () => defaultPool(DEFAULT_POOLS, [taken('0.0.0.0/0', 'everything')]),
      /could not find an available, non-overlapping IPv4 address pool among the defaults/,
    );
  });
});

describe('IPAM: allocation', () => {
  const pools = buildPools(req({ subnets: ['10.1.0.0/29'], auxAddresses: { r: '10.1.0.3' } }), []);
  const ctx = (inUse: Record<string, string> = {}, userSubnets = true) => ({
    network: 'web',
    pools,
    inUse: new Map(Object.entries(inUse)),
    userSubnets,
  });

  it('hands out the first free address, never network, gateway, aux or broadcast', () => {
    assert.equal(allocate(ctx(), 4), '10.1.0.2/29');
    assert.equal(allocate(ctx({ '10.1.0.2': 'a' }), 4), '10.1.0.4/29');
    assert.throws(
      () => allocate(ctx({ '10.1.0.2': 'a', '10.1.0.4': 'b', '10.1.0.5': 'c', '10.1.0.6': 'd' }), 4),
      /no available IPv4 addresses on this network's address pools: web \(10\.1\.0\.0\/29\)/,
    );
  });

  it('honours --ip, and refuses it clearly', () => {
    assert.equal(allocate(ctx(), 4, '10.1.0.6'), '10.1.0.6/29');
    assert.throws(
      () => allocate(ctx({ '10.1.0.6': 'container db' }), 4, '10.1.0.6'),
      /Address already in use: 10\.1\.0\.6 \(held by container db\)/,
    );
    assert.throws(() => allocate(ctx(), 4, '10.1.0.1'), /Address already in use: 10\.1\.0\.1 \(held by the gateway\)/);
    assert.throws(
      () => allocate(ctx(), 4, '10.1.0.7'),
      /Invalid address 10\.1\.0\.7: it is the broadcast address of subnet 10\.1\.0\.0\/29 on network web/,
    );
    assert.throws(() => allocate(ctx(), 4, '10.1.0.0'), /Invalid address 10\.1\.0\.0: it is the network address/);
    assert.throws(
      () => allocate(ctx(), 4, '10.2.0.5'),
      /Invalid address 10\.2\.0\.5: It does not belong to any of this network's subnets/,
    );
    assert.throws(() => allocate(ctx(), 4, '10.1.0.300'), /invalid IPv4 address: 10\.1\.0\.300/);
    assert.throws(
      () => allocate(ctx({}, false), 4, '10.1.0.6'),
      /user specified IP address is supported only when connecting to networks with user configured subnets/,
    );
  });

  it('allocates from the ip-range first', () => {
    const p = buildPools(req({ subnets: ['10.1.0.0/16'], ipRanges: ['10.1.7.0/24'] }), []);
    assert.equal(allocate({ network: 'w', pools: p, inUse: new Map(), userSubnets: true }, 4), '10.1.7.2/16');
  });

  it('starts at the mark kept in the network, asks about a few addresses, then reads them all', () => {
    const big = buildPools(req({ subnets: ['10.9.0.0/24'] }), []);
    const held = new Map<string, string>();
    const asked: string[] = [];
    let read = 0;
    const inUse = {
      get: (ip: string) => {
        asked.push(ip);
        return held.get(ip);
      },
      keys: () => {
        read++;
        return held.keys();
      },
    };
    const next: Record<string, string> = {};
    const c = { network: 'big', pools: big, inUse, userSubnets: true, next };
    // No mark yet (a network made before marks): every address in use is read once.
    assert.equal(allocate(c, 4), '10.9.0.2/24');
    assert.deepEqual([read, next['10.9.0.0/24']], [1, '10.9.0.3']);
    held.set('10.9.0.2', 'a');
    // From the mark: one question, nothing read in bulk.
    assert.equal(allocate(c, 4), '10.9.0.3/24');
    assert.deepEqual([read, asked, next['10.9.0.0/24']], [1, ['10.9.0.3'], '10.9.0.4']);
    held.set('10.9.0.3', 'b');
    // A release brings the mark down: the lowest free address is handed out again.
    assert.equal(release(next, big, '10.9.0.2/24'), true);
    held.delete('10.9.0.2');
    assert.equal(allocate(c, 4), '10.9.0.2/24');
    held.set('10.9.0.2', 'c');
    // Past PROBES taken addresses from the mark, the search reads them all and still finds the first free one.
    for (let i = 4; i <= 20; i++) held.set(`10.9.0.${i}`, `x${i}`);
    assert.equal(allocate(c, 4), '10.9.0.21/24');
    assert.deepEqual([read, next['10.9.0.0/24']], [2, '10.9.0.22']);
    // --ip of the mark's own address moves it on; a release above the mark leaves it.
    assert.equal(allocate(c, 4, '10.9.0.22'), '10.9.0.22/24');
    assert.equal(next['10.9.0.0/24'], '10.9.0.23');
    assert.equal(release(next, big, '10.9.0.30/24'), false);
  });
});
