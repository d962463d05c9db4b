// docs/reference.md §13 on real namespaces: addresses kept across stop/start, IPAM usage in inspect, the
// ls fields, and the predefined bridge's options.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot } from '../helpers/host.js';

type Inspected = Array<{
  Options: Record<string, string>;
  Status: { IPAM: { Subnets: Record<string, { IPsInUse: number; DynamicIPsAvailable: number }> } };
}>;

describe('operator features end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  before(() => {
    h = new TestHost();
    h.ok('create', '--subnet', '10.233.1.0/24', 'ops');
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  const usage = (net: string, subnet: string) =>
    (JSON.parse(h.ok('inspect', net)) as Inspected)[0]?.Status.IPAM.Subnets[subnet];

  it(
    'stop keeps the addresses reserved, ' + 'a competing connect is refused naming the holder, start brings them back',
    () => {
      const [a, b, c] = [h.name('keep'), h.name('rival'), h.name('third')];
      h.ok('sandbox', 'create', a, '--net', 'ops');
      h.ok('connect', 'bridge', a);
      const ip = h.addrs(a)['eth0']?.[0] ?? '';
      const bridgeIp = h.addrs(a)['eth1']?.[0] ?? '';
      assert.equal(ip, '10.233.1.2/24');
      h.ok('sandbox', 'stop', a);
      assert.equal(h.netnsExists(a), false);
      const r = h.netctl('sandbox', 'create', b, '--net', 'ops', '--ip', '10.233.1.2');
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        new RegExp(`Address already in use: 10\\.233\\.1\\.2 \\(reserved by stopped container ${a}\\)`),
      );
      assert.equal(h.netnsExists(b), false, 'the refused create left no netns');
      // A dynamic address skips the kept one, on a user network and on the default bridge.
      h.ok('sandbox', 'create', b, '--net', 'ops');
      h.ok('connect', 'bridge', b);
      assert.deepEqual(h.addrs(b)['eth0'], ['10.233.1.3/24']);
      assert.notDeepEqual(h.addrs(b)['eth1'], [bridgeIp]);
      h.ok('sandbox', 'start', a);
      assert.deepEqual(h.addrs(a)['eth2'], [ip], 'the same address on the user network');
      assert.deepEqual(h.addrs(a)['eth3'], [bridgeIp], 'and on the default bridge');
      assert.ok(h.ping(b, '10.233.1.2'), 'and it carries traffic');
      // disconnect of a stopped sandbox releases the address; so does rm.
      h.ok('sandbox', 'stop', a);
      h.ok('disconnect', 'ops', a);
      h.ok('sandbox', 'create', c, '--net', 'ops');
      assert.deepEqual(h.addrs(c)['eth0'], ['10.233.1.2/24'], 'released by disconnect');
      h.ok('sandbox', 'rm', c);
      h.ok('connect', 'ops', a);
      h.ok('sandbox', 'start', a);
      h.ok('sandbox', 'stop', a);
      h.ok('sandbox', 'rm', a);
      h.ok('sandbox', 'create', c, '--net', 'ops', '--ip', '10.233.1.2');
      h.ok('sandbox', 'rm', b, c);
      assert.equal(
        h.store().networks &&
          Object.values(h.store().networks).some((n) => 'reserved' in (n as unknown as { ipam: object }).ipam),
        false,
        'no reservation left',
      );
    },
  );

  it('inspect counts addresses in use and available, per subnet, as Docker 29', () => {
    h.ok(
      'create',
      '--subnet',
      '10.233.2.0/24',
      '--ip-range',
      '10.233.2.128/25',
      '--aux-address',
      'x=10.233.2.200',
      'counted',
    );
    assert.deepEqual(
      usage('counted', '10.233.2.0/24'),
      { IPsInUse: 4, DynamicIPsAvailable: 124 },
      'network, broadcast, gateway, aux',
    );
    const [a, b] = [h.name('c1'), h.name('c2')];
    h.ok('sandbox', 'create', a, '--net', 'counted');
    h.ok('sandbox', 'create', b, '--net', 'counted');
    assert.deepEqual(usage('counted', '10.233.2.0/24'), { IPsInUse: 6, DynamicIPsAvailable: 122 });
    const [nw] = JSON.parse(h.ok('inspect', 'counted')) as Array<{ Containers: Record<string, { Name: string }> }>;
    assert.deepEqual(
      Object.values(nw?.Containers ?? {})
        .map((c) => c.Name)
        .sort(),
      [a, b].sort(),
      'Containers still a map of the live endpoints',
    );
    h.ok('sandbox', 'stop', b);
    assert.deepEqual(
      usage('counted', '10.233.2.0/24'),
      { IPsInUse: 6, DynamicIPsAvailable: 122 },
      'a kept address still counts',
    );
    h.ok('sandbox', 'rm', a, b);
    assert.deepEqual(usage('counted', '10.233.2.0/24'), { IPsInUse: 4, DynamicIPsAvailable: 124 });
    h.ok('rm', 'counted');
  });

  it('the predefined bridge shows its device and default_bridge in Options', () => {
    const [nw] = JSON.parse(h.ok('inspect', 'bridge')) as Inspected;
    assert.equal(nw?.Options['com.docker.network.bridge.name'], 'netctl0');
    assert.equal(nw?.Options['com.docker.network.bridge.default_bridge'], 'true');
    const [ops] = JSON.parse(h.ok('inspect', 'ops')) as Inspected;
    assert.equal(ops?.Options['com.docker.network.bridge.default_bridge'], undefined);
  });

  it('ls --format knows .IPv4 .IPv6 .Subnets .Containers and .Label', () => {
    h.ok('create', '--subnet', '10.233.3.0/24', '--label', 'team=blue', 'listed');
    const s = h.name('ls');
    h.ok('sandbox', 'create', s, '--net', 'listed');
    const out = h.ok(
      'ls',
      '--filter',
      'name=listed',
      '--format',
      '{{.Name}} {{.IPv4}} {{.IPv6}} {{.Subnets}} {{.Containers}} {{.Label "team"}}',
    );
    assert.equal(out, 'listed true false 10.233.3.0/24 1 blue\n');
    const table = h.ok('ls', '--filter', 'name=listed', '--format', 'table {{.Name}}\t{{.Subnets}}\t{{.Containers}}');
    assert.match(table, /^NAME\s+SUBNETS\s+CONTAINERS\nlisted\s+10\.233\.3\.0\/24\s+1\n$/);
    h.ok('sandbox', 'rm', s);
    h.ok('rm', 'listed');
  });

  it('update changes the MTU live on the bridge and every endpoint, seen in the kernel and in traffic', () => {
    const id = h.ok('create', '--subnet', '10.233.4.0/24', '-o', 'com.docker.network.driver.mtu=1300', 'live').trim();
    const [a, b] = [h.name('u1'), h.name('u2')];
    h.ok('sandbox', 'create', a, '--net', 'live');
    h.ok('sandbox', 'create', b, '--net', 'live');
    const br = `nc-${id.slice(0, 12)}`;
    const mtus = () => [
      h.links().find((l) => l.ifname === br)?.mtu,
      ...h
        .links()
        .filter((l) => l.master === br)
        .map((l) => l.mtu),
      h.links(a).find((l) => l.ifname === 'eth0')?.mtu,
      h.links(b).find((l) => l.ifname === 'eth0')?.mtu,
    ];
    const big = () =>
      h.run('ip', ['netns', 'exec', a, 'ping', '-c1', '-W1', '-q', '-M', 'do', '-s', '1400', '10.233.4.3']).code === 0;
    assert.deepEqual(mtus(), [1300, 1300, 1300, 1300, 1300]);
    assert.equal(big(), false, 'a 1428-byte packet does not fit 1300');
    const before = h.store().endpoints;
    h.ok('update', 'live', '-o', 'com.docker.network.driver.mtu=1500', '--label-add', 'tier=web');
    assert.deepEqual(mtus(), [1500, 1500, 1500, 1500, 1500]);
    assert.ok(big(), 'and now it does');
    assert.deepEqual(h.store().endpoints, before, 'endpoints untouched');
    const [nw] = JSON.parse(h.ok('inspect', 'live')) as Array<{
      Options: Record<string, string>;
      Labels: Record<string, string>;
    }>;
    assert.equal(nw?.Options['com.docker.network.driver.mtu'], '1500');
    assert.deepEqual(nw?.Labels, { tier: 'web' });
    h.ok('update', 'live', '--label-rm', 'tier');
    assert.deepEqual((JSON.parse(h.ok('inspect', 'live')) as Array<{ Labels: object }>)[0]?.Labels, {});
  });

  it('update turns ICC off and on through the firewall; refused keys are named; a failure rolls back', () => {
    const [a, b] = [h.name('u1'), h.name('u2')];
    assert.ok(h.ping(a, '10.233.4.3'));
    h.ok('update', 'live', '-o', 'com.docker.network.bridge.enable_icc=false');
    assert.equal(h.ping(a, '10.233.4.3'), false, 'no traffic between sandboxes');
    assert.ok(h.ping(a, '10.233.4.1'), 'the gateway still answers');
    assert.match(h.iptablesSave(), /-i nc-\S+ -o nc-\S+ .*-j DROP/);
    h.ok('update', 'live', '-o', 'com.docker.network.bridge.enable_icc=true');
    assert.ok(h.ping(a, '10.233.4.3'));
    const refused = h.netctl('update', 'live', '-o', 'com.docker.network.bridge.name=other');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /cannot change com\.docker\.network\.bridge\.name of network live in place/);
    const badVal = h.netctl('update', 'live', '-o', 'com.docker.network.driver.mtu=abc');
    assert.match(badVal.err, /failed to parse com\.docker\.network\.driver\.mtu value: abc/);
    const storeBefore = h.storeText();
    const linksBefore = JSON.stringify(h.links().map((l) => [l.ifname, l.mtu]));
    for (const k of [1, 2, 3]) {
      const r = h.netctlEnv(
        { NETCTL_FAULT: `fail:${k}` },
        'update',
        'live',
        '-o',
        'com.docker.network.driver.mtu=1400',
      );
      assert.equal(r.code, 1, `fault at call ${k} fails the update`);
      assert.equal(h.storeText(), storeBefore, `store unchanged after a fault at call ${k}`);
      assert.equal(
        JSON.stringify(h.links().map((l) => [l.ifname, l.mtu])),
        linksBefore,
        `MTUs back after a fault at call ${k}`,
      );
      for (const sb of [a, b])
        assert.equal(
          h.links(sb).find((l) => l.ifname === 'eth0')?.mtu,
          1500,
          `${sb}'s eth0 back at 1500 after a fault at call ${k}`,
        );
    }
    h.ok('sandbox', 'rm', h.name('u1'), h.name('u2'));
    h.ok('rm', 'live');
  });
});
