// The seeds' topology on real namespaces: A and B on backend, B and C on frontend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot } from '../helpers/host.js';

describe('bridge networks end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let A: string, B: string, C: string;
  let backendId: string;

  before(() => {
    h = new TestHost();
    [A, B, C] = [h.name('a'), h.name('b'), h.name('c')];
  });
  after(() => {
    const leaks = h.cleanup();
    assert.deepEqual(leaks, [], 'nothing leaked');
  });

  it('creates networks with bridges that carry the gateway address', () => {
    backendId = h.ok('create', '--subnet', '10.231.1.0/24', 'backend').trim();
    assert.match(backendId, /^[0-9a-f]{64}$/);
    h.ok('create', '--subnet', '10.231.2.0/24', '--gateway', '10.231.2.254', 'frontend');
    const br = h.links().find((l) => l.ifname === `nc-${backendId.slice(0, 12)}`);
    assert.ok(br, 'backend bridge exists in the host namespace');
    assert.ok(br.flags.includes('UP'), 'administratively up');
    assert.equal(br.address, `02:${backendId.slice(0, 10).match(/../g)?.join(':')}`, 'MAC derived from the network ID');
    const addrs = h.ipj<Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>>(
      null,
      '-4',
      'addr',
      'show',
    );
    assert.deepEqual(
      addrs.find((a) => a.ifname === br.ifname)?.addr_info.map((x) => `${x.local}/${x.prefixlen}`),
      ['10.231.1.1/24'],
    );
  });

  it('attaches sandboxes, honouring --ip and the MAC rule', () => {
    h.ok('sandbox', 'create', A, '--net', 'backend');
    h.ok('sandbox', 'create', B, '--net', 'backend', '--ip', '10.231.1.50');
    h.ok('connect', 'frontend', B, '--ip', '10.231.2.7');
    h.ok('sandbox', 'create', C, '--net', 'frontend');
    assert.deepEqual(h.addrs(B), { lo: ['127.0.0.1/8'], eth0: ['10.231.1.50/24'], eth1: ['10.231.2.7/24'] });
    assert.deepEqual(h.addrs(A)['eth0'], ['10.231.1.2/24']);
    assert.deepEqual(
      h.addrs(C)['eth0'],
      ['10.231.2.1/24'],
      'first free address: .1 is free because the gateway is .254',
    );
    const eth1 = h.links(B).find((l) => l.ifname === 'eth1');
    assert.equal(eth1?.address, '02:42:0a:e7:02:07');
    // Default route via the first network joined; the second network only adds its subnet.
    const routes = h.routes(B);
    assert.deepEqual(
      routes.find((r) => r.dst === 'default'),
      { dst: 'default', gateway: '10.231.1.1', dev: 'eth0', flags: [] },
    );
    assert.equal(h.routes(C).find((r) => r.dst === 'default')?.gateway, '10.231.2.254');
  });

  it('proves reachability with real traffic: A<->B and B<->C, not A<->C', () => {
    assert.ok(h.ping(A, '10.231.1.50'), 'A reaches B');
    assert.ok(h.ping(B, '10.231.1.2'), 'B reaches A');
    assert.ok(h.ping(B, '10.231.2.1'), 'B reaches C');
    assert.ok(h.ping(C, '10.231.2.7'), 'C reaches B');
    assert.ok(h.ping(A, '10.231.1.1'), 'A reaches its gateway');
    assert.equal(h.ping(A, '10.231.2.1'), false, 'A does not reach C');
    assert.equal(h.ping(C, '10.231.1.2'), false, 'C does not reach A');
    // A and C share no subnet and have no route to each other's subnet except the default.
    assert.equal(
      h.routes(A).some((r) => r.dst === '10.231.2.0/24'),
      false,
    );
    assert.equal(
      h.routes(C).some((r) => r.dst === '10.231.1.0/24'),
      false,
    );
  });

  it('an IPv4-only network gives neither end of a veth an IPv6 address (no multicast for the bridge to flood)', () => {
    const withV6 = (ns: string | null) =>
      h
        .ipj<Array<{ ifname: string; addr_info: unknown[] }>>(ns, '-6', 'addr', 'show')
        .filter((l) => l.addr_info.length > 0 && l.ifname !== 'lo')
        .map((l) => l.ifname);
    assert.deepEqual(withV6(A), []);
    const ports = h
      .links()
      .filter((l) => l.master === `nc-${backendId.slice(0, 12)}`)
      .map((l) => l.ifname);
    assert.equal(ports.length, 2);
    assert.deepEqual(
      withV6(null).filter((n) => ports.includes(n)),
      [],
    );
  });

  it("inspect shows Docker's shape with the allocated pool and live containers", () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const [nw] = JSON.parse(h.ok('inspect', 'backend')) as Array<Record<string, any>>;
    assert.ok(nw);
    assert.deepEqual(Object.keys(nw), [
      'Name',
      'Id',
      'Created',
      'Scope',
      'Driver',
      'EnableIPv6',
      'IPAM',
      'Internal',
      'Attachable',
      'Ingress',
      'ConfigFrom',
      'ConfigOnly',
      'Containers',
      'Options',
      'Labels',
      'Status',
    ]);
    assert.deepEqual(
      nw['Status'],
      {
        IPAM: { Subnets: { '10.231.1.0/24': { IPsInUse: 5, DynamicIPsAvailable: 251 } } },
        Firewall: { Backend: 'iptables' },
        DNS: { Address: '10.231.1.1', Running: true },
      },
      'Docker 29: network, gateway, broadcast and two endpoints; the firewall backend (§11), the resolver (§14)',
    );
    assert.equal(nw['Id'], backendId);
    assert.deepEqual(nw['IPAM'].Config, [
      { Subnet: '10.231.1.0/24', IPRange: '', Gateway: '10.231.1.1', AuxiliaryAddresses: {} },
    ]);
    const names = Object.values(nw['Containers'] as Record<string, { Name: string; IPv4Address: string }>)
      .map((c) => `${c.Name}=${c.IPv4Address}`)
      .sort();
    assert.deepEqual(names, [`${A}=10.231.1.2/24`, `${B}=10.231.1.50/24`]);
    assert.equal(
      h.ok('inspect', '-f', '{{.Name}} {{(index .IPAM.Config 0).Gateway}} {{len .Containers}}', 'backend', 'frontend'),
      'backend 10.231.1.1 2\nfrontend 10.231.2.254 2\n',
    );
    assert.equal(h.ok('inspect', backendId.slice(0, 6), '-f', '{{.Name}}'), 'backend\n', 'unique ID prefix resolves');
  });

  it("ls prints Docker's table sorted by name", () => {
    const out = h.ok('ls');
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NETWORK ID {5}NAME {7}DRIVER {4}SCOPE$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s+/)[1]),
      ['backend', 'bridge', 'frontend', 'host', 'none'],
    );
    assert.ok(
      lines.every((l) => l === l.trimEnd()),
      'no trailing spaces',
    );
    assert.equal(h.ok('ls', '-q', '--filter', 'name=back').trim(), backendId.slice(0, 12));
    assert.equal(h.ok('ls', '--no-trunc', '-q', '-f', 'name=back').trim(), backendId);
    assert.equal(h.ok('ls', '--format', '{{.Name}}', '-f', 'type=custom'), 'backend\nfrontend\n');
    assert.equal(h.ok('ls', '--format', '{{.Name}}', '-f', 'driver=null'), 'none\n');
    const json = h
      .ok('ls', '--format', 'json', '-f', 'name=^frontend$')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string; Driver: string });
    assert.deepEqual(
      json.map((j) => [j.Name, j.Driver]),
      [['frontend', 'bridge']],
    );
  });

  it('rm refuses while endpoints exist and names the containers', () => {
    const r = h.netctl('rm', 'backend');
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`^Error: network backend has active endpoints \\((${A}, ${B}|${B}, ${A})\\)`));
    assert.ok(
      h.links().some((l) => l.ifname === `nc-${backendId.slice(0, 12)}`),
      'bridge still there',
    );
  });

  it('disconnect removes the interface, frees the IP and moves the default route', () => {
    h.ok('disconnect', 'backend', B);
    assert.deepEqual(Object.keys(h.addrs(B)).sort(), ['eth1', 'lo']);
    assert.equal(h.routes(B).find((r) => r.dst === 'default')?.gateway, '10.231.2.254');
    assert.equal(h.ping(A, '10.231.1.50'), false);
    // The address is free again.
    h.ok('connect', 'backend', C, '--ip', '10.231.1.50');
    assert.deepEqual(h.addrs(C)['eth1'], ['10.231.1.50/24']);
    h.ok('disconnect', 'backend', C);
  });

  it('rm deletes the bridge once the network is empty; rm echoes and continues', () => {
    h.ok('sandbox', 'rm', A);
    assert.equal(h.netnsExists(A), false, 'netctl-made netns deleted');
    const r = h.netctl('rm', 'backend', 'nope', 'bridge');
    assert.equal(r.code, 1);
    assert.equal(r.out, 'backend\n');
    assert.match(r.err, /Error: network nope not found/);
    assert.match(r.err, /Error: bridge is a pre-defined network and cannot be removed/);
    assert.equal(
      h.links().some((l) => l.ifname === `nc-${backendId.slice(0, 12)}`),
      false,
      'bridge deleted',
    );
    assert.equal(h.netctl('rm', '-f', 'nope').code, 0);
  });

  it('a dual-stack network (--ipv6): both families, a link-local address, IPv6 traffic between sandboxes', () => {
    const [D, E] = [h.name('d'), h.name('e')];
    h.ok('create', '--ipv6', '--subnet', '10.231.3.0/24', '--subnet', 'fd00:231:3::/64', 'dual');
    h.ok('sandbox', 'create', D, '--net', 'dual');
    h.ok('sandbox', 'create', E, '--net', 'dual');
    const v6 = (ns: string) =>
      h
        .ipj<Array<{ ifname: string; addr_info: Array<{ local: string; scope: string }> }>>(ns, '-6', 'addr', 'show')
        .find((l) => l.ifname === 'eth0')
        ?.addr_info.map((a) => (a.scope === 'link' ? 'link-local' : a.local))
        .sort();
    assert.deepEqual(v6(E), ['fd00:231:3::3', 'link-local']);
    assert.deepEqual(h.addrs(E)['eth0'], ['10.231.3.3/24']);
    assert.ok(h.ping(D, 'fd00:231:3::3'), 'D reaches E over IPv6');
    assert.ok(h.ping(D, '10.231.3.3'), 'and over IPv4');
    h.ok('sandbox', 'rm', D, E);
    h.ok('rm', 'dual');
  });
});
