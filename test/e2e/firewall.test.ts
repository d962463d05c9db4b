// docs/reference.md §4 and §11 with real traffic, once per backend (one suite body, parametrised): NAT,
// isolation, ICC, internal networks, published ports (ranges, SCTP), IPv6, gateway modes, the
// hardening (no direct routing into nat networks, loopback-published ports closed to other
// hosts), foreign rules left alone, and recovery after the rules are wiped.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, type FwUnderTest } from '../helpers/firewalls.js';
import { TestHost, isRoot } from '../helpers/host.js';

function suite(fw: FwUnderTest) {
  describe(`firewall (${fw.name}), modes and restore`, { skip: !isRoot && 'needs root' }, () => {
    let h: TestHost;
    let O: string;
    let A: string, B: string, C: string;
    const inHost = (...args: string[]) => h.run('ip', ['-n', h.ns, ...args]);

    before(async () => {
      h = new TestHost();
      fw.choose(h);
      O = h.outside();
      // IPv6 on the uplink as well: host 2001:db8::1, outside 2001:db8::2.
      assert.equal(inHost('addr', 'add', '2001:db8::1/64', 'dev', `${h.tag}x`, 'nodad').code, 0);
      assert.equal(h.run('ip', ['-n', O, 'addr', 'add', '2001:db8::2/64', 'dev', 'eth0', 'nodad']).code, 0);
      assert.equal(h.run('ip', ['-n', O, 'route', 'add', 'default', 'via', '2001:db8::1']).code, 0);
      fw.admin(h);
      [A, B, C] = [h.name('a'), h.name('b'), h.name('c')];
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

    it('publishes a port to the outside and to the host itself; direct routing to the container is dropped', () => {
      assert.equal(
        h.ask(O, '192.0.2.1', 8080),
        '192.0.2.2',
        'outside client reaches B:80 through the host, unmasqueraded',
      );
      assert.equal(h.ask(null, '192.0.2.1', 8080), '192.0.2.1', 'from the host itself');
      // The outside's default route is the host: this is direct routing to the container address.
      assert.equal(h.ask(O, '10.240.1.11', 80), '', 'the container address itself is not reachable from outside');
    });

    it('refuses a host port already published', () => {
      const r = h.netctl('sandbox', 'create', h.name('dup'), '--net', 'frontend', '-p', '8080:81');
      assert.equal(r.code, 1);
      assert.match(r.err, /Bind for 0\.0\.0\.0:8080 failed: port is already allocated/);
    });

    const owns = fw.name === 'iptables' ? 'its own chains, one jump per built-in chain' : 'the one table inet netctl';
    it(`keeps everything in ${owns}`, () => {
      fw.owned(h);
    });

    it("leaves the admin's chains, rules and policies alone", () => {
      fw.addUserRule(h);
      h.ok('create', '--subnet', '10.240.9.0/24', 'scratch');
      h.ok('rm', 'scratch');
      fw.adminIntact(h, true);
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
      assert.equal(
        h.routes(p).some((r) => r.dst === 'default'),
        false,
        'no default route on an internal network',
      );
      assert.equal(h.ask(p, '192.0.2.2', 9000), '');
      assert.equal(h.ping(O, '10.240.4.2'), false);
      assert.equal(fw.masquerades(h, '10.240.4.0/24'), false);
      assert.equal(fw.masquerades(h, '10.240.1.0/24'), true, 'not vacuous');
      h.ok('sandbox', 'rm', p, q);
      h.ok('rm', 'sealed');
    });

    it('IPv6: isolation, published ports, masquerade, no direct routing', async () => {
      h.ok('create', '--ipv6', '--subnet', '10.240.5.0/24', '--subnet', 'fd00:5::/64', 'six');
      h.ok('create', '--ipv6', '--subnet', '10.240.6.0/24', '--subnet', 'fd00:6::/64', 'other6');
      const [x, y, z] = [h.name('x6'), h.name('y6'), h.name('z6')];
      h.ok('sandbox', 'create', x, '--net', 'six', '--ip', '10.240.5.2', '--ip6', 'fd00:5::2', '-p', '8090:80');
      h.ok('sandbox', 'create', y, '--net', 'six', '--ip', '10.240.5.3', '--ip6', 'fd00:5::3');
      h.ok('sandbox', 'create', z, '--net', 'other6', '--ip', '10.240.6.2', '--ip6', 'fd00:6::2');
      await h.serve(x, 80);
      assert.equal(
        h.run('ip', ['netns', 'exec', h.ns, 'cat', '/proc/sys/net/ipv6/conf/all/forwarding']).out.trim(),
        '1',
      );
      assert.ok(h.ping(y, 'fd00:5::2'), 'same network');
      assert.equal(h.ping(z, 'fd00:5::2'), false, 'isolation between networks');
      assert.equal(h.ask(O, '2001:db8::1', 8090), '2001:db8::2', "published on the host's IPv6 address");
      assert.equal(h.ask(O, '192.0.2.1', 8090), '192.0.2.2', 'and on IPv4');
      assert.equal(h.ask(O, 'fd00:5::2', 80), '', "no direct routing to the container's IPv6 address");
      assert.equal(h.ask(x, '2001:db8::2', 9000), '2001:db8::1', 'IPv6 masquerade');
      assert.ok(fw.dnatTo(h, 'fd00:5::2', 80));
      h.ok('sandbox', 'rm', x, y, z);
      assert.equal(fw.mentions(h, 'fd00:5::2'), false, 'the IPv6 port rules went with the sandbox');
      h.ok('rm', 'six', 'other6');
    });

    it('IPv6: enable_icc=false and --internal', () => {
      h.ok(
        'create',
        '--ipv6',
        '--internal',
        '--subnet',
        '10.240.7.0/24',
        '--subnet',
        'fd00:7::/64',
        '-o',
        'com.docker.network.bridge.enable_icc=false',
        'sealed6',
      );
      const [p, q] = [h.name('p6'), h.name('q6')];
      h.ok('sandbox', 'create', p, '--net', 'sealed6', '--ip6', 'fd00:7::2');
      h.ok('sandbox', 'create', q, '--net', 'sealed6', '--ip6', 'fd00:7::3');
      assert.ok(h.ping(p, 'fd00:7::1'), 'the gateway answers');
      assert.equal(h.ping(p, 'fd00:7::3'), false, 'no ICC');
      assert.equal(h.run('ip', ['-n', O, 'route', 'add', 'fd00:7::/64', 'via', '2001:db8::1']).code, 0);
      assert.equal(h.ping(O, 'fd00:7::2'), false, 'nothing enters');
      assert.equal(h.ping(p, '2001:db8::2'), false, 'nothing leaves');
      assert.equal(fw.masquerades(h, 'fd00:7::/64'), false);
      h.ok('sandbox', 'rm', p, q);
      h.ok('rm', 'sealed6');
    });

    it(
      'a port published on a loopback address is unreachable from another host, ' + 'even routed to 127.0.0.1',
      async () => {
        const l = h.name('lo');
        h.ok('create', '--ipv6', '--subnet', '10.240.8.0/24', '--subnet', 'fd00:8::/64', 'loop');
        h.ok(
          'sandbox',
          'create',
          l,
          '--net',
          'loop',
          '--ip',
          '10.240.8.2',
          '--ip6',
          'fd00:8::2',
          '-p',
          '127.0.0.1:8091:80',
          '-p',
          '[::1]:8092:80',
        );
        await h.serve(l, 80);
        assert.equal(h.ask(O, '192.0.2.1', 8091), '', "not through the host's other addresses");
        assert.equal(h.ask(O, '2001:db8::1', 8092), '');
        // The CVE-2025-54410 class: a neighbour sends to 127.0.0.1 with the host as next hop.
        const o = (...a: string[]) => assert.equal(h.run('ip', ['-n', O, ...a]).code, 0, a.join(' '));
        o('rule', 'add', 'pref', '100', 'to', '127.0.0.1', 'lookup', '100');
        o('rule', 'add', 'pref', '200', 'lookup', 'local');
        o('rule', 'del', 'pref', '0');
        o('route', 'add', '127.0.0.1', 'via', '192.0.2.1', 'dev', 'eth0', 'table', '100');
        assert.equal(
          h.run('ip', [
            'netns',
            'exec',
            O,
            'sysctl',
            '-qw',
            'net.ipv4.conf.all.route_localnet=1',
            'net.ipv4.conf.eth0.route_localnet=1',
          ]).code,
          0,
        );
        assert.ok(fw.dnatTo(h, '10.240.8.2', 80), 'the mapping exists');
        assert.equal(h.ask(O, '127.0.0.1', 8091), '', 'a packet to 127.0.0.1 routed to the host goes nowhere');
        h.ok('sandbox', 'rm', l);
        h.ok('rm', 'loop');
      },
    );

    it(
      'port ranges: equal ranges map port by port, a host range takes its first free port; ' + 'bad ranges are refused',
      async () => {
        const [r1, r2, r3] = [h.name('r1'), h.name('r2'), h.name('r3')];
        h.ok('create', '--subnet', '10.240.10.0/24', 'ranges');
        h.ok('sandbox', 'create', r1, '--net', 'ranges', '--ip', '10.240.10.2', '-p', '8100-8102:80-82');
        h.ok('sandbox', 'create', r2, '--net', 'ranges', '--ip', '10.240.10.3', '-p', '8110-8111:80');
        h.ok('sandbox', 'create', r3, '--net', 'ranges', '--ip', '10.240.10.4', '-p', '8110-8111:80');
        await h.serve(r1, 82);
        await h.serve(r3, 80);
        assert.equal(h.ask(O, '192.0.2.1', 8102), '192.0.2.2', '8102 -> 82');
        assert.equal(h.ask(O, '192.0.2.1', 8111), '192.0.2.2', "r3 took 8111, 8110 being r2's");
        const bad = h.netctl('sandbox', 'create', h.name('r4'), '--net', 'ranges', '-p', '8120-8123:80-81');
        assert.equal(bad.code, 125);
        assert.match(
          bad.err,
          /invalid published port "8120-8123:80-81": host ports 8120-8123 and container ports 80-81 differ in length/,
        );
        const full = h.netctl('sandbox', 'create', h.name('r5'), '--net', 'ranges', '-p', '8110-8111:80');
        assert.equal(full.code, 1);
        assert.match(full.err, /Bind for 0\.0\.0\.0:8110-8111 failed: every port of the range is already allocated/);
        const taken = h.netctl('sandbox', 'create', h.name('r6'), '--net', 'ranges', '-p', '8099-8100:79-80');
        assert.equal(taken.code, 1);
        assert.match(taken.err, /Bind for 0\.0\.0\.0:8100 failed: port is already allocated/);
        assert.equal(h.netnsExists(h.name('r6')), false, 'nothing half done');
        h.ok('sandbox', 'rm', r1, r2, r3);
        h.ok('rm', 'ranges');
      },
    );

    it('SCTP published ports get their rules (the kernel here has no SCTP sockets to carry traffic)', () => {
      const s = h.name('sctp');
      h.ok('sandbox', 'create', s, '--net', 'frontend', '--ip', '10.240.2.30', '-p', '8130:80/sctp');
      assert.ok(fw.publishes(h, 'sctp', 8130));
      assert.equal(fw.publishes(h, 'tcp', 8130), false);
      h.ok('sandbox', 'rm', s);
      assert.equal(fw.publishes(h, 'sctp', 8130), false);
    });

    it(
      'gateway modes: ' + 'routed (no NAT, the published container port open to routing), nat-unprotected, isolated',
      async () => {
        const [r, u, i] = [h.name('gr'), h.name('gu'), h.name('gi')];
        h.ok(
          'create',
          '--subnet',
          '10.240.11.0/24',
          '-o',
          'com.docker.network.bridge.gateway_mode_ipv4=routed',
          'routed',
        );
        h.ok(
          'create',
          '--subnet',
          '10.240.12.0/24',
          '-o',
          'com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected',
          'unprot',
        );
        h.ok('sandbox', 'create', r, '--net', 'routed', '--ip', '10.240.11.2', '-p', '8140:80');
        h.ok('sandbox', 'create', u, '--net', 'unprot', '--ip', '10.240.12.2');
        for (const port of [80, 81]) await h.serve(r, port);
        await h.serve(u, 81);
        assert.equal(h.ask(O, '10.240.11.2', 80), '192.0.2.2', 'routed: the published container port, directly');
        assert.equal(h.ask(O, '10.240.11.2', 81), '', 'routed: an unpublished port stays closed');
        assert.equal(h.ask(O, '192.0.2.1', 8140), '', 'routed: the host port is not used');
        assert.equal(h.ask(r, '192.0.2.2', 9000), '10.240.11.2', 'routed: no masquerade');
        assert.equal(h.ask(O, '10.240.12.2', 81), '192.0.2.2', 'nat-unprotected: direct routing to any port');
        assert.equal(h.ask(u, '192.0.2.2', 9000), '192.0.2.1', 'nat-unprotected: still masqueraded');
        const noInternal = h.netctl(
          'create',
          '--subnet',
          '10.240.13.0/24',
          '-o',
          'com.docker.network.bridge.gateway_mode_ipv4=isolated',
          'iso',
        );
        assert.equal(noInternal.code, 1);
        assert.match(
          noInternal.err,
          /network iso: gateway mode isolated \(com\.docker\.network\.bridge\.gateway_mode_ipv4\) needs --internal/,
        );
        const badMode = h.netctl('create', '-o', 'com.docker.network.bridge.gateway_mode_ipv6=open', 'iso');
        assert.equal(badMode.code, 1);
        assert.match(badMode.err, /failed to parse com\.docker\.network\.bridge\.gateway_mode_ipv6 value: open/);
        h.ok(
          'create',
          '--internal',
          '--subnet',
          '10.240.13.0/24',
          '-o',
          'com.docker.network.bridge.gateway_mode_ipv4=isolated',
          'iso',
        );
        const [i2] = [h.name('gi2')];
        h.ok('sandbox', 'create', i, '--net', 'iso', '--ip', '10.240.13.2');
        h.ok('sandbox', 'create', i2, '--net', 'iso', '--ip', '10.240.13.3');
        assert.ok(h.ping(i, '10.240.13.3'), 'peers talk');
        const id = (JSON.parse(h.ok('inspect', 'iso')) as Array<{ Id: string }>)[0]?.Id.slice(0, 12) ?? '';
        assert.deepEqual(
          h.addrs(h.ns)[`nc-${id}`] ?? [],
          ['10.240.13.1/32'],
          "no gateway address on the bridge: only the /32 netctl's resolver answers DNS on (§14)",
        );
        assert.ok(
          h.links().some((l) => l.ifname === `nc-${id}`),
          'not vacuous: the bridge exists',
        );
        assert.equal(h.ping(i, '10.240.13.1'), false, 'nothing but DNS answers at the gateway address');
        assert.deepEqual(
          h
            .netctl('doctor')
            .out.split('\n')
            .filter((l) => l.startsWith('drift:')),
          [],
          'doctor expects no gateway address',
        );
        h.ok('sandbox', 'rm', r, u, i, i2);
        h.ok('rm', 'routed', 'unprot', 'iso');
      },
    );

    it('host mode shares the host namespace and cannot be connected', () => {
      const s = h.name('hostmode');
      h.ok('sandbox', 'create', s, '--net', 'host');
      assert.equal(h.netnsExists(s), false);
      const r = h.netctl('exec', s, '--', 'ip', '-o', 'link', 'show', `${h.tag}x`);
      assert.equal(r.code, 0, r.err);
      const c = h.netctl('connect', 'backend', s);
      assert.equal(c.code, 1);
      assert.match(
        c.err,
        /container sharing network namespace with another container or host cannot be connected to any other network/,
      );
      h.ok('sandbox', 'rm', s);
    });

    it("container mode shares another sandbox's addresses", () => {
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
      assert.ok(fw.dnatTo(h, '10.240.2.11', 80));
      assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2');
      h.ok('sandbox', 'stop', B);
      assert.equal(fw.mentions(h, '10.240.2.11'), false, 'port rules gone with the sandbox');
      assert.equal(h.ask(O, '192.0.2.1', 8080), '');
      h.ok('sandbox', 'start', B);
      assert.ok(fw.mentions(h, '10.240.2.11'));
    });

    it(
      'after the rules are wiped and a bridge deleted, doctor reports it and restore brings traffic back, ' +
        'idempotently',
      async () => {
        await h.serve(B, 80);
        // The incremental updates so far must have produced exactly what a full rewrite produces.
        const incremental = fw.rules(h);
        const bridge =
          h.links().find((l) => l.ifname.startsWith('nc-') && h.links().some((v) => v.master === l.ifname))?.ifname ??
          '';
        fw.wipe(h);
        assert.equal(inHost('link', 'del', bridge).code, 0);
        assert.equal(h.ping(A, '10.240.1.11'), false);
        const d = h.netctl('doctor');
        assert.equal(d.code, 1);
        assert.match(d.out, new RegExp(`^firewall backend: ${fw.name}$`, 'm'));
        assert.match(d.out, /^drift: firewall: /m);
        assert.equal(
          h.ok('inspect', 'backend', '-f', '{{.Status.Firewall.Backend}}'),
          `${fw.name}\n`,
          'inspect names the backend too',
        );
        const out = h.ok('restore');
        assert.match(out, new RegExp(`restored bridge ${bridge}`));
        assert.ok(h.ping(A, '10.240.1.11'), 'bridge traffic back');
        assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2', 'published port back');
        assert.equal(h.ask(A, '192.0.2.2', 9000), '192.0.2.1', 'masquerade back');
        assert.equal(h.ping(A, '10.240.2.12'), false, 'isolation back');
        assert.equal(h.ask(O, '10.240.1.11', 80), '', 'direct routing dropped again');
        assert.deepEqual(fw.rules(h), incremental, 'full rewrite == the sum of incremental changes');
        const links = JSON.stringify(h.links());
        const rules = fw.rules(h);
        assert.equal(h.ok('restore'), '', 'second restore repairs nothing');
        assert.equal(JSON.stringify(h.links()), links);
        assert.deepEqual(fw.rules(h), rules);
        assert.equal(h.netctl('doctor').code, 0, 'doctor finds nothing');
      },
    );
  });
}

for (const fw of BACKENDS) suite(fw);

describe('switching the firewall backend', { skip: !isRoot && 'needs root' }, () => {
  it("restore under the new backend removes the old one's rules; traffic keeps flowing both ways round", async () => {
    const [ipt, nft] = BACKENDS as [FwUnderTest, FwUnderTest];
    const h = new TestHost();
    try {
      const O = h.outside();
      ipt.choose(h);
      const s = h.name('sw');
      h.ok('create', '--subnet', '10.241.1.0/24', 'sw');
      h.ok('sandbox', 'create', s, '--net', 'sw', '--ip', '10.241.1.2', '-p', '8080:80');
      await h.serve(s, 80);
      assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2');
      for (const [from, to] of [
        [ipt, nft],
        [nft, ipt],
      ] as const) {
        to.choose(h);
        const d = h.netctl('doctor');
        assert.match(d.out, new RegExp(`^firewall backend: ${to.name}$`, 'm'));
        assert.match(d.out, new RegExp(`drift: firewall: ${from.name}.* is left from the other backend`));
        h.ok('restore');
        assert.equal(from.present(h), false, `${from.name} rules removed`);
        assert.ok(to.present(h));
        assert.equal(h.ask(O, '192.0.2.1', 8080), '192.0.2.2', `published port under ${to.name}`);
        assert.equal(h.ask(O, '10.241.1.2', 80), '', 'direct routing still dropped');
        assert.equal(h.netctl('doctor').code, 0);
      }
      process.env['NETCTL_FIREWALL_BACKEND'] = 'pf';
      try {
        const bad = h.netctl('create', 'never');
        assert.equal(bad.code, 1);
        assert.match(bad.err, /invalid firewall backend "pf" in NETCTL_FIREWALL_BACKEND: iptables or nftables/);
      } finally {
        delete process.env['NETCTL_FIREWALL_BACKEND'];
      }
    } finally {
      assert.deepEqual(h.cleanup(), [], 'nothing leaked');
    }
  });
});
