// Self-checks of the multi-host harness (test/helpers/cluster.ts), independent of the overlay
// driver: etcd runs and answers from every host, the hosts reach each other over the underlay
// (and only there), a partition cuts one host off and heal brings it back, etcd restarts on
// the same data dir, netctl runs per host with its own root, and cleanup leaves nothing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Cluster, ETCD_IP, UPLINK } from '../helpers/cluster.js';
import { isRoot, run } from '../helpers/host.js';

describe('multi-host harness', { skip: !isRoot && 'needs root' }, () => {
  let c: Cluster;
  let tag = '';
  let dataDir = '';

  before(async () => {
    c = await Cluster.start();
    tag = c.tag;
    dataDir = c.dataDir;
  });
  after(async () => {
    await c?.destroy();
    assert.deepEqual(existsSync('/var/run/netns') ? run('ip', ['netns', 'list']).out.split('\n').filter((l) => l.startsWith(tag)) : [], [], 'no netns of the run is left');
    assert.equal(existsSync(dataDir), false, 'etcd data dir removed');
    assert.equal(c.etcdRunning(), false, 'etcd stopped');
  });

  it('etcd answers from every host at 192.0.2.100:2379, and only through the underlay', () => {
    for (const h of c.hosts) {
      const r = run('env', ['ETCDCTL_API=3', 'nsenter', `--net=/var/run/netns/${h.ns}`, 'etcdctl', '--endpoints', `${ETCD_IP}:2379`, '--dial-timeout=1s', 'endpoint', 'health']);
      assert.equal(r.code, 0, `${h.nodeName}: ${r.err}`);
      assert.match(r.out + r.err, /is healthy/);
    }
    const put = c.etcdctl('put', `/${tag}/probe`, 'hello');
    assert.equal(put.code, 0, put.err);
    assert.match(c.keyspace(), new RegExp(`^/${tag}/probe=hello$`, 'm'));
    assert.equal(c.etcdctl('del', `/${tag}/probe`).code, 0);
    assert.doesNotMatch(c.keyspace(), /probe/);
  });

  it('underlay: three hosts on one switch, MTU 1500, each pings the others and etcd', () => {
    for (const h of c.hosts) {
      const ul = h.linkDetail(UPLINK);
      assert.ok(ul, `${h.nodeName} has ${UPLINK}`);
      assert.equal(ul.mtu, 1500);
      assert.deepEqual(h.addrs(h.ns)[UPLINK], [`${h.addr}/24`]);
      assert.deepEqual(h.linkNames(), ['lo', UPLINK], `${h.nodeName}: nothing else in the host`);
      for (const o of c.hosts) if (o !== h) assert.ok(c.underlayPing(h.ns, o.addr), `${h.nodeName} -> ${o.nodeName}`);
      assert.ok(c.underlayPing(h.ns, ETCD_IP), `${h.nodeName} -> etcd`);
    }
    const sw = c.host1.ipj<Array<{ ifname: string; master?: string }>>(c.switchNs, 'link', 'show');
    assert.deepEqual(sw.filter((l) => l.master === 'br0').map((l) => l.ifname).sort(), ['e0', 'h1', 'h2', 'h3']);
  });

  it('partition cuts one host off the underlay (and from etcd); heal brings it back', async () => {
    c.partition(c.host2);
    try {
      assert.equal(c.underlayPing(c.host1.ns, c.host2.addr), false, 'host1 -/-> host2');
      assert.equal(c.underlayPing(c.host2.ns, ETCD_IP), false, 'host2 -/-> etcd');
      assert.ok(c.underlayPing(c.host1.ns, c.host3.addr), 'host1 -> host3 still');
      assert.deepEqual(c.host2.addrs(c.host2.ns)[UPLINK], [`${c.host2.addr}/24`], 'the host keeps its address');
    } finally {
      c.heal(c.host2);
    }
    assert.ok(await c.host1.until(() => c.underlayPing(c.host1.ns, c.host2.addr), 5000), 'host1 -> host2 after heal');
    assert.ok(c.underlayPing(c.host2.ns, ETCD_IP), 'host2 -> etcd after heal');
  });

  it('etcdStop makes etcd unreachable, etcdStart brings the same keyspace back', async () => {
    assert.equal(c.etcdctl('put', `/${tag}/kept`, 'yes').code, 0);
    await c.etcdStop();
    assert.equal(c.etcdRunning(), false);
    assert.equal(c.etcdHealthy(), false, 'etcd does not answer while stopped');
    await c.etcdStart();
    assert.ok(c.etcdHealthy());
    assert.match(c.keyspace(), new RegExp(`^/${tag}/kept=yes$`, 'm'), 'same data dir');
    // A crash (SIGKILL) too.
    await c.etcdStop('SIGKILL');
    await c.etcdStart();
    assert.match(c.keyspace(), new RegExp(`^/${tag}/kept=yes$`, 'm'));
    assert.equal(c.etcdctl('del', `/${tag}/kept`).code, 0);
  });

  it('netctl runs in each host with its own root and environment', () => {
    const h1 = c.host1;
    h1.ok('create', '--subnet', '10.250.1.0/24', 'local1');
    assert.match(h1.ok('ls', '--format', '{{.Name}}'), /^local1$/m);
    assert.doesNotMatch(c.host2.ok('ls', '--format', '{{.Name}}'), /local1/, 'host2 has its own store');
    const sb = h1.name('sb');
    assert.ok(sb.startsWith(tag), 'sandbox names carry the cluster tag');
    h1.ok('sandbox', 'create', sb, '--net', 'local1');
    assert.deepEqual(h1.addrs(sb)['eth0'], ['10.250.1.2/24']);
    assert.equal(h1.env['NETCTL_CLUSTER_STORE'], `etcd://${ETCD_IP}:2379`);
    assert.deepEqual(c.hosts.map((h) => [h.env['NETCTL_NODE_NAME'], h.env['NETCTL_ADVERTISE_ADDR']]), [['host1', '192.0.2.1'], ['host2', '192.0.2.2'], ['host3', '192.0.2.3']]);
    // The environment reaches netctl's children (seen through `netctl exec` in the sandbox).
    const e = h1.netctl('exec', sb, '--', 'env');
    assert.equal(e.code, 0, e.err);
    assert.match(e.out, /^NETCTL_NODE_NAME=host1$/m);
    assert.match(e.out, /^NETCTL_ADVERTISE_ADDR=192\.0\.2\.1$/m);
    assert.match(e.out, new RegExp(`^NETCTL_CLUSTER_STORE=etcd://${ETCD_IP.replace(/\./g, '\\.')}:2379$`, 'm'));
    const unset = h1.netctlEnv({ NETCTL_CLUSTER_STORE: '' }, 'exec', sb, '--', 'env');
    assert.doesNotMatch(unset.out, /NETCTL_CLUSTER_STORE/, "netctlEnv with '' unsets a variable");
  });

  it('an agent handle can be killed (whatever the agent command does today)', async () => {
    const a = c.startAgent(c.host3);
    await new Promise((r) => setTimeout(r, 300));
    await a.kill();
    assert.equal(a.alive(), false);
  });

  it('cleanup removes every netctl object and leaves nothing behind', async () => {
    assert.ok(c.leaks().length > 0, 'the leak check sees the sandbox and bridge made above');
    await c.etcdStop(); // removeAll must cope with a stopped etcd
    assert.deepEqual(await c.removeAll(), []);
    assert.ok(c.etcdRunning(), 'removeAll restarted etcd');
    for (const h of c.hosts) assert.deepEqual(h.linkNames(), ['lo', UPLINK], `${h.nodeName}: only lo and the underlay`);
    assert.deepEqual(c.namespaces().filter((n) => !c.harnessNamespaces().has(n)), []);
  });
});
