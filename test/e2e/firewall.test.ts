// SPEC §4 with real traffic: NAT, isolation, ICC, internal networks, published ports, modes,
// foreign rules left alone, and restore after the tables are wiped and a bridge deleted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot } from '../helpers/host.js';

describe('firewall, modes and restore', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let O: string;
  let A: string, B: string, C: string;

  before(async () => {
    h = new TestHost();
    O = h.outside();
    [A, B, C] = [h.name('a'), h.name('b'), h.name('c')];
    // An administrator's own state that netctl must not touch.
    assert.equal(h.iptables('-P', 'FORWARD', 'DROP').code, 0);
    assert.equal(h.iptables('-N', 'ADMIN').code, 0);
    assert.equal(h.iptables('-A', 'ADMIN', '-s', '203.0.113.0/24', '-j', 'DROP').code, 0);
    assert.equal(h.iptables('-A', 'INPUT', '-j', 'ADMIN').code, 0);
    h.ok('create', '--subnet', '10.240.1.0/24', 'backend');
    h.ok('create', '--subnet', '10.240.2.0/24', 'frontend');
    h.ok('sandbox', 'create', A, '--net', 'backend', '--ip', '10.240.1.10');
    h.ok('sandbox', 'create', B, '--net', 'backend', '--ip', '10.240.1.11', '-p', '8080:80');
    h.ok('connect', 'frontend', B, '--ip', '10.240.2.11');
    h.ok('sandbox', 'create', C, '--net', 'frontend', '--ip', '10.240.2.12');
    await h.serve(O, 9000);
    await h.serve(B, 80);
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  it('isolates networks: A<->B and B<->C work, A<->C does not (forwarding is on)', () => {
    assert.ok(h.ping(A, '10.240.1.11'));
    assert.ok(h.ping(C, '10.240.2.11'));
    assert.equal(h.ping(A, '10.240.2.12'), false);
    assert.equal(h.ping(C, '10.240.1.10'), false);
    assert.equal(h.run('ip', ['netns', 'exec', h.ns, 'cat', '/proc/sys/net/ipv4/ip_forward']).out.trim(), '1');
  });

  it('masquerades outbound traffic: the outside sees the host address', () => {
    assert.equal(h.ask(A, '192.0.2.2', 9000), '192.0.2.1');
  });

  it('publishes a port to the outside and to the host itself', () => {
    assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2', 'outside client reaches B:80 through the host, unmasqueraded');
    assert.equal(h.ask(null, '192.0.2.1', 8080), '192.0.2.1', 'from the host itself');
    assert.equal(h.ask(O, '10.240.1.11', 80), '', 'the container address itself is not reachable from outside');
  });

  it('refuses a host port already published', () => {
    const r = h.netctl('sandbox', 'create', h.name('dup'), '--net', 'frontend', '-p', '8080:81');
    assert.equal(r.code, 1);
    assert.match(r.err, /Bind for 0\.0\.0\.0:8080 failed: port is already allocated/);
  });

  it('tags every netctl rule and keeps one jump per built-in chain', () => {
    const save = h.iptablesSave();
    const ours = save.split('\n').filter((l) => /NETCTL|netctl/.test(l) && l.startsWith('-A'));
    assert.ok(ours.length > 10);
    for (const l of ours) assert.match(l, /--comment "?netctl:(base|[0-9a-f]{12})"?/, l);
    for (const ch of ['FORWARD', 'PREROUTING', 'OUTPUT', 'POSTROUTING']) {
      assert.equal(save.split('\n').filter((l) => l.startsWith(`-A ${ch} `) && l.includes('-j NETCTL')).length, 1, ch);
    }
    assert.match(save, /-A NETCTL-USER .*-j RETURN/);
  });

  it('leaves the admin\'s chains, rules and policies alone', () => {
    assert.equal(h.iptables('-A', 'NETCTL-USER', '-s', '198.51.100.0/24', '-j', 'DROP').code, 0);
    h.ok('create', '--subnet', '10.240.9.0/24', 'scratch');
    h.ok('rm', 'scratch');
    const save = h.iptablesSave();
    assert.match(save, /:FORWARD DROP/);
    assert.match(save, /-A ADMIN -s 203\.0\.113\.0\/24 -j DROP/);
    assert.match(save, /-A INPUT -j ADMIN/);
    assert.match(save, /-A NETCTL-USER -s 198\.51\.100\.0\/24 -j DROP/);
  });

  it('enable_icc=false: peers blocked, the gateway answers', () => {
    h.ok('create', '--subnet', '10.240.3.0/24', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc');
    const [p, q] = [h.name('p'), h.name('q')];
    h.ok('sandbox', 'create', p, '--net', 'noicc', '--ip', '10.240.3.2');
    h.ok('sandbox', 'create', q, '--net', 'noicc', '--ip', '10.240.3.3');
    assert.equal(h.ping(p, '10.240.3.3'), false);
    assert.ok(h.ping(p, '10.240.3.1'));
    h.ok('sandbox', 'rm', p, q);
    h.ok('rm', 'noicc');
  });

  it('--internal: nothing leaves or enters, peers inside still talk', () => {
    h.ok('create', '--subnet', '10.240.4.0/24', '--internal', 'sealed');
    const [p, q] = [h.name('ip'), h.name('iq')];
    h.ok('sandbox', 'create', p, '--net', 'sealed', '--ip', '10.240.4.2');
    h.ok('sandbox', 'create', q, '--net', 'sealed', '--ip', '10.240.4.3');
    assert.ok(h.ping(p, '10.240.4.3'));
    assert.equal(h.routes(p).some((r) => r.dst === 'default'), false, 'no default route on an internal network');
    assert.equal(h.ask(p, '192.0.2.2', 9000), '');
    assert.equal(h.run('ip', ['-n', O, 'route', 'add', '10.240.4.0/24', 'via', '192.0.2.1']).code, 0);
    assert.equal(h.ping(O, '10.240.4.2'), false);
    assert.doesNotMatch(h.iptablesSave(), /-s 10\.240\.4\.0\/24 .*MASQUERADE/);
    h.ok('sandbox', 'rm', p, q);
    h.ok('rm', 'sealed');
  });

  it('host mode shares the host namespace and cannot be connected', () => {
    const s = h.name('hostmode');
    h.ok('sandbox', 'create', s, '--net', 'host');
    assert.equal(h.netnsExists(s), false);
    const r = h.netctl('exec', s, '--', 'ip', '-o', 'link', 'show', `${h.tag}x`);
    assert.equal(r.code, 0, r.err);
    const c = h.netctl('connect', 'backend', s);
    assert.equal(c.code, 1);
    assert.match(c.err, /container sharing network namespace with another container or host cannot be connected to any other network/);
    h.ok('sandbox', 'rm', s);
  });

  it('container mode shares another sandbox\'s addresses', () => {
    const s = h.name('side');
    h.ok('sandbox', 'create', s, '--net', `container:${A}`);
    const r = h.netctl('exec', s, '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    assert.match(r.out, /10\.240\.1\.10\/24/);
    assert.match(h.netctl('connect', 'frontend', s).err, /cannot be connected to any other network/);
    const rm = h.netctl('sandbox', 'rm', A);
    assert.equal(rm.code, 1);
    assert.match(rm.err, new RegExp(`container ${A} is in use by ${s}`));
    h.ok('sandbox', 'rm', s);
  });

  it('the published port follows the gateway endpoint and goes with the sandbox', () => {
    // B's default route is via backend; with a higher priority frontend takes over.
    h.ok('disconnect', 'frontend', B);
    h.ok('connect', 'frontend', B, '--ip', '10.240.2.11', '--gw-priority', '10');
    assert.equal(h.routes(B).find((r) => r.dst === 'default')?.gateway, '10.240.2.1');
    assert.match(h.iptablesSave(), /DNAT --to-destination 10\.240\.2\.11:80/);
    assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2');
    const id12 = (JSON.parse(h.ok('sandbox', 'inspect', B)) as Array<{ Id: string }>)[0]?.Id.slice(0, 12) ?? '';
    h.ok('sandbox', 'stop', B);
    assert.doesNotMatch(h.iptablesSave(), new RegExp(`netctl:${id12}`), 'port rules gone with the sandbox');
    assert.equal(h.ask(O, '192.0.2.1', 8080), '');
    h.ok('sandbox', 'start', B);
    assert.match(h.iptablesSave(), new RegExp(`netctl:${id12}`));
  });

  it('restore brings traffic back after the tables are wiped and a bridge deleted, and is idempotent', async () => {
    await h.serve(B, 80);
    // The incremental updates so far must have produced exactly what a full rewrite produces.
    const sortedRules = () => h.iptablesSave().split('\n').filter((l) => l.startsWith('-A ') && l.includes('netctl:')).sort();
    const incremental = sortedRules();
    const bridge = h.links().find((l) => l.ifname.startsWith('nc-') && h.links().some((v) => v.master === l.ifname))?.ifname ?? '';
    for (const t of ['filter', 'nat']) {
      assert.equal(h.iptables('-t', t, '-F').code, 0);
      assert.equal(h.iptables('-t', t, '-X').code, 0);
    }
    assert.equal(h.run('ip', ['-n', h.ns, 'link', 'del', bridge]).code, 0);
    assert.equal(h.ping(A, '10.240.1.11'), false);
    const out = h.ok('restore');
    assert.match(out, new RegExp(`restored bridge ${bridge}`));
    assert.ok(h.ping(A, '10.240.1.11'), 'bridge traffic back');
    assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2', 'published port back');
    assert.equal(h.ask(A, '192.0.2.2', 9000), '192.0.2.1', 'masquerade back');
    assert.equal(h.ping(A, '10.240.2.12'), false, 'isolation back');
    assert.deepEqual(sortedRules(), incremental, 'full rewrite == the sum of incremental changes');
    const links = JSON.stringify(h.links());
    const rules = h.iptablesSave().replace(/^#.*$/gm, '');
    assert.equal(h.ok('restore'), '', 'second restore repairs nothing');
    assert.equal(JSON.stringify(h.links()), links);
    assert.equal(h.iptablesSave().replace(/^#.*$/gm, ''), rules);
  });
});
