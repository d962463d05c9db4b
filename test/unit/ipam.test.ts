import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_POOLS, allocate, buildPools, defaultPool, release, type PoolRequest, type TakenPrefix } from '../../src/ipam/ipam.js';
import { parseCIDR } from '../../src/lib/ip.js';

const req = (r: Partial<PoolRequest>): PoolRequest => ({ subnets: [], gateways: [], ipRanges: [], auxAddresses: {}, ...r });
const taken = (cidr: string, owner: string): TakenPrefix => ({ prefix: parseCIDR(cidr)?.prefix ?? assert.fail(cidr), owner });

describe('IPAM: create-time validation (SPEC §7 messages)', () => {
  const errors: Array<[string, Partial<PoolRequest>, TakenPrefix[], RegExp]> = [
    ['bad CIDR', { subnets: ['10.0.0.0/40'] }, [], /invalid subnet 10\.0\.0\.0\/40/],
    ['garbage', { subnets: ['web'] }, [], /invalid subnet web/],
    ['host bits', { subnets: ['10.1.1.1/24'] }, [], /invalid subnet 10\.1\.1\.1\/24: it should be 10\.1\.1\.0\/24/],
    ['overlap with a network', { subnets: ['10.1.0.0/16'] }, [taken('10.1.2.0/24', 'network web')], /Pool overlaps with other one on this address space.*network web/],
    ['overlap within the request', { subnets: ['10.1.0.0/16', '10.1.2.0/24'] }, [], /Pool overlaps with other one on this address space/],
    ['gateway outside', { subnets: ['10.1.0.0/24'], gateways: ['10.2.0.1'] }, [], /no matching subnet for gateway 10\.2\.0\.1/],
    ['range outside', { subnets: ['10.1.0.0/24'], ipRanges: ['10.2.0.0/25'] }, [], /no matching subnet for range 10\.2\.0\.0\/25/],
    ['range larger than subnet', { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/23'] }, [], /no matching subnet for range/],
    ['aux outside', { subnets: ['10.1.0.0/24'], auxAddresses: { r: '10.3.0.1' } }, [], /no matching subnet for aux-address 10\.3\.0\.1/],
    ['gateway without subnet', { gateways: ['10.1.0.1'] }, [], /every ip-range or gateway must have a corresponding subnet/],
    ['range without subnet', { ipRanges: ['10.1.0.0/25'] }, [], /every ip-range or gateway must have a corresponding subnet/],
    ['two gateways in one subnet', { subnets: ['10.1.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] }, [], /multiple gateways/],
  ];
  for (const [name, r, t, re] of errors) {
    it(`refuses: ${name}`, () => assert.throws(() => buildPools(req(r), t), re));
  }

  it('defaults the gateway to the first address of the subnet, or of the range', () => {
    assert.deepEqual(buildPools(req({ subnets: ['10.1.0.0/24'] }), []), [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }]);
    assert.deepEqual(buildPools(req({ subnets: ['10.1.0.0/16'], ipRanges: ['10.1.5.0/24'], auxAddresses: { a: '10.1.5.0' } }), []), [
      { Subnet: '10.1.0.0/16', Gateway: '10.1.5.1', IPRange: '10.1.5.0/24', AuxiliaryAddresses: { a: '10.1.5.0' } },
    ]);
  });

  it('default pools skip what routes and networks hold, in Docker order', () => {
    assert.equal(defaultPool(DEFAULT_POOLS, []).Subnet, '172.17.0.0/16');
    assert.deepEqual(defaultPool(DEFAULT_POOLS, [taken('172.17.0.0/16', 'docker0'), taken('172.18.5.0/24', 'a route')]), { Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' });
    const all = DEFAULT_POOLS.slice(0, 15).map((p) => taken(p.base, 'x'));
    assert.equal(defaultPool(DEFAULT_POOLS, [...all, taken('192.168.0.0/20', 'wifi')]).Subnet, '192.168.16.0/20');
    assert.throws(() => defaultPool(DEFAULT_POOLS, [taken('0.0.0.0/0', 'everything')]), /could not find an available, non-overlapping IPv4 address pool among the defaults/);
  });
});

describe('IPAM: allocation', () => {
  const pools = buildPools(req({ subnets: ['10.1.0.0/29'], auxAddresses: { r: '10.1.0.3' } }), []);
  const ctx = (inUse: Record<string, string> = {}, userSubnets = true) => ({ network: 'web', pools, inUse: new Map(Object.entries(inUse)), userSubnets });

  it('hands out the first free address, never network, gateway, aux or broadcast', () => {
    assert.equal(allocate(ctx(), 4), '10.1.0.2/29');
    assert.equal(allocate(ctx({ '10.1.0.2': 'a' }), 4), '10.1.0.4/29');
    assert.throws(() => allocate(ctx({ '10.1.0.2': 'a', '10.1.0.4': 'b', '10.1.0.5': 'c', '10.1.0.6': 'd' }), 4),
      /no available IPv4 addresses on this network's address pools: web \(10\.1\.0\.0\/29\)/);
  });

  it('honours --ip, and refuses it clearly', () => {
    assert.equal(allocate(ctx(), 4, '10.1.0.6'), '10.1.0.6/29');
    assert.throws(() => allocate(ctx({ '10.1.0.6': 'container db' }), 4, '10.1.0.6'), /Address already in use: 10\.1\.0\.6 \(held by container db\)/);
    assert.throws(() => allocate(ctx(), 4, '10.1.0.1'), /Address already in use: 10\.1\.0\.1 \(held by the gateway\)/);
    assert.throws(() => allocate(ctx(), 4, '10.1.0.7'), /Address already in use: 10\.1\.0\.7/);
    assert.throws(() => allocate(ctx(), 4, '10.2.0.5'), /Invalid address 10\.2\.0\.5: It does not belong to any of this network's subnets/);
    assert.throws(() => allocate(ctx(), 4, '10.1.0.300'), /invalid IPv4 address: 10\.1\.0\.300/);
    assert.throws(() => allocate(ctx({}, false), 4, '10.1.0.6'), /user specified IP address is supported only when connecting to networks with user configured subnets/);
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
    const inUse = { get: (ip: string) => { asked.push(ip); return held.get(ip); }, keys: () => { read++; return held.keys(); } };
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
