// The cluster store over mutual TLS (docs/reference.md §10): a real etcd started with
// --client-cert-auth and certificates the test makes with openssl. Every host's environment
// names its client certificate (NETCTL_CLUSTER_STORE_OPTS); the cases below override it.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cluster, STORE_URL, type Certs } from '../helpers/cluster.js';
import { hasEntriesFor, peerOf, sbAddr } from '../helpers/overlay.js';

const isRoot = process.getuid?.() === 0;

describe('cluster store over mutual TLS', { skip: !isRoot && 'needs root' }, () => {
  let c: Cluster;
  let certs: Certs;
  const net = 'tlsnet';

  before(async () => {
    c = await Cluster.start({ tls: true });
    certs = c.certs as Certs;
  });

  after(async () => {
    if (!c) return;
    const left = await c.removeAll();
    await c.destroy();
    assert.deepEqual(left, [], 'nothing leaked');
  });

  /** The first line of stderr and the exit code, and how long the command took. */
  const timed = (env: Record<string, string>, ...args: string[]) => {
    const t0 = Date.now();
    const r = c.host2.netctlEnv(env, ...args);
    return { ...r, ms: Date.now() - t0, line: r.err.split('\n')[0] ?? '' };
  };

  it('mutual TLS from the environment: an overlay is created and every host sees it', () => {
    c.host1.ok('create', '-d', 'overlay', '--subnet', '10.241.0.0/24', net);
    assert.match(c.keyspace(), new RegExp(`"name":"${net}"`), 'the network is in etcd');
    assert.match(c.host3.ok('ls'), new RegExp(`\\b${net}\\b +overlay +global`));
  });

  it('the flag takes the options as the environment does, and wins over it option by option', () => {
    // The environment names a client certificate etcd does not know; the flag the right one.
    const env = { NETCTL_CLUSTER_STORE_OPTS: certs.opts(certs.stranger) };
    const r = c.host2.netctlEnv(
      env,
      '--cluster-store-opt',
      `kv.certfile=${certs.client.cert}`,
      '--cluster-store-opt',
      `kv.keyfile=${certs.client.key}`,
      'inspect',
      net,
      '-f',
      '{{.Scope}}',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'global\n');
  });

  it("commands speak etcd's JSON gateway: no gRPC is loaded", () => {
    const r = c.host2.netctlEnv({ NETCTL_TRACE: '1' }, 'inspect', net, '-f', '{{.Scope}}');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'global\n');
    assert.match(r.err, /trace: .* exit/, 'the trace was printed');
    assert.doesNotMatch(r.err, /loading etcd3/);
  });

  it('a server certificate not for client authentication (no gateway): commands go through gRPC', async () => {
    await c.etcdStop();
    await c.etcdStart(certs.serverOnly);
    try {
      const r = c.host2.netctlEnv({ NETCTL_TRACE: '1' }, 'inspect', net, '-f', '{{.Scope}}');
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'global\n');
      assert.match(r.err, /loading etcd3/, 'the gateway was refused and gRPC taken');
      const sb = c.host2.name('tlsgrpc');
      c.host2.ok('sandbox', 'create', sb, '--net', net);
      assert.ok(sbAddr(c.host2, sb, '10.241.0.0/24'), 'an address claimed through gRPC');
      c.host2.ok('sandbox', 'rm', sb);
    } finally {
      await c.etcdStop();
      await c.etcdStart();
    }
  });

  it("etcd's auth: a user and password, or the client certificate's CN; a wrong password refused", () => {
    const etcdctl = (...args: string[]) => {
      const r = c.etcdctl(...args);
      assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.err}`);
    };
    const pw = join(c.dataDir, 'pki', 'root.pw');
    const wrong = join(c.dataDir, 'pki', 'wrong.pw');
    writeFileSync(pw, 'rootpw\n', { mode: 0o600 });
    writeFileSync(wrong, 'nope\n', { mode: 0o600 });
    etcdctl('user', 'add', 'root:rootpw');
    etcdctl('user', 'grant-role', 'root', 'root');
    etcdctl('user', 'add', 'client:clientpw'); // the CN of the hosts' client certificate
    etcdctl('user', 'grant-role', 'client', 'root');
    etcdctl('auth', 'enable');
    try {
      const as = (file: string) => ({
        NETCTL_TRACE: '1',
        NETCTL_CLUSTER_STORE_OPTS: `${certs.opts(certs.client)},kv.username=root,kv.password-file=${file}`,
      });
      const user = timed(as(pw), 'inspect', net, '-f', '{{.Scope}}');
      assert.equal(user.code, 0, user.err);
      assert.equal(user.out, 'global\n');
      // etcd's gateway refuses any request carrying a client certificate once auth is on: gRPC.
      assert.match(user.err, /loading etcd3/);
      const cn = timed({ NETCTL_TRACE: '1' }, 'inspect', net, '-f', '{{.Scope}}');
      assert.equal(cn.code, 0, cn.err);
      assert.equal(cn.out, 'global\n');
      assert.match(cn.err, /loading etcd3/);
      const bad = timed(as(wrong), 'inspect', net);
      assert.equal(bad.code, 1);
      assert.match(bad.line, new RegExp(`^Error: cluster store ${STORE_URL}: authentication: .*authentication failed`));
      assert.ok(bad.ms < 5000, `took ${bad.ms} ms`);
    } finally {
      etcdctl('--user', 'root:rootpw', 'auth', 'disable');
      etcdctl('user', 'delete', 'client');
      etcdctl('user', 'delete', 'root');
    }
  });

  it('refusals name TLS, come within 5 s, exit 1 and change nothing', () => {
    const before = c.keyspace();
    const cases: Array<[string, Record<string, string>]> = [
      ['no TLS options', { NETCTL_CLUSTER_STORE_OPTS: '' }],
      ['a CA that did not sign etcd', { NETCTL_CLUSTER_STORE_OPTS: `kv.cacertfile=${certs.otherCa}` }],
      ['no client certificate', { NETCTL_CLUSTER_STORE_OPTS: `kv.cacertfile=${certs.ca}` }],
      ['a client certificate of another CA', { NETCTL_CLUSTER_STORE_OPTS: certs.opts(certs.stranger) }],
    ];
    for (const [what, env] of cases) {
      const r = timed(env, 'create', '-d', 'overlay', '--subnet', '10.242.0.0/24', 'tlsnope');
      assert.equal(r.code, 1, `${what}: ${r.err}`);
      assert.ok(r.line.startsWith(`Error: cluster store ${STORE_URL}: TLS: `), `${what}: ${r.line}`);
      assert.ok(r.ms < 5000, `${what}: took ${r.ms} ms`);
    }
    assert.equal(c.keyspace(), before, 'etcd unchanged');
    assert.doesNotMatch(c.host2.ok('ls'), /tlsnope/);
  });

  it('a key file readable by others is refused, naming it', () => {
    const key = join(c.dataDir, 'pki', 'client-open.key');
    copyFileSync(certs.client.key, key);
    chmodSync(key, 0o644);
    const env = {
      NETCTL_CLUSTER_STORE_OPTS: `kv.cacertfile=${certs.ca},kv.certfile=${certs.client.cert},kv.keyfile=${key}`,
    };
    const r = timed(env, 'create', '-d', 'overlay', '--subnet', '10.242.0.0/24', 'tlsnope');
    assert.equal(r.code, 1);
    assert.equal(r.line, `Error: kv.keyfile ${key} is readable by group or others`);
    const bad = timed({ NETCTL_CLUSTER_STORE_OPTS: 'kv.cafile=/x' }, 'inspect', net);
    assert.equal(bad.code, 1);
    assert.match(bad.line, /unknown cluster store option "kv\.cafile" in NETCTL_CLUSTER_STORE_OPTS/);
  });

  it('the agent takes the same options: a new endpoint on one host is reached from another within 2 s', async () => {
    const [a1, a2] = [c.startAgent(c.host1), c.startAgent(c.host2)];
    const [s1, s2] = [c.host1.name('tls1'), c.host2.name('tls2')];
    c.host1.ok('sandbox', 'create', s1, '--net', net);
    c.host2.ok('sandbox', 'create', s2, '--net', net);
    const ip2 = sbAddr(c.host2, s2, '10.241.0.0/24') ?? assert.fail('no address on host2');
    const p2 = peerOf(c.host2, s2, '10.241.0.0/24');
    // host1 learns of host2's endpoint through its agent's watch, not through a command of its own.
    const id = JSON.parse(c.host1.ok('inspect', net, '-f', '{{json .Id}}')) as string;
    assert.ok(await c.host1.until(() => hasEntriesFor(c.host1, id, p2), 2000), `agent output: ${a1.output()}`);
    assert.ok(c.host1.ping(s1, ip2));
    assert.ok(a1.alive() && a2.alive(), `${a1.output()}${a2.output()}`);
    assert.doesNotMatch(a1.output() + a2.output(), /TLS|unreachable/);
    await c.stopAgents();
    c.host1.ok('sandbox', 'rm', s1);
    c.host2.ok('sandbox', 'rm', s2);
  });
});
