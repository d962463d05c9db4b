// docs/reference.md §10 macvlan on real namespaces. The "LAN" is a veth pair made by the test: one end
// (<tag>p) is the parent interface in the test host, the other end is eth0 of a foreign netns
// with 198.51.100.254/24 (the LAN's router, used as the network's gateway). Every endpoint must
// be a macvlan child of the parent made inside the sandbox, with no bridge, no veth in the host
// and no firewall rule; the parent itself is never changed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

interface DetailedLink {
  ifname: string;
  ifindex: number;
  link_index?: number;
  link_netnsid?: number;
  address: string;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
}

describe('macvlan networks end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let P: string; // the parent interface, in the test host
  let lanNs: string; // the other end of the LAN, 198.51.100.254
  let A: string, B: string, C: string, S: string;
  let lanId: string;
  let brId: string;
  let parentBefore: ReturnType<typeof parentState>;
  const LAN_GW = '198.51.100.254';

  const mustRun = (args: string[]) => {
    const r = run('ip', args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.err}`);
  };

  /** What the kernel shows of the parent; rm / failed creates must leave all of it as it was. */
  const parentState = () => {
    const l = h.links().find((x) => x.ifname === P);
    const d = h.ipj<Array<{ linkinfo?: { info_kind?: string } }>>(null, '-d', 'link', 'show', 'dev', P)[0];
    return (
      l && {
        address: l.address,
        up: l.flags.includes('UP'),
        master: l.master ?? null,
        mtu: l.mtu,
        kind: d?.linkinfo?.info_kind,
      }
    );
  };

  /** The host's link names; netctl0 (the predefined bridge, made on first use) left out. */
  const hostLinkNames = () =>
    h
      .links()
      .map((l) => l.ifname)
      .filter((n) => n !== 'netctl0')
      .sort();

  /** `ip -j -d link show dev IF` inside a namespace. */
  const detail = (ns: string, ifname: string): DetailedLink | undefined =>
    h.ipj<DetailedLink[]>(ns, '-d', 'link', 'show').find((l) => l.ifname === ifname);

  /** iptables-save of the test host (empty if no table was ever loaded), counters and comments left out. */
  const rules = () =>
    run('ip', ['netns', 'exec', h.ns, 'iptables-save'])
      .out.replace(/^#.*$/gm, '')
      .replace(/\[\d+:\d+\]/g, '');

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inspect = (name: string) => (JSON.parse(h.ok('inspect', name)) as Array<Record<string, any>>)[0];

  /** A macvlan endpoint as the kernel shows it: a child of P in `mode`, with its address and default route. */
  const assertMacvlanEndpoint = (ns: string, ifname: string, cidr: string, gateway: string, mode = 'bridge') => {
    const l = h.links(ns).find((x) => x.ifname === ifname);
    assert.ok(l, `${ifname} exists in ${ns}`);
    assert.equal(l.link_type, 'ether');
    assert.ok(l.flags.includes('UP'), `${ifname} is up`);
    assert.equal(l.master, undefined, 'not enslaved to anything');
    const d = detail(ns, ifname);
    assert.equal(d?.linkinfo?.info_kind, 'macvlan', `${ifname} in ${ns} is a macvlan device`);
    assert.equal(d?.linkinfo?.info_data?.mode, mode, `macvlan mode ${mode}`);
    // Its lower device lives in another namespace (the test host) and has P's ifindex.
    const parentIndex = h.ipj<DetailedLink[]>(null, 'link', 'show', 'dev', P)[0]?.ifindex;
    assert.notEqual(d?.link_netnsid, undefined, 'lower device in another namespace');
    assert.equal(d?.link_index, parentIndex, `lower device is ${P}`);
    assert.notEqual(l.address, parentBefore?.address, "own MAC, not the parent's");
    assert.deepEqual(h.addrs(ns)[ifname], [cidr]);
    const def = h.routes(ns).find((r) => r.dst === 'default');
    assert.equal(def?.gateway, gateway, 'default route via the gateway on the LAN');
    assert.equal(def?.dev, ifname);
  };

  before(() => {
    h = new TestHost();
    [A, B, C, S] = [h.name('a'), h.name('b'), h.name('c'), h.name('s')];
    P = `${h.tag}p`;
    assert.ok(Buffer.byteLength(P) <= 15);
    lanNs = h.name('lan');
    h.foreignNetns(lanNs);
    mustRun(['-n', h.ns, 'link', 'add', P, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lanNs]);
    h.foreignLinks.add(P);
    h.foreignLinks.add(`${lanNs}/eth0`);
    mustRun(['-n', h.ns, 'link', 'set', P, 'up']);
    mustRun(['-n', lanNs, 'link', 'set', 'lo', 'up']);
    mustRun(['-n', lanNs, 'addr', 'add', `${LAN_GW}/24`, 'dev', 'eth0']);
    mustRun(['-n', lanNs, 'link', 'set', 'eth0', 'up']);
    // A bridge network with one sandbox: the parents that must be refused, and firewall rules to compare.
    brId = h.ok('create', '--subnet', '10.251.7.0/24', 'br').trim();
    h.ok('sandbox', 'create', S, '--net', 'br');
    parentBefore = parentState();
    assert.deepEqual(parentBefore, { address: parentBefore?.address, up: true, master: null, mtu: 1500, kind: 'veth' });
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  it('create: driver macvlan, no bridge, no firewall rule, nothing on the host, parent untouched', () => {
    const linksBefore = hostLinkNames();
    lanId = h
      .ok('create', '-d', 'macvlan', '-o', `parent=${P}`, '--subnet', '198.51.100.0/24', '--gateway', LAN_GW, 'lan')
      .trim();
    assert.match(lanId, /^[0-9a-f]{64}$/);
    assert.deepEqual(hostLinkNames(), linksBefore, 'no device made in the host (no bridge)');
    assert.equal(
      h.links().some((l) => l.ifname === `nc-${lanId.slice(0, 12)}`),
      false,
    );
    assert.doesNotMatch(rules(), new RegExp(`netctl:${lanId.slice(0, 12)}`), 'no iptables rule for the network');
    assert.match(
      rules(),
      new RegExp(`netctl:${brId.slice(0, 12)}`),
      'the bridge network does have rules (the check above can see them)',
    );
    assert.equal(
      Object.values(h.addrs(h.ns))
        .flat()
        .some((a) => a.startsWith('198.51.100.')),
      false,
      'the host has no address of the subnet',
    );
    assert.equal(
      h.routes(h.ns).some((r) => r.dst === '198.51.100.0/24'),
      false,
      'nor a route to it',
    );
    assert.deepEqual(parentState(), parentBefore, 'parent unchanged');
    const nw = inspect('lan');
    assert.equal(nw?.['Driver'], 'macvlan');
    assert.equal(nw?.['Options']?.parent, P);
    assert.equal(nw?.['IPAM']?.Config?.[0]?.Subnet, '198.51.100.0/24');
    assert.equal(nw?.['IPAM']?.Config?.[0]?.Gateway, LAN_GW);
    assert.equal(h.ok('ls', '--format', '{{.Name}} {{.Driver}}', '-f', 'driver=macvlan'), 'lan macvlan\n');
  });

  it(
    'each endpoint is a macvlan child of the parent made inside the sandbox as eth0, ' +
      'with address and default route',
    () => {
      const linksBefore = hostLinkNames();
      h.ok('sandbox', 'create', A, '--net', 'lan');
      h.ok('sandbox', 'create', B, '--net', 'lan', '--ip', '198.51.100.50');
      assert.deepEqual(hostLinkNames(), linksBefore, 'no veth (nor anything else) left in the host');
      assertMacvlanEndpoint(A, 'eth0', '198.51.100.1/24', LAN_GW);
      assertMacvlanEndpoint(B, 'eth0', '198.51.100.50/24', LAN_GW);
      assert.deepEqual(
        h
          .links(A)
          .map((l) => l.ifname)
          .sort(),
        ['eth0', 'lo'],
      );
      assert.notEqual(
        h.links(A).find((l) => l.ifname === 'eth0')?.address,
        h.links(B).find((l) => l.ifname === 'eth0')?.address,
        'distinct MACs',
      );
      assert.doesNotMatch(rules(), new RegExp(`netctl:${lanId.slice(0, 12)}`), 'still no iptables rule');
      assert.deepEqual(parentState(), parentBefore, 'parent unchanged');
      const names = Object.values(
        inspect('lan')?.['Containers'] as Record<string, { Name: string; IPv4Address: string }>,
      )
        .map((c) => `${c.Name}=${c.IPv4Address}`)
        .sort();
      assert.deepEqual(names, [`${A}=198.51.100.1/24`, `${B}=198.51.100.50/24`].sort());
    },
  );

  it('bridge mode: sandboxes reach each other and the LAN, over the parent', () => {
    assert.ok(h.ping(A, LAN_GW), 'A reaches the LAN gateway');
    assert.ok(h.ping(B, LAN_GW), 'B reaches the LAN gateway');
    assert.ok(h.ping(A, '198.51.100.50'), 'A reaches B');
    assert.ok(h.ping(B, '198.51.100.1'), 'B reaches A');
    assert.ok(h.ping(lanNs, '198.51.100.1'), 'the LAN reaches A');
    // The LAN learnt A's own MAC: the frames came through the parent, from A's macvlan device.
    const neigh = h
      .ipj<Array<{ dst: string; lladdr?: string }>>(lanNs, 'neigh', 'show', 'dev', 'eth0')
      .find((n) => n.dst === '198.51.100.1');
    assert.equal(neigh?.lladdr, h.links(A).find((l) => l.ifname === 'eth0')?.address);
    assert.equal(h.ping(S, '198.51.100.1'), false, 'a sandbox on the bridge network does not reach A');
  });

  describe('errors change nothing', () => {
    // Carrier and operstate follow the kernel's link watcher, which settles on its own time:
    // what a command could change is the configuration (names, addresses, masters, MTU, UP).
    const config = (ls: ReturnType<TestHost['links']>) =>
      ls.map(({ operstate: _o, flags, ...l }) => ({
        ...l,
        flags: flags.filter((f) => f !== 'NO-CARRIER' && f !== 'LOWER_UP'),
      }));
    const snapshot = () =>
      JSON.stringify({
        host: config(h.links()),
        lan: config(h.links(lanNs)),
        a: config(h.links(A)),
        netns: run('ip', ['netns', 'list'])
          .out.split('\n')
          .filter((l) => l.startsWith(h.tag))
          .map((l) => l.replace(/ \(id: \d+\)/, ''))
          .sort(),
        store: h.storeText(),
        rules: rules(),
        parent: parentState(),
      });
    const mv = (name: string, ...opts: string[]) => [
      'create',
      '-d',
      'macvlan',
      ...opts,
      '--subnet',
      '203.0.113.0/24',
      name,
    ];
    const hostVeth = () => {
      const v = h.links().find((l) => l.master === `nc-${brId.slice(0, 12)}`)?.ifname;
      assert.ok(v?.startsWith('veth'), `S's host veth on the bridge: ${v}`);
      return v;
    };
    const cases: Array<[string, () => string[], RegExp | (() => RegExp)]> = [
      ['no parent', () => mv('mv1'), /macvlan network mv1 needs -o parent=<interface>/],
      [
        'parent missing',
        () => mv('mv2', '-o', `parent=${h.tag}q`),
        () => new RegExp(`parent interface ${h.tag}q not found`),
      ],
      [
        'parent missing, 15 bytes (a valid name)',
        () => mv('mv3', '-o', 'parent=abcdefghijklmno'),
        /parent interface abcdefghijklmno not found/,
      ],
      ['parent with a slash', () => mv('mv4', '-o', 'parent=a/b'), /invalid parent interface/],
      ['parent of 16 bytes', () => mv('mv5', '-o', 'parent=abcdefghijklmnop'), /invalid parent interface/],
      ['parent with a space', () => mv('mv6', '-o', 'parent=a b'), /invalid parent interface/],
      ['parent with a newline', () => mv('mv7', '-o', 'parent=a\nb'), /invalid parent interface/],
      ['parent lo', () => mv('mv8', '-o', 'parent=lo'), /(\blo\b.*loopback|loopback.*\blo\b)/],
      ['parent is a netctl bridge', () => mv('mv9', '-o', `parent=nc-${brId.slice(0, 12)}`), /bridge of network/],
      ["parent is a sandbox's veth", () => mv('mv10', '-o', `parent=${hostVeth()}`), /endpoint of container/],
      ['bad macvlan_mode', () => mv('mv11', '-o', `parent=${P}`, '-o', 'macvlan_mode=bogus'), /macvlan_mode/],
      [
        'overlapping subnet on the same parent',
        () => ['create', '-d', 'macvlan', '-o', `parent=${P}`, '--subnet', '198.51.100.0/25', 'mv12'],
        /Pool overlaps with other one on this address space/,
      ],
      [
        '--ip outside the subnet',
        () => ['connect', '--ip', '10.9.9.9', 'lan', S],
        /Invalid address 10\.9\.9\.9: It does not belong to any of this network's subnets/,
      ],
      ['--ip taken', () => ['connect', '--ip', '198.51.100.50', 'lan', S], /Address already in use: 198\.51\.100\.50/],
      // Nothing on the host can DNAT to a macvlan child: refused rather than silently unpublished.
      [
        'a published port',
        () => ['sandbox', 'create', h.name('pub'), '--net', 'lan', '-p', '8080:80'],
        /port publishing needs a network .* lan is a macvlan network/,
      ],
    ];
    for (const [name, argv, re] of cases) {
      it(name, () => {
        const args = argv();
        const before = snapshot();
        const r = h.netctl(...args);
        assert.equal(r.code, 1, `exit code; stderr: ${r.err}`);
        assert.match(r.err, typeof re === 'function' ? re() : re);
        assert.match(r.err, /^Error: /, 'starts with Error:');
        assert.equal(
          r.err.split('\n').filter((l) => l && !l.startsWith('  hint:')).length,
          1,
          `one line: ${JSON.stringify(r.err)}`,
        );
        assert.equal(r.out, '');
        assert.equal(snapshot(), before, 'nothing changed');
      });
    }
  });

  it('connect and disconnect a second sandbox (already on a bridge network): eth1 comes and goes', () => {
    h.ok('sandbox', 'create', C, '--net', 'br');
    const linksBefore = hostLinkNames();
    h.ok('connect', 'lan', C, '--ip', '198.51.100.60');
    assert.deepEqual(hostLinkNames(), linksBefore, 'no device in the host');
    const eth1 = detail(C, 'eth1');
    assert.equal(eth1?.linkinfo?.info_kind, 'macvlan');
    assert.equal(eth1?.linkinfo?.info_data?.mode, 'bridge');
    assert.deepEqual(h.addrs(C)['eth1'], ['198.51.100.60/24']);
    assert.equal(
      h.routes(C).find((r) => r.dst === 'default')?.gateway,
      '10.251.7.1',
      'the first network joined keeps the default route',
    );
    assert.ok(h.ping(C, LAN_GW), 'C reaches the LAN');
    assert.ok(h.ping(A, '198.51.100.60'), 'A reaches C');
    h.ok('disconnect', 'lan', C);
    assert.deepEqual(
      h
        .links(C)
        .map((l) => l.ifname)
        .sort(),
      ['eth0', 'lo'],
      'eth1 removed from the sandbox',
    );
    assert.deepEqual(hostLinkNames(), linksBefore);
    assert.equal(h.ping(A, '198.51.100.60'), false, 'C is gone from the LAN');
    assert.equal(
      Object.values(inspect('lan')?.['Containers'] as Record<string, { Name: string }>).some((c) => c.Name === C),
      false,
    );
    assert.deepEqual(parentState(), parentBefore, 'parent unchanged');
    h.ok('sandbox', 'rm', C);
  });

  it('sandbox stop and start rebuild the endpoint; sandbox rm removes it', () => {
    const linksBefore = hostLinkNames();
    h.ok('sandbox', 'stop', B);
    assert.equal(h.netnsExists(B), false);
    assert.deepEqual(hostLinkNames(), linksBefore, 'the macvlan device did not land in the host');
    assert.equal(h.ping(A, '198.51.100.50'), false, 'B is off the LAN while stopped');
    h.ok('sandbox', 'start', B);
    // eth<N> is never reused within a sandbox (as on bridge networks): the rebuilt endpoint is eth1.
    assertMacvlanEndpoint(B, 'eth1', '198.51.100.50/24', LAN_GW);
    assert.ok(h.ping(A, '198.51.100.50'), 'A reaches B again');
    assert.ok(h.ping(B, LAN_GW), 'B reaches the LAN again');
    h.ok('sandbox', 'rm', B);
    assert.equal(h.netnsExists(B), false);
    assert.deepEqual(hostLinkNames(), linksBefore);
    assert.equal(h.ping(A, '198.51.100.50'), false, 'B is gone');
    assert.deepEqual(
      Object.values(inspect('lan')?.['Containers'] as Record<string, { Name: string }>).map((c) => c.Name),
      [A],
    );
    assert.deepEqual(parentState(), parentBefore, 'parent unchanged');
  });

  it('doctor reports a deleted macvlan interface; restore rebuilds it', () => {
    const clean = (why: string) => {
      const d = h.netctl('doctor');
      assert.equal(d.code, 0, `${why}: doctor found drift:\n${d.out}${d.err}`);
      assert.doesNotMatch(d.out, /^drift:/m, why);
      assert.equal(d.err, '', why);
    };
    clean('before');
    assert.equal(run('ip', ['-n', A, 'link', 'del', 'eth0']).code, 0);
    assert.equal(
      h.links(A).some((l) => l.ifname === 'eth0'),
      false,
    );
    const d = h.netctl('doctor');
    assert.equal(d.code, 1, d.out + d.err);
    assert.ok(
      d.out.split('\n').some((l) => l.includes(A) && /interface eth0 is missing/.test(l)),
      `names ${A} and eth0: ${d.out}`,
    );
    assert.match(d.err, /^Error: /);
    h.ok('restore');
    assertMacvlanEndpoint(A, 'eth0', '198.51.100.1/24', LAN_GW);
    assert.ok(h.ping(A, LAN_GW), 'traffic flows again');
    clean('after restore');
    assert.deepEqual(parentState(), parentBefore, 'parent unchanged');
  });

  it('rm is refused while a sandbox runs, then removes the network and never touches the parent', () => {
    const r = h.netctl('rm', 'lan');
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`network lan has active endpoints \\(${A}\\)`));
    assert.ok(h.ping(A, LAN_GW), 'A still on the LAN');
    h.ok('sandbox', 'rm', A);
    const linksBefore = h.links();
    assert.equal(h.ok('rm', 'lan'), 'lan\n');
    assert.deepEqual(h.links(), linksBefore, 'no link in the host deleted or changed');
    const p = parentState();
    assert.ok(p, `parent ${P} still exists`);
    assert.deepEqual(p, parentBefore, 'same MAC, still up, no master, same MTU, still a veth');
    assert.ok(
      h
        .links(lanNs)
        .find((l) => l.ifname === 'eth0')
        ?.flags.includes('UP'),
      'the LAN end is still up',
    );
    assert.equal(
      Object.values(h.store().networks).some((n) => n.name === 'lan'),
      false,
    );
    assert.equal(h.netctl('inspect', 'lan').code, 1);
  });

  it(
    'macvlan_mode=private, default gateway: ' + 'children of one parent do not reach each other, the LAN still answers',
    () => {
      const [D, E] = [h.name('d'), h.name('e')];
      h.ok(
        'create',
        '-d',
        'macvlan',
        '-o',
        `parent=${P}`,
        '-o',
        'macvlan_mode=private',
        '--subnet',
        '198.51.100.0/24',
        'priv',
      );
      const nw = inspect('priv');
      assert.equal(nw?.['Driver'], 'macvlan');
      assert.equal(nw?.['Options']?.macvlan_mode, 'private');
      assert.equal(nw?.['IPAM']?.Config?.[0]?.Gateway, '198.51.100.1', 'gateway: first address of the subnet');
      h.ok('sandbox', 'create', D, '--net', 'priv');
      h.ok('sandbox', 'create', E, '--net', 'priv');
      assertMacvlanEndpoint(D, 'eth0', '198.51.100.2/24', '198.51.100.1', 'private');
      assertMacvlanEndpoint(E, 'eth0', '198.51.100.3/24', '198.51.100.1', 'private');
      assert.ok(h.ping(D, LAN_GW), 'D reaches the LAN (on-link)');
      assert.ok(h.ping(E, LAN_GW), 'E reaches the LAN (on-link)');
      assert.equal(h.ping(D, '198.51.100.3'), false, 'private: D does not reach E');
      assert.equal(h.ping(E, '198.51.100.2'), false, 'private: E does not reach D');
      h.ok('sandbox', 'rm', D, E);
      h.ok('rm', 'priv');
      assert.deepEqual(parentState(), parentBefore, 'parent unchanged');
    },
  );
});
