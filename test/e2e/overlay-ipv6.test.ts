// IPv6 on overlays (docs/reference.md §10): dual-stack and IPv6-only overlays over the IPv4
// underlay of three host namespaces and a real etcd. Addresses, neighbour entries and routes are
// read from each host's kernel; traffic is ping -6 between sandboxes of different hosts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Cluster, type ClusterHost } from '../helpers/cluster.js';
import { isRoot } from '../helpers/host.js';
import { devices, sbAddrs } from '../helpers/overlay.js';

const V4 = '10.244.0.0/24';
const V6 = 'fd00:244::/64';
const V6ONLY = 'fd00:245::/64';

interface AddrInfo {
  ifname: string;
  address: string;
  addr_info: Array<{ family: string; local: string; scope: string }>;
}

/** A sandbox's global IPv6 addresses under `prefix` (no prefix length), link-local ones left out. */
const v6Of = (h: ClusterHost, sb: string, prefix: string): string[] =>
  h
    .ipj<AddrInfo[]>(sb, '-6', 'addr', 'show')
    .flatMap((l) => l.addr_info.filter((a) => a.scope === 'global').map((a) => a.local))
    .filter((a) => a.startsWith(prefix));

/** The MAC of the sandbox interface that holds `ip`. */
const macOf = (h: ClusterHost, sb: string, ip: string): string =>
  h.ipj<AddrInfo[]>(sb, 'addr', 'show').find((l) => l.addr_info.some((a) => a.local === ip))?.address ?? '';

/** One ping -6 (the source namespace's, one second). */
const ping6 = (ns: string, ip: string): boolean =>
  spawnSync('ip', ['netns', 'exec', ns, 'ping', '-6', '-c1', '-W1', '-q', ip], { stdio: 'ignore' }).status === 0;

/** This host's permanent neighbour entries for IPv6 addresses on a network's VXLAN device. */
const neigh6 = (h: ClusterHost, id: string): Array<{ dst: string; lladdr?: string; state?: string[] }> =>
  h.ipj<Array<{ dst: string; lladdr?: string; state?: string[] }>>(null, '-6', 'neigh', 'show', 'dev', devices(id).vx);

