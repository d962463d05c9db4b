// docs/reference.md §10 overlay across three hosts (test/helpers/cluster.ts: three host namespaces and an
// etcd on one switch). The devices, FDB and neighbour entries are read from the kernel of each
// host, traffic is real ping/TCP between sandboxes of different hosts, and what netctl prints
// (inspect, ls, node ls) is compared with what the kernel shows. One etcd for the whole file;
// ov1 is shared by the tests that only look at it. Faults and errors: overlay-faults.test.ts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cluster, type ClusterHost } from '../helpers/cluster.js';
import { isRoot } from '../helpers/host.js';
import {
  assertDevicesAccounted,
  assertNoOverlayDevices,
  assertOverlayDevices,
  assertPeers,
  containers,
  devices,
  hasEntriesFor,
  inCidr,
  inspect,
  lsRows,
  peerOf,
  pingAll,
  sbAddr,
  sbAddrs,
  sbIface,
  table,
  type Peer,
} from '../helpers/overlay.js';

const SUB1 = '10.210.0.0/24';

describe('overlay networks across three hosts', { skip: !isRoot && 'needs root' }, () => {
  let c: Cluster;
  let h1: ClusterHost, h2: ClusterHost, h3: ClusterHost;
  let ov1 = '';
  let vni1 = 0;
  let a1 = '',
    a2 = '',
    a3 = '';

  before(async () => {
    c = await Cluster.start();
    [h1, h2, h3] = c.hosts;
    [a1, a2, a3] = [h1.name('a1'), h2.name('a2'), h1.name('a3')];
  });
  after(async () => {
    await c?.destroy();
  });

  const ping = (from: string, ip: string | undefined) => {
    assert.ok(ip, 'an address to ping');
    return h1.ping(from, ip);
  };

  it('create -d overlay: one network, Scope global, seen from every host; no device anywhere yet', () => {
    ov1 = h1.ok('create', '-d', 'overlay', '--subnet', SUB1, 'ov1').trim();
    assert.match(ov1, /^[0-9a-f]{64}$/);
    for (const h of c.hosts) {
      const nw = inspect(h, 'ov1');
      assert.equal(nw['Id'], ov1, `${h.nodeName}: same Id`);
      assert.equal(nw['Scope'], 'global');
      assert.equal(nw['Driver'], 'overlay');
      assert.equal(nw['IPAM']?.Config?.[0]?.Subnet, SUB1);
      assert.equal(nw['IPAM']?.Config?.[0]?.Gateway, '10.210.0.1', 'gateway: first address');
      const row = lsRows(h).find((r) => r['NAME'] === 'ov1');
      assert.deepEqual(
        row,
        { 'NETWORK ID': ov1.slice(0, 12), NAME: 'ov1', DRIVER: 'overlay', SCOPE: 'global' },
        `${h.nodeName}: ls`,
      );
      assertNoOverlayDevices(h, ov1);
    }
  });

  it(
    'endpoints: ov-/vx- devices (VNI, 4789, no learning, MTU 1450) ' + 'on hosts with endpoints only; eth0 MTU 1450',
    () => {
      h1.ok('sandbox', 'create', a1, '--net', 'ov1');
      h2.ok('sandbox', 'create', a2, '--net', 'ov1');
      h1.ok('sandbox', 'create', a3, '--net', 'ov1');
      vni1 = assertOverlayDevices(h1, ov1);
      assertOverlayDevices(h2, ov1, vni1);
      assertNoOverlayDevices(h3, ov1);
      const ips = [
        [h1, a1],
        [h2, a2],
        [h1, a3],
      ].map(([h, sb]) => {
        const ip = sbAddr(h as ClusterHost, sb as string, SUB1);
        assert.ok(ip, `${sb} has an address in ${SUB1}`);
        const i = sbIface(h as ClusterHost, sb as string, ip);
        assert.equal(i?.ifname, 'eth0', `${sb}: the overlay endpoint is eth0`);
        assert.equal(i?.mtu, 1450, `${sb}: endpoint MTU 1450`);
        // The host end of the endpoint is on the network's bridge.
        const hostEnds = (h as ClusterHost)
          .links()
          .filter((l) => l.master === devices(ov1).br && l.ifname !== devices(ov1).vx);
        assert.ok(hostEnds.length >= 1, `${sb}: a port on ${devices(ov1).br} besides the VXLAN device`);
        return ip;
      });
      assert.equal(new Set(ips).size, 3, `distinct addresses cluster-wide: ${ips.join(' ')}`);
      assert.equal(ips.includes('10.210.0.1'), false, 'the gateway is never handed out');
    },
  );

  it(
    'peers: one permanent FDB entry (dst = remote VTEP) and neighbour entry per REMOTE endpoint, ' +
      'none for local ones',
    () => {
      h2.ok('restore'); // a3 came after a2: host2 is current after its next command
      const [p1, p2, p3] = [peerOf(h1, a1, SUB1), peerOf(h2, a2, SUB1), peerOf(h1, a3, SUB1)];
      assertPeers(h1, ov1, [p2]);
      assertPeers(h2, ov1, [p1, p3]);
    },
  );

  it('traffic: ping across hosts in both directions, and between two sandboxes of one host', async () => {
    const [ip1, ip2, ip3] = [sbAddr(h1, a1, SUB1), sbAddr(h2, a2, SUB1), sbAddr(h1, a3, SUB1)];
    assert.deepEqual(
      await pingAll([
        [a1, ip2!],
        [a2, ip1!],
        [a3, ip2!],
        [a2, ip3!],
        [a1, ip3!],
      ]),
      [true, true, true, true, true],
    );
  });

  it(
    'inspect from a host with no endpoint lists the containers of every host, with Node and AdvertiseAddr, ' +
      'and Peers',
    () => {
      const nw = inspect(h3, 'ov1');
      const got = Object.values(nw['Containers'] as Record<string, Record<string, string>>)
        .map(
          (x) =>
            `${x['Name']} ${x['IPv4Address']} ${x['MacAddress']?.toLowerCase()} ${x['Node']} ${x['AdvertiseAddr']}`,
        )
        .sort();
      const want = (
        [
          [h1, a1],
          [h2, a2],
          [h1, a3],
        ] as Array<[ClusterHost, string]>
      )
        .map(([h, sb]) => {
          const p = peerOf(h, sb, SUB1);
          return `${sb} ${p.ip}/24 ${p.mac} ${h.nodeName} ${h.addr}`;
        })
        .sort();
      assert.deepEqual(got, want);
      const peers = (nw['Peers'] as Array<{ Name: string; IP: string }>).map((p) => `${p.Name} ${p.IP}`).sort();
      assert.deepEqual(peers, ['host1 192.0.2.1', 'host2 192.0.2.2']);
    },
  );

  it(
    '--ip on a user subnet is unique cluster-wide, released on rm; ' +
      'a host gets the devices with its first endpoint and loses them with its last',
    () => {
      const x2 = h2.name('x2');
      const x3 = h3.name('x3');
      h2.ok('sandbox', 'create', x2, '--net', 'ov1', '--ip', '10.210.0.200');
      assert.equal(sbAddr(h2, x2, SUB1), '10.210.0.200');
      h1.ok('restore');
      assert.ok(ping(a1, '10.210.0.200'), 'host1 reaches the --ip sandbox on host2');
      h3.ok('sandbox', 'create', x3, '--net', 'none');
      const taken = h3.netctl('connect', '--ip', '10.210.0.200', 'ov1', x3);
      assert.equal(taken.code, 1);
      assert.match(taken.err, /Address already in use: 10\.210\.0\.200/);
      const outside = h3.netctl('connect', '--ip', '10.99.0.1', 'ov1', x3);
      assert.equal(outside.code, 1);
      assert.match(outside.err, /Invalid address 10\.99\.0\.1: It does not belong to any of this network's subnets/);
      assertNoOverlayDevices(h3, ov1);
      h2.ok('sandbox', 'rm', x2);
      h3.ok('connect', '--ip', '10.210.0.200', 'ov1', x3);
      assert.equal(sbAddr(h3, x3, SUB1), '10.210.0.200', 'the address is free again after rm on another host');
      assertOverlayDevices(h3, ov1, vni1);
      assertPeers(h3, ov1, [peerOf(h1, a1, SUB1), peerOf(h2, a2, SUB1), peerOf(h1, a3, SUB1)]);
      h3.ok('sandbox', 'rm', x3);
      assertNoOverlayDevices(h3, ov1);
    },
  );

  it('isolation: two overlays do not reach each other (same host or not), nor a bridge network', async () => {
    const ov2 = h2.ok('create', '-d', 'overlay', 'ov2').trim();
    const sub2 = inspect(h1, 'ov2')['IPAM']?.Config?.[0]?.Subnet as string;
    assert.ok(
      sub2 && !inCidr(sub2.split('/')[0] ?? '', SUB1) && !inCidr('10.210.0.0', sub2),
      `default subnet ${sub2} does not overlap ov1`,
    );
    const [b1, b2, l1] = [h1.name('b1'), h2.name('b2'), h1.name('l1')];
    h1.ok('sandbox', 'create', b1, '--net', 'ov2');
    h2.ok('sandbox', 'create', b2, '--net', 'ov2');
    h1.ok('restore');
    const vni2 = assertOverlayDevices(h1, ov2);
    assertOverlayDevices(h2, ov2, vni2);
    assert.notEqual(vni2, vni1, 'a VNI per network');
    h1.ok('create', '--subnet', '10.252.0.0/24', 'lbr');
    h1.ok('sandbox', 'create', l1, '--net', 'lbr');
    const [ipA1, ipA2, ipB1, ipB2, ipL1] = [
      sbAddr(h1, a1, SUB1),
      sbAddr(h2, a2, SUB1),
      sbAddr(h1, b1, sub2),
      sbAddr(h2, b2, sub2),
      sbAddr(h1, l1, '10.252.0.0/24'),
    ];
    assert.ok(ipA1 && ipA2 && ipB1 && ipB2 && ipL1);
    assert.deepEqual(
      await pingAll([
        [b1, ipB2],
        [b2, ipB1],
      ]),
      [true, true],
      'ov2 works across hosts',
    );
    const blocked = await pingAll([
      [a1, ipB2],
      [b2, ipA1],
      [a2, ipB1],
      [b1, ipA2],
      [a1, ipB1],
      [b1, ipA1],
      [l1, ipA1],
      [a1, ipL1],
      [l1, ipB1],
      [b1, ipL1],
    ]);
    assert.deepEqual(
      blocked,
      blocked.map(() => false),
      'no ping between ov1, ov2 and lbr (a1-b2, b2-a1, a2-b1, b1-a2, a1-b1, b1-a1, l1-a1, a1-l1, l1-b1, b1-l1)',
    );
  });

  it(
    'netctl_gwbridge: an all-overlay sandbox gets a gwbridge endpoint with the default route (masqueraded); ' +
      '--internal gets none',
    async () => {
      const o = h1.outsideNet();
      const gw = inspect(h1, 'netctl_gwbridge');
      assert.equal(gw['Driver'], 'bridge');
      assert.equal(gw['Scope'], 'local');
      const gwSub = gw['IPAM']?.Config?.[0]?.Subnet as string;
      const gwGw = gw['IPAM']?.Config?.[0]?.Gateway as string;
      const onGw = Object.values(gw['Containers'] as Record<string, { Name: string }>).map((x) => x.Name);
      for (const sb of [a1, a3]) {
        assert.ok(onGw.includes(sb), `${sb} has an endpoint on netctl_gwbridge`);
        const gip = sbAddr(h1, sb, gwSub);
        assert.ok(gip, `${sb} has an address in ${gwSub}`);
        const def = h1.routes(sb).find((r) => r.dst === 'default');
        assert.equal(def?.gateway, gwGw, `${sb}: default route via the gwbridge gateway`);
        assert.equal(def?.dev, sbIface(h1, sb, gip)?.ifname);
      }
      assert.equal(ping(a1, sbAddr(h1, a3, gwSub)), false, 'ICC off on netctl_gwbridge');
      assert.ok(h1.ping(a1, '198.51.100.2'), 'outbound: a1 reaches the outside namespace');
      await h1.serve(o, 7071);
      assert.equal(h1.ask(a1, '198.51.100.2', 7071), '198.51.100.1', 'masqueraded behind the host');
      // --internal: traffic only inside the overlay, no gwbridge, no default route.
      const [i1, i2] = [h1.name('i1'), h2.name('i2')];
      h1.ok('create', '-d', 'overlay', '--internal', '--subnet', '10.213.0.0/24', 'ovint');
      h1.ok('sandbox', 'create', i1, '--net', 'ovint');
      h2.ok('sandbox', 'create', i2, '--net', 'ovint');
      h1.ok('restore');
      assert.deepEqual(
        h1
          .links(i1)
          .map((l) => l.ifname)
          .sort(),
        ['eth0', 'lo'],
        'one endpoint only',
      );
      assert.equal(
        h1.routes(i1).some((r) => r.dst === 'default'),
        false,
        'no default route',
      );
      assert.equal(
        Object.values(inspect(h1, 'netctl_gwbridge')['Containers'] as Record<string, { Name: string }>).some(
          (x) => x.Name === i1,
        ),
        false,
      );
      assert.equal(h1.ping(i1, '198.51.100.2'), false, 'no way out');
      assert.ok(ping(i1, sbAddr(h2, i2, '10.213.0.0/24')), 'inside the internal overlay: across hosts');
    },
  );

  it('rm while any host has an endpoint: refused, naming the containers and their hosts; nothing removed', () => {
    const r = h3.netctl('rm', 'ov1');
    assert.equal(r.code, 1);
    assert.match(r.err, /network ov1 has active endpoints/);
    for (const [sb, node] of [
      [a1, 'host1'],
      [a2, 'host2'],
      [a3, 'host1'],
    ])
      assert.ok(r.err.includes(`${sb} (${node})`), `names ${sb} (${node}): ${r.err}`);
    for (const h of c.hosts)
      assert.ok(
        lsRows(h).some((x) => x['NAME'] === 'ov1'),
        `${h.nodeName} still lists ov1`,
      );
    assertOverlayDevices(h1, ov1, vni1);
    assertOverlayDevices(h2, ov1, vni1);
  });

  /** Overlay endpoints per node, from inspect of every global network. */
  const endpointsPerNode = (h: ClusterHost): Map<string, number> => {
    const m = new Map<string, number>();
    for (const row of lsRows(h).filter((x) => x['SCOPE'] === 'global')) {
      for (const x of containers(h, row['NAME'] ?? '')) m.set(x.Node ?? '?', (m.get(x.Node ?? '?') ?? 0) + 1);
    }
    return m;
  };
  const nodeRows = (h: ClusterHost) => table(h.ok('node', 'ls'), ['NAME', 'ADDRESS', 'LAST SEEN', 'ENDPOINTS']);

  it('node ls lists the hosts with their advertise address, last seen and endpoint count', () => {
    const rows = nodeRows(h3);
    const per = endpointsPerNode(h3);
    assert.ok(
      (per.get('host1') ?? 0) >= 4 && (per.get('host2') ?? 0) >= 3,
      `endpoints per node from inspect: ${JSON.stringify([...per])}`,
    );
    for (const h of [h1, h2]) {
      const row = rows.find((x) => x['NAME'] === h.nodeName);
      assert.ok(row, `${h.nodeName} listed: ${JSON.stringify(rows)}`);
      assert.equal(row['ADDRESS'], h.addr);
      assert.notEqual(row['LAST SEEN'], '');
      assert.equal(row['ENDPOINTS'], String(per.get(h.nodeName)));
    }
    for (const row of rows)
      assert.equal(row['ENDPOINTS'], String(per.get(row['NAME'] ?? '') ?? 0), `${row['NAME']}: count`);
  });

  it(
    "node rm: the local host is refused; a dead host's endpoints go cluster-wide, peers drop them, " +
      'their addresses are free',
    async () => {
      const self = h3.netctl('node', 'rm', 'host3');
      assert.equal(self.code, 1, 'node rm of the local host is refused');
      assert.match(self.err, /^Error: /);
      assert.ok(
        nodeRows(h3).some((x) => x['NAME'] === 'host3'),
        'host3 still listed',
      );
      const d3 = h3.name('d3');
      h3.ok('sandbox', 'create', d3, '--net', 'ov1', '--ip', '10.210.0.150');
      const p3 = peerOf(h3, d3, SUB1);
      h1.ok('restore');
      h2.ok('restore');
      assert.ok(hasEntriesFor(h1, ov1, p3) && hasEntriesFor(h2, ov1, p3), 'host1 and host2 know d3');
      assert.ok(ping(a1, '10.210.0.150'));
      const y2 = h2.name('y2');
      c.partition(h3); // host3 is dead
      try {
        h1.ok('node', 'rm', '192.0.2.3'); // by address
        for (const h of [h1, h2]) {
          assert.equal(
            containers(h, 'ov1').some((x) => x.Name === d3 || x.Node === 'host3'),
            false,
            `${h.nodeName}: inspect no longer lists d3`,
          );
          const row = nodeRows(h).find((x) => x['NAME'] === 'host3');
          assert.ok(
            row === undefined || row['ENDPOINTS'] === '0',
            `node ls: host3 gone or without endpoints: ${JSON.stringify(row)}`,
          );
        }
        h1.ok('restore');
        h2.ok('restore');
        assert.equal(hasEntriesFor(h1, ov1, p3), false, "host1 dropped d3's entries");
        assert.equal(hasEntriesFor(h2, ov1, p3), false, "host2 dropped d3's entries");
        assertPeers(h2, ov1, [peerOf(h1, a1, SUB1), peerOf(h1, a3, SUB1)]);
        h2.ok('sandbox', 'create', y2, '--net', 'ov1', '--ip', '10.210.0.150');
        assert.equal(sbAddr(h2, y2, SUB1), '10.210.0.150', "d3's address is free again");
      } finally {
        await c.heal(h3);
      }
      // The dead host comes back: its endpoint lost its address to y2, so it is taken down there
      // (one address never lives twice on the segment), and said so.
      const back = h3.netctl('restore');
      assert.equal(back.code, 0, back.err);
      assert.match(back.err, /lost its address 10\.210\.0\.150 on ov1/);
      assert.equal(sbAddr(h3, d3, SUB1), undefined, 'd3 no longer holds the address');
      assert.deepEqual(
        containers(h1, 'ov1')
          .filter((x) => x.IPv4Address.startsWith('10.210.0.150/'))
          .map((x) => x.Name),
        [y2],
      );
      h2.ok('sandbox', 'rm', y2);
      // Its stale sandbox can still be removed, and its devices go.
      const r = h3.netctl('sandbox', 'rm', '-f', d3);
      assert.equal(r.code, 0, r.err);
      assertNoOverlayDevices(h3, ov1);
    },
  );

  it('3 hosts x 10 concurrent connects: 30 distinct addresses in the kernel, pairwise-sampled pings work', async () => {
    const sub = '10.211.0.0/24';
    h2.ok('create', '-d', 'overlay', '--subnet', sub, 'ovc');
    const sbs = c.hosts.map((h) => Array.from({ length: 10 }, (_, i) => h.name(`c${i}`)));
    c.hosts.forEach((h, k) => {
      for (const sb of sbs[k] ?? []) h.ok('sandbox', 'create', sb, '--net', 'none');
    });
    const results = await Promise.all(
      c.hosts.flatMap((h, k) => (sbs[k] ?? []).map((sb) => h.netctlAsync('connect', 'ovc', sb))),
    );
    assert.deepEqual(
      results.filter((r) => r.code !== 0).map((r) => r.err),
      [],
      'every connect succeeded',
    );
    const ips = c.hosts.map((h, k) =>
      (sbs[k] ?? []).map((sb) => {
        const a = sbAddrs(h, sb).filter((x) => inCidr(x, sub));
        assert.equal(a.length, 1, `${sb}: one address in ${sub}: ${a.join(' ')}`);
        return a[0] ?? '';
      }),
    );
    assert.equal(new Set(ips.flat()).size, 30, `30 distinct addresses: ${ips.flat().sort().join(' ')}`);
    for (const h of c.hosts) h.ok('restore');
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        for (let k = 0; k < 3; k++) {
          if (i !== j) pairs.push([sbs[i]?.[(k * 3 + i) % 10] ?? '', ips[j]?.[(k * 3 + j + 1) % 10] ?? '']);
        }
    const got = await pingAll(pairs);
    assert.deepEqual(
      pairs.filter((_, n) => !got[n]),
      [],
      'all sampled cross-host pings answered',
    );
    c.hosts.forEach((h, k) => h.ok('sandbox', 'rm', ...(sbs[k] ?? [])));
    h1.ok('rm', 'ovc');
  });

  it(
    'agent on every host: a new endpoint on host1 is pingable from host2 within 2 s, ' +
      'a removed one leaves no entry within 2 s',
    async () => {
      const agents = c.hosts.map((h) => c.startAgent(h));
      try {
        await new Promise((r) => setTimeout(r, 500)); // the agents' first sync
        for (const a of agents) assert.ok(a.alive(), `agent on ${a.host.nodeName} runs: ${a.output()}`);
        const e1 = h1.name('e1');
        h1.ok('sandbox', 'create', e1, '--net', 'ov1');
        const p: Peer = peerOf(h1, e1, SUB1);
        const took = await h2.pingWithin(a2, p.ip, 2000, 100);
        assert.notEqual(
          took,
          null,
          `host2 reaches e1 within 2 s, with no netctl command on host2; agent said: ${agents[1]?.output()}`,
        );
        h1.ok('sandbox', 'rm', e1);
        assert.ok(
          await h2.until(() => !hasEntriesFor(h2, ov1, p), 2000),
          "host2 dropped e1's FDB and neighbour entries within 2 s",
        );
        assertPeers(h2, ov1, [peerOf(h1, a1, SUB1), peerOf(h1, a3, SUB1)], ' (agent)');
      } finally {
        await Promise.all(agents.map((a) => a.kill()));
      }
    },
  );

  it(
    'lifecycle: stop gives the address back and drops the peers elsewhere; start rejoins; ' +
      'a bridge network makes the gwbridge unneeded; the last overlay takes it away',
    () => {
      const gwNames = (h: ClusterHost, sb: string) => containers(h, 'netctl_gwbridge').filter((x) => x.Name === sb);
      // A sandbox on an overlay only: eth0 on the overlay, eth1 on the gwbridge.
      const s1 = h1.name('s1');
      h1.ok('sandbox', 'create', s1, '--net', 'none');
      h1.ok('connect', 'ov1', s1);
      const ip = sbAddr(h1, s1, SUB1);
      assert.ok(ip);
      assert.equal(gwNames(h1, s1).length, 1, 'gwbridge endpoint');
      h2.ok('restore');
      assert.ok(h2.ping(a2, ip), 'host2 reaches it');
      const p = peerOf(h1, s1, SUB1);
      h1.ok('sandbox', 'stop', s1);
      assert.equal(
        containers(h2, 'ov1').some((x) => x.Name === s1),
        false,
        'stopped: gone from the cluster',
      );
      h2.ok('restore');
      assert.equal(hasEntriesFor(h2, ov1, p), false, 'host2 dropped its entries');
      h1.ok('sandbox', 'start', s1);
      const back = sbAddr(h1, s1, SUB1);
      assert.ok(back, 'an overlay address again after start');
      assert.equal(sbIface(h1, s1, back)?.mtu, 1450);
      assert.equal(gwNames(h1, s1).length, 1, 'and the gwbridge endpoint again');
      h2.ok('restore');
      assert.ok(h2.ping(a2, back), 'host2 reaches it after start');
      // Disconnecting the last overlay takes the gwbridge endpoint with it.
      h1.ok('disconnect', 'ov1', s1);
      assert.deepEqual(sbAddrs(h1, s1), [], 'no address left in the sandbox');
      assert.equal(gwNames(h1, s1).length, 0, 'gwbridge endpoint gone');
      // On a bridge network first: the bridge carries the way out, no gwbridge endpoint.
      h1.ok('create', '--subnet', '10.212.0.0/24', 'lb1');
      h1.ok('connect', 'lb1', s1);
      h1.ok('connect', 'ov1', s1);
      assert.equal(gwNames(h1, s1).length, 0, 'no gwbridge with a bridge network');
      const route = h1.routes(s1).find((r) => r.dst === 'default');
      assert.equal(route?.gateway, '10.212.0.1', 'default route via the bridge network');
      assert.ok(sbAddr(h1, s1, SUB1));
      // Leaving the bridge network: the overlay alone wants the gwbridge again, which takes the route.
      h1.ok('disconnect', 'lb1', s1);
      assert.equal(gwNames(h1, s1).length, 1, 'gwbridge endpoint after the bridge network left');
      assert.ok(
        h1
          .routes(s1)
          .some(
            (r) =>
              r.dst === 'default' &&
              r.gateway?.startsWith(String(inspect(h1, 'netctl_gwbridge')['IPAM']?.Config?.[0]?.Gateway)),
          ),
        'default route via the gwbridge',
      );
      // Joining a bridge network later: the gwbridge endpoint goes and the route moves to the bridge network.
      h1.ok('connect', 'lb1', s1);
      assert.equal(gwNames(h1, s1).length, 0, 'gwbridge endpoint gone once a bridge network carries the way out');
      assert.equal(h1.routes(s1).find((r) => r.dst === 'default')?.gateway, '10.212.0.1');
      // Stopped: connect to an overlay only records it; start joins the gwbridge too.
      const s2 = h1.name('s2');
      h1.ok('sandbox', 'create', s2, '--net', 'none');
      h1.ok('sandbox', 'stop', s2);
      h1.ok('connect', 'ov1', s2);
      h1.ok('sandbox', 'start', s2);
      assert.equal(gwNames(h1, s2).length, 1, 'start of an overlay-only sandbox joins the gwbridge');
      h1.ok('sandbox', 'rm', s1, s2);
      h1.ok('rm', 'lb1');
    },
  );

  it(
    'apply -f with an overlay network and a sandbox on it: ' +
      'made, reachable from another host, applied twice changes nothing',
    () => {
      const ap = h1.name('ap1');
      const file = join(h1.root, 'overlay-topology.json');
      writeFileSync(
        file,
        JSON.stringify({
          networks: [{ name: 'ovap', driver: 'overlay', subnets: [{ subnet: '10.215.0.0/24' }] }],
          sandboxes: [{ name: ap, networks: ['ovap'] }],
        }),
      );
      h1.ok('apply', '-f', file);
      const ip = sbAddr(h1, ap, '10.215.0.0/24');
      assert.ok(ip, 'the sandbox has an overlay address');
      assert.equal(inspect(h2, 'ovap')['Scope'], 'global');
      const b = h2.name('ap2');
      h2.ok('sandbox', 'create', b, '--net', 'ovap');
      h1.ok('restore');
      assert.ok(h2.ping(b, ip), 'host2 reaches the applied sandbox');
      const again = h1.ok('apply', '-f', file);
      assert.doesNotMatch(again, /^[+~-] /m, `second apply changes nothing: ${again}`);
      h2.ok('sandbox', 'rm', b);
      h1.ok('sandbox', 'rm', ap);
      h1.ok('rm', 'ovap');
    },
  );

  it('rm once every endpoint is gone: gone from ls on every host, devices gone from every host', () => {
    const ov2 = inspect(h1, 'ov2')['Id'] as string;
    const ovint = inspect(h1, 'ovint')['Id'] as string;
    h1.ok('sandbox', 'rm', a1, a3, h1.name('b1'), h1.name('i1'), h1.name('l1'));
    h2.ok('sandbox', 'rm', a2, h2.name('b2'), h2.name('i2'));
    for (const h of c.hosts) h.ok('restore');
    for (const id of [ov1, ov2, ovint]) for (const h of c.hosts) assertNoOverlayDevices(h, id);
    assert.equal(h3.ok('rm', 'ov1', 'ov2', 'ovint'), 'ov1\nov2\novint\n');
    for (const h of c.hosts) {
      assert.equal(
        lsRows(h).some((x) => ['ov1', 'ov2', 'ovint'].includes(x['NAME'] ?? '')),
        false,
        `${h.nodeName}: ls no longer shows them`,
      );
      assert.equal(h.netctl('inspect', 'ov1').code, 1);
      assertDevicesAccounted(h, 'after rm');
    }
  });

  it('cleanup leaves nothing: no netns of the run, only lo and the underlay in every host', async () => {
    assert.deepEqual(await c.removeAll(), []);
  });
});
