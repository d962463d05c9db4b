// docs/reference.md §10 overlay: errors, races and faults on the three-host cluster (one etcd for the file).
// No cluster store, the cluster store down (commands fail within 5 s and change nothing, local
// commands keep working), cluster-wide name and subnet uniqueness under concurrency, a netctl
// killed mid-connect, etcd restarted under load, and a partitioned host that heals.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, STORE_URL, type ClusterHost } from '../helpers/cluster.js';
import { isRoot, run } from '../helpers/host.js';
import {
  assertDevicesAccounted,
  assertOverlayDevices,
  containers,
  inspect,
  lsRows,
  pingAll,
  sbAddr,
  sbAddrs,
} from '../helpers/overlay.js';

const UNREACHABLE = `Error: cluster store ${STORE_URL}: unreachable`;

describe('overlay: errors and faults', { skip: !isRoot && 'needs root' }, () => {
  let c: Cluster;
  let h1: ClusterHost, h2: ClusterHost, h3: ClusterHost;

  before(async () => {
    c = await Cluster.start();
    [h1, h2, h3] = c.hosts;
  });
  after(async () => {
    await c?.destroy();
  });

  /** The store's journal is finished and `doctor` finds no drift. */
  const converged = (h: ClusterHost, why: string) => {
    assert.equal(h.store().journal.length, 0, `${h.nodeName} ${why}: journal finished`);
    const d = h.netctl('doctor');
    assert.equal(d.code, 0, `${h.nodeName} ${why}: doctor: ${d.out}${d.err}`);
    assertDevicesAccounted(h, why);
  };

  it('create -d overlay without a cluster store: the exact error, nothing made', () => {
    const before = h1.storeText();
    const r = h1.netctlEnv({ NETCTL_CLUSTER_STORE: '' }, 'create', '-d', 'overlay', 'nostore');
    assert.equal(r.code, 1);
    assert.equal(r.err.split('\n')[0], 'Error: overlay networks need a cluster store (--cluster-store etcd://...)');
    assert.deepEqual(
      r.err
        .split('\n')
        .slice(1)
        .filter((l) => l && !l.startsWith('  hint:')),
      [],
    );
    assert.equal(r.out, '');
    assert.equal(h1.storeText(), before);
    assert.equal(
      lsRows(h2).some((x) => x['NAME'] === 'nostore'),
      false,
    );
  });

  it('--cluster-store and --advertise-addr flags do what the environment does (several endpoints allowed)', () => {
    const flags = ['--cluster-store', STORE_URL, '--advertise-addr', h1.addr];
    const noEnv = { NETCTL_CLUSTER_STORE: '', NETCTL_ADVERTISE_ADDR: '' };
    const id = h1.netctlEnv(noEnv, ...flags, 'create', '-d', 'overlay', '--subnet', '10.214.0.0/24', 'flags');
    assert.equal(id.code, 0, id.err);
    assert.equal(inspect(h2, 'flags')['Id'], id.out.trim(), 'host2 (environment) sees it');
    const sb = h1.name('fl');
    const r = h1.netctlEnv(noEnv, ...flags, 'sandbox', 'create', sb, '--net', 'flags');
    assert.equal(r.code, 0, r.err);
    const entry = containers(h3, 'flags').find((x) => x.Name === sb);
    assert.equal(entry?.AdvertiseAddr, h1.addr);
    assert.equal(entry?.Node, 'host1');
    // A dead first endpoint: the client uses the next one.
    const two = h3.netctlEnv(
      { NETCTL_CLUSTER_STORE: '' },
      '--cluster-store',
      'etcd://192.0.2.99:2379,192.0.2.100:2379',
      'ls',
    );
    assert.equal(two.code, 0, two.err);
    assert.match(two.out, /\bflags\s+overlay\s+global\b/);
    h1.ok('sandbox', 'rm', sb);
    h1.ok('rm', 'flags');
  });

  it('names are unique cluster-wide: 3 hosts create one name at once, exactly one wins', async () => {
    const rs = await Promise.all(
      c.hosts.map((h, i) => h.netctlAsync('create', '-d', 'overlay', '--subnet', `10.215.${i}.0/24`, 'twin')),
    );
    assert.equal(rs.filter((r) => r.code === 0).length, 1, rs.map((r) => r.err).join(''));
    for (const r of rs.filter((x) => x.code !== 0)) assert.match(r.err, /network with name twin already exists/);
    for (const h of c.hosts)
      assert.equal(lsRows(h).filter((x) => x['NAME'] === 'twin').length, 1, `${h.nodeName} lists one twin`);
    const again = h2.netctl('create', '-d', 'overlay', 'twin');
    assert.equal(again.code, 1);
    assert.match(again.err, /network with name twin already exists/);
    h3.ok('rm', 'twin');
  });

  it('an overlapping --subnet on another host is refused', () => {
    h1.ok('create', '-d', 'overlay', '--subnet', '10.220.0.0/16', 'wide');
    const r = h2.netctl('create', '-d', 'overlay', '--subnet', '10.220.5.0/24', 'narrow');
    assert.equal(r.code, 1);
    assert.match(r.err, /Pool overlaps with other one on this address space/);
    assert.equal(
      lsRows(h3).some((x) => x['NAME'] === 'narrow'),
      false,
    );
    h2.ok('rm', 'wide');
  });

  it('-o com.docker.network.driver.overlay.vxlanid_list=VNI is the VXLAN id in the kernel', () => {
    const id = h1
      .ok('create', '-d', 'overlay', '-o', 'com.docker.network.driver.overlay.vxlanid_list=5000', 'vni')
      .trim();
    const sb = h2.name('v');
    h2.ok('sandbox', 'create', sb, '--net', 'vni');
    assert.equal(assertOverlayDevices(h2, id, 5000), 5000);
    h2.ok('sandbox', 'rm', sb);
    h2.ok('rm', 'vni');
  });

  it(
    'etcd down: overlay commands fail within 5 s with "unreachable" and change nothing; local commands work; ' +
      'etcdStart heals',
    async () => {
      const sub = '10.216.0.0/24';
      h1.ok('create', '-d', 'overlay', '--subnet', sub, 'live');
      const [s1, s2, s3] = [h1.name('s1'), h2.name('s2'), h1.name('s3')];
      h1.ok('sandbox', 'create', s1, '--net', 'live');
      h2.ok('sandbox', 'create', s2, '--net', 'live');
      h1.ok('sandbox', 'create', s3, '--net', 'none');
      h1.ok('restore');
      const keys = c.keyspace();
      const snap = () =>
        JSON.stringify({
          store: h1.storeText(),
          links: h1.linkNames(),
          s1: h1.links(s1).map((l) => l.ifname),
          s3: h1.links(s3).map((l) => l.ifname),
          netns: c.namespaces(),
        });
      const before = snap();
      await c.etcdStop();
      try {
        const attempts: string[][] = [
          ['create', '-d', 'overlay', 'during'],
          ['connect', 'live', s3],
          ['disconnect', 'live', s1],
          ['rm', 'live'],
          ['sandbox', 'create', h1.name('s4'), '--net', 'live'],
        ];
        for (const argv of attempts) {
          const t0 = Date.now();
          const r = h1.netctl(...argv);
          const took = Date.now() - t0;
          assert.equal(r.code, 1, `${argv.join(' ')}: ${r.err}`);
          assert.ok(r.err.includes(UNREACHABLE), `${argv.join(' ')}: ${r.err}`);
          assert.ok(took < 5000, `${argv.join(' ')} failed within 5 s (${took} ms)`);
          assert.equal(snap(), before, `${argv.join(' ')} changed nothing`);
        }
        // Local scope keeps working.
        const t0 = Date.now();
        h1.ok('create', '--subnet', '10.253.0.0/24', 'local');
        const l1 = h1.name('l1');
        h1.ok('sandbox', 'create', l1, '--net', 'local');
        h1.ok('connect', 'local', s3);
        const ls = h1.netctl('ls');
        assert.equal(ls.code, 0, ls.err);
        assert.match(ls.out, /\blocal\s+bridge\s+local\b/);
        assert.ok(Date.now() - t0 < 20_000, 'local commands are not held up by the dead store');
        assert.ok(h1.ping(l1, sbAddr(h1, s3, '10.253.0.0/24') ?? ''), 'the local network carries traffic');
        h1.ok('sandbox', 'rm', l1);
        h1.ok('disconnect', 'local', s3);
        h1.ok('rm', 'local');
      } finally {
        await c.etcdStart();
      }
      assert.equal(c.keyspace(), keys, 'the cluster store is as it was');
      h1.ok('connect', 'live', s3);
      h2.ok('restore');
      const ip3 = sbAddr(h1, s3, sub);
      assert.ok(ip3);
      assert.deepEqual(
        await pingAll([
          [s2, ip3],
          [s3, sbAddr(h2, s2, sub) ?? ''],
        ]),
        [true, true],
        'overlay works again',
      );
      h1.ok('sandbox', 'rm', s1, s3);
      h2.ok('sandbox', 'rm', s2);
      h1.ok('rm', 'live');
    },
  );

  it(
    'netctl killed mid-connect (at every kernel step, and at timed points): ' +
      'the next command converges, no leaked address or device',
    async () => {
      const sub = '10.217.0.0/24';
      h1.ok('create', '-d', 'overlay', '--subnet', sub, 'kill');
      const peer = h2.name('kp');
      const spare = h2.name('kq');
      h2.ok('sandbox', 'create', peer, '--net', 'kill');
      h2.ok('sandbox', 'create', spare, '--net', 'none');
      let interrupted = 0;
      const check = async (sb: string, ip: string, why: string) => {
        // The next command on host1 finishes or rolls back what was cut off.
        h1.ok('prune', '-f', '--filter', 'label=nothing-has-this');
        h1.ok('restore');
        converged(h1, why);
        const connected = containers(h2, 'kill').some((x) => x.Name === sb);
        if (connected) {
          assert.deepEqual(
            sbAddrs(h1, sb).filter((a) => a.startsWith('10.217.')),
            [ip],
            `${why}: the endpoint has its address`,
          );
          h2.ok('restore');
          assert.ok(h2.ping(peer, ip), `${why}: and works`);
        } else {
          assert.deepEqual(
            sbAddrs(h1, sb).filter((a) => a.startsWith('10.217.')),
            [],
            `${why}: no address left in the sandbox`,
          );
          const r = h2.netctl('connect', '--ip', ip, 'kill', spare);
          assert.equal(r.code, 0, `${why}: ${ip} is free again: ${r.err}`);
          h2.ok('disconnect', 'kill', spare);
        }
        h1.ok('sandbox', 'rm', '-f', sb);
        converged(h1, `${why}, after rm`);
      };
      for (let k = 1; k < 30; k++) {
        const sb = h1.name(`k${k}`);
        const ip = `10.217.0.${10 + k}`;
        h1.ok('sandbox', 'create', sb, '--net', 'none');
        const r = h1.netctlEnv({ NETCTL_FAULT: `kill:${k}` }, 'connect', '--ip', ip, 'kill', sb);
        if (r.code === 0) {
          // past the last kernel call
          h1.ok('sandbox', 'rm', sb);
          break;
        }
        interrupted++;
        await check(sb, ip, `kill:${k}`);
      }
      assert.ok(interrupted >= 3, `connect was interrupted at ${interrupted} kernel steps`);
      for (const ms of [30, 80, 150, 250]) {
        const sb = h1.name(`t${ms}`);
        const ip = `10.217.0.${100 + ms / 10}`;
        h1.ok('sandbox', 'create', sb, '--net', 'none');
        const p = h1.spawnNetctl({}, 'connect', '--ip', ip, 'kill', sb);
        setTimeout(() => p.proc.kill('SIGKILL'), ms);
        await p.done;
        await check(sb, ip, `SIGKILL after ${ms} ms`);
      }
      h2.ok('sandbox', 'rm', peer, spare);
      h1.ok('rm', 'kill');
    },
  );

  it(
    'etcd restarted while 20 connects run on two hosts: ' + 'each succeeds or fails cleanly, then everything converges',
    async () => {
      const sub = '10.218.0.0/24';
      h3.ok('create', '-d', 'overlay', '--subnet', sub, 'churn');
      const hs = [h1, h2];
      const sbs = hs.map((h) => Array.from({ length: 10 }, (_, i) => h.name(`r${i}`)));
      hs.forEach((h, k) => {
        for (const sb of sbs[k] ?? []) h.ok('sandbox', 'create', sb, '--net', 'none');
      });
      const running = Promise.all(
        hs.flatMap((h, k) => (sbs[k] ?? []).map((sb) => h.netctlAsync('connect', 'churn', sb))),
      );
      await new Promise((r) => setTimeout(r, 150));
      await c.etcdStop('SIGKILL');
      await c.etcdStart();
      const results = await running;
      for (const r of results.filter((x) => x.code !== 0))
        assert.ok(r.err.includes(UNREACHABLE), `a connect cut off by the restart says why: ${r.err}`);
      for (const h of hs) {
        h.ok('restore');
        converged(h, 'after the etcd restart');
      }
      const listed = new Set(containers(h3, 'churn').map((x) => x.Name));
      hs.forEach((h, k) =>
        (sbs[k] ?? []).forEach((sb, i) => {
          const got = sbAddrs(h, sb).filter((a) => a.startsWith('10.218.'));
          assert.equal(
            got.length,
            listed.has(sb) ? 1 : 0,
            `${sb}: kernel and inspect agree (connect exit ${results[k * 10 + i]?.code})`,
          );
        }),
      );
      // Retry the ones that failed; then all 20 are distinct and reachable across the hosts.
      for (const [k, h] of hs.entries())
        for (const sb of sbs[k] ?? []) if (!listed.has(sb)) h.ok('connect', 'churn', sb);
      for (const h of hs) h.ok('restore');
      const ips = hs.map((h, k) => (sbs[k] ?? []).map((sb) => sbAddr(h, sb, sub) ?? ''));
      assert.equal(new Set(ips.flat().filter(Boolean)).size, 20, `20 distinct addresses: ${ips.flat().join(' ')}`);
      const got = await pingAll(
        [0, 3, 6, 9].flatMap(
          (i) =>
            [
              [sbs[0]?.[i] ?? '', ips[1]?.[i] ?? ''],
              [sbs[1]?.[i] ?? '', ips[0]?.[i] ?? ''],
            ] as Array<[string, string]>,
        ),
      );
      assert.deepEqual(
        got,
        got.map(() => true),
        'sampled cross-host pings',
      );
      hs.forEach((h, k) => h.ok('sandbox', 'rm', ...(sbs[k] ?? [])));
      h3.ok('rm', 'churn');
    },
  );

  it(
    'partition: the cut host fails with "unreachable", traffic stops; ' +
      "after heal it flows again and a connect made meanwhile is reached after the host's next command",
    async () => {
      const sub = '10.219.0.0/24';
      h2.ok('create', '-d', 'overlay', '--subnet', sub, 'part');
      const [p1, p2, p3] = [h1.name('p1'), h2.name('p2'), h2.name('p3')];
      h1.ok('sandbox', 'create', p1, '--net', 'part');
      h2.ok('sandbox', 'create', p2, '--net', 'part');
      h1.ok('restore');
      const [ip1, ip2] = [sbAddr(h1, p1, sub) ?? '', sbAddr(h2, p2, sub) ?? ''];
      assert.deepEqual(
        await pingAll([
          [p1, ip2],
          [p2, ip1],
        ]),
        [true, true],
        'before the partition',
      );
      c.partition(h1);
      try {
        assert.deepEqual(
          await pingAll([
            [p1, ip2],
            [p2, ip1],
          ]),
          [false, false],
          'cut off',
        );
        const t0 = Date.now();
        const r = h1.netctl('sandbox', 'create', h1.name('p4'), '--net', 'part');
        assert.equal(r.code, 1);
        assert.ok(r.err.includes(UNREACHABLE), r.err);
        assert.ok(Date.now() - t0 < 5000, 'within 5 s');
        h2.ok('sandbox', 'create', p3, '--net', 'part'); // the rest of the cluster goes on
      } finally {
        await c.heal(h1);
      }
      assert.notEqual(await h1.pingWithin(p1, ip2, 3000), null, 'host1 -> host2 again after heal');
      assert.notEqual(await h2.pingWithin(p2, ip1, 3000), null, 'host2 -> host1 again after heal');
      h1.ok('restore'); // host1's next command
      const ip3 = sbAddr(h2, p3, sub) ?? '';
      assert.deepEqual(
        await pingAll([
          [p1, ip3],
          [p3, ip1],
        ]),
        [true, true],
        'the sandbox connected during the partition is reached',
      );
      h1.ok('sandbox', 'rm', p1);
      h2.ok('sandbox', 'rm', p2, p3);
      h2.ok('rm', 'part');
    },
  );

  it('cleanup leaves nothing', async () => {
    assert.deepEqual(await c.removeAll(), []);
    assert.equal(
      run('ip', ['netns', 'list'])
        .out.split('\n')
        .filter((l) => l.startsWith(c.tag) && !c.harnessNamespaces().has(l.split(' ')[0] ?? '')).length,
      0,
    );
  });
});