describe('IPv6 on overlays across three hosts', { skip: !isRoot && 'needs root' }, () => {
  let c: Cluster;
  let h1: ClusterHost, h2: ClusterHost, h3: ClusterHost;
  let ds = '';
  let only = '';

  before(async () => {
    c = await Cluster.start();
    [h1, h2, h3] = c.hosts;
    for (const h of c.hosts) c.startAgent(h);
  });

  after(async () => {
    if (!c) return;
    const left = await c.removeAll();
    await c.destroy();
    assert.deepEqual(left, [], 'nothing leaked');
  });

  it('create: dual stack, IPv6 alone; --ipv6 needs an IPv6 subnet and an IPv6 subnet needs --ipv6', () => {
    ds = h1.ok('create', '-d', 'overlay', '--ipv6', '--subnet', V4, '--subnet', V6, 'ds6').trim();
    only = h2.ok('create', '-d', 'overlay', '--ipv6', '--subnet', V6ONLY, 'v6only').trim();
    const [nw] = JSON.parse(h3.ok('inspect', 'v6only')) as Array<{ EnableIPv6: boolean; IPAM: { Config: unknown[] } }>;
    assert.equal(nw?.EnableIPv6, true);
    assert.deepEqual(
      (nw?.IPAM.Config as Array<{ Subnet: string }>).map((p) => p.Subnet),
      [V6ONLY],
      'no IPv4 subnet is added',
    );
    const r = h1.netctl('create', '-d', 'overlay', '--ipv6', 'nov6');
    assert.equal(r.code, 1);
    assert.match(r.err, /--ipv6 on overlay networks needs an IPv6 --subnet/);
    assert.match(h1.netctl('create', '-d', 'overlay', '--subnet', 'fd00:246::/64', 'x6').err, /needs --ipv6/);
  });

  it('dual stack: both addresses, ping -6 across hosts, a permanent neighbour entry per remote address', async () => {
    const [s1, s2] = [h1.name('d1'), h2.name('d2')];
    h1.ok('sandbox', 'create', s1, '--net', 'ds6');
    h2.ok('sandbox', 'create', s2, '--net', 'ds6');
    const [a1] = v6Of(h1, s1, 'fd00:244:');
    const [a2] = v6Of(h2, s2, 'fd00:244:');
    assert.ok(a1 && a2 && a1 !== a2, `IPv6 addresses ${a1} ${a2}`);
    assert.ok(
      sbAddrs(h1, s1).some((a) => a.startsWith('10.244.0.')),
      'and an IPv4 one',
    );
    const mac2 = macOf(h2, s2, a2);
    // host1 learns host2's endpoint (its agent's watch), then answers for it from the kernel.
    assert.ok(
      await h1.until(() => neigh6(h1, ds).some((n) => n.dst === a2 && n.lladdr === mac2), 2000),
      JSON.stringify(neigh6(h1, ds)),
    );
    assert.ok(
      neigh6(h1, ds)
        .find((n) => n.dst === a2)
        ?.state?.includes('PERMANENT'),
    );
    assert.ok(ping6(s1, a2), `${s1} -> ${a2}`);
    assert.ok(ping6(s2, a1), `${s2} -> ${a1}`);
  });

  it('--ip6 on connect; an address another host holds is refused', () => {
    const [s3, s4] = [h3.name('d3'), h1.name('d4')];
    h3.ok('sandbox', 'create', s3, '--net', 'ds6', '--ip6', 'fd00:244::99');
    assert.deepEqual(v6Of(h3, s3, 'fd00:244:'), ['fd00:244::99']);
    const r = h1.netctl('sandbox', 'create', s4, '--net', 'ds6', '--ip6', 'fd00:244::99');
    assert.equal(r.code, 1);
    assert.match(r.err, /Address already in use: fd00:244::99/);
  });

  it('IPv6 alone: a MAC from the address, no gwbridge, ping -6 across hosts, isolated from the other', async () => {
    const [o1, o2] = [h1.name('o1'), h3.name('o3')];
    h1.ok('sandbox', 'create', o1, '--net', 'v6only');
    h3.ok('sandbox', 'create', o2, '--net', 'v6only');
    const [b1] = v6Of(h1, o1, 'fd00:245:');
    const [b2] = v6Of(h3, o2, 'fd00:245:');
    assert.ok(b1 && b2, `${b1} ${b2}`);
    assert.deepEqual(
      sbAddrs(h1, o1).filter((a) => !a.includes(':')),
      [],
      'no IPv4 address, and no gwbridge endpoint',
    );
    assert.deepEqual(
      h1
        .links(o1)
        .map((l) => l.ifname)
        .sort(),
      ['eth0', 'lo'],
    );
    const mac = macOf(h1, o1, b1);
    const tail = (b1.split(':').pop() ?? '').padStart(4, '0');
    assert.match(mac, /^02:42:/, 'locally administered');
    assert.equal(mac.replace(/:/g, '').slice(-4), tail, 'from the address');
    assert.ok(await h1.until(() => neigh6(h1, only).some((n) => n.dst === b2), 2000), 'the remote IPv6 address');
    assert.ok(await h1.until(() => ping6(o1, b2), 2000), `${o1} -> ${b2}`);
    // The dual-stack overlay's sandbox on host1 is another segment: nothing reaches it.
    const d1 = v6Of(h1, h1.name('d1'), 'fd00:244:')[0] ?? '';
    assert.equal(ping6(o1, d1), false, 'isolation between overlays holds for IPv6');
  });

  it('concurrent connects on three hosts get distinct IPv6 addresses', async () => {
    const names = c.hosts.map((h, i) => h.name(`cc${i}`));
    const runs = c.hosts.map((h, i) => h.spawnNetctl({}, 'sandbox', 'create', names[i] ?? '', '--net', 'ds6').done);
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 0, r.err);
    const addrs = c.hosts.flatMap((h, i) => v6Of(h, names[i] ?? '', 'fd00:244:'));
    assert.equal(addrs.length, 3);
    assert.equal(new Set(addrs).size, 3, addrs.join(' '));
    for (const [i, h] of c.hosts.entries()) h.ok('sandbox', 'rm', names[i] ?? '');
  });
});
