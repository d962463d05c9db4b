// docs/reference.md §6-7: every bad input gets a one-line error naming the object, the right exit code,
// and changes nothing: the host's links, this run's netns and the store are compared around it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

describe('errors and exit codes', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let S: string, F: string, N: string, HOSTMODE: string, STOPPED: string;

  before(() => {
    h = new TestHost();
    [S, F, N, HOSTMODE, STOPPED] = ['s', 'foreign', 'nonet', 'hostmode', 'stopped'].map((x) => h.name(x)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    h.ok('create', '--subnet', '10.233.1.0/24', 'web');
    h.ok('create', '--subnet', '10.233.2.0/29', 'tiny');
    h.ok('create', 'auto'); // default pool: no user subnet
    h.ok('sandbox', 'create', S, '--net', 'web', '--ip', '10.233.1.10');
    h.ok('sandbox', 'create', N, '--net', 'none');
    h.ok('sandbox', 'create', HOSTMODE, '--net', 'host');
    h.ok('sandbox', 'create', STOPPED, '--net', 'web');
    h.ok('sandbox', 'stop', STOPPED);
    h.foreignNetns(F);
    // Fill tiny (.2-.6 usable minus the gateway .1): 5 addresses.
    for (let i = 0; i < 5; i++) {
      const n = h.name(`fill${i}`);
      h.foreignNetns(n);
      h.ok('connect', 'tiny', n);
    }
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  const snapshot = () =>
    JSON.stringify({
      links: h
        .links()
        .map((l) => l.ifname)
        .sort(),
      netns: run('ip', ['netns', 'list'])
        .out.split('\n')
        .filter((l) => l.startsWith(h.tag))
        .sort(),
      store: h.storeText(),
    });

  const cases: Array<[string, () => string[], number, RegExp | (() => RegExp)]> = [
    ['create, name taken', () => ['create', 'web'], 1, /network with name web already exists/],
    ['create, predefined name', () => ['create', 'host'], 1, /operation is not permitted on predefined host network/],
    ['create, bad CIDR', () => ['create', '--subnet', '10.0.0.0/99', 'x'], 1, /invalid subnet 10\.0\.0\.0\/99/],
    [
      'create, overlap',
      () => ['create', '--subnet', '10.233.0.0/16', 'x'],
      1,
      /Pool overlaps with other one on this address space.*network web/,
    ],
    [
      'create, gateway outside',
      () => ['create', '--subnet', '10.234.0.0/24', '--gateway', '10.235.0.1', 'x'],
      1,
      /no matching subnet for gateway 10\.235\.0\.1/,
    ],
    [
      'create, range outside',
      () => ['create', '--subnet', '10.234.0.0/24', '--ip-range', '10.235.0.0/25', 'x'],
      1,
      /no matching subnet for range 10\.235\.0\.0\/25/,
    ],
    [
      'create, aux outside',
      () => ['create', '--subnet', '10.234.0.0/24', '--aux-address', 'a=10.235.0.1', 'x'],
      1,
      /no matching subnet for aux-address 10\.235\.0\.1/,
    ],
    [
      'create, gateway without subnet',
      () => ['create', '--gateway', '10.234.0.1', 'x'],
      1,
      /every ip-range or gateway must have a corresponding subnet/,
    ],
    ['create, unknown driver', () => ['create', '-d', 'weave', 'x'], 1, /plugin "weave" not found/],
    [
      'create, bad mtu',
      () => ['create', '-o', 'com.docker.network.driver.mtu=abc', 'x'],
      1,
      /failed to parse com\.docker\.network\.driver\.mtu value: abc/,
    ],
    ['create, bad name', () => ['create', '-bad'], 125, /unknown option/],
    ['create, hostile name', () => ['create', 'a;rm -rf /'], 1, /invalid network name/],
    [
      'create, too long bridge name',
      () => ['create', '-o', 'com.docker.network.bridge.name=averyveryverylongname', 'x'],
      1,
      /invalid bridge name/,
    ],
    ['connect, network missing', () => ['connect', 'nope', S], 1, /network nope not found/],
    ['connect, container missing', () => ['connect', 'web', h.name('ghost')], 1, /No such container: nct\w+-ghost/],
    [
      'connect, twice',
      () => ['connect', 'web', S],
      1,
      () => new RegExp(`endpoint with name ${S} already exists in network web`),
    ],
    [
      'connect, --ip without user subnet',
      () => ['connect', '--ip', '172.18.0.9', 'auto', F],
      1,
      /user specified IP address is supported only when connecting to networks with user configured subnets/,
    ],
    [
      'connect, --ip outside',
      () => ['connect', '--ip', '10.9.9.9', 'web', F],
      1,
      /Invalid address 10\.9\.9\.9: It does not belong to any of this network's subnets/,
    ],
    [
      'connect, --ip malformed',
      () => ['connect', '--ip', '10.233.1.300', 'web', F],
      1,
      /invalid IPv4 address: 10\.233\.1\.300/,
    ],
    [
      'connect, --ip taken',
      () => ['connect', '--ip', '10.233.1.10', 'web', F],
      1,
      () => new RegExp(`Address already in use: 10\\.233\\.1\\.10 \\(held by container ${S}\\)`),
    ],
    [
      'connect, --ip on stopped sandbox outside',
      () => ['connect', '--ip', '10.9.9.9', 'tiny', STOPPED],
      1,
      /Invalid address 10\.9\.9\.9/,
    ],
    [
      'connect, bad MAC',
      () => ['connect', '--mac-address', '02:42:zz:00:00:01', 'web', F],
      1,
      /invalid MAC address: 02:42:zz:00:00:01/,
    ],
    [
      'connect, host-mode sandbox',
      () => ['connect', 'web', HOSTMODE],
      1,
      /container sharing network namespace with another container or host cannot be connected to any other network/,
    ],
    [
      'connect, to the host network',
      () => ['connect', 'host', S],
      1,
      /cannot be disconnected from host network or connected to host network/,
    ],
    [
      'connect, pool exhausted',
      () => ['connect', 'tiny', F],
      1,
      /no available IPv4 addresses on this network's address pools: tiny \(10\.233\.2\.0\/29\)/,
    ],
    ['connect, missing argument', () => ['connect', 'web'], 125, /missing required argument/],
    [
      'disconnect, not connected',
      () => ['disconnect', 'tiny', S],
      1,
      () => new RegExp(`container ${S} is not connected to network tiny`),
    ],
    ['rm, active endpoints', () => ['rm', 'web'], 1, () => new RegExp(`network web has active endpoints \\(${S}\\)`)],
    ['rm, predefined', () => ['rm', 'none'], 1, /none is a pre-defined network and cannot be removed/],
    ['inspect, missing', () => ['inspect', 'nope'], 1, /network nope not found/],
    ['ls, bad filter', () => ['ls', '-f', 'colour=red'], 125, /invalid filter 'colour'/],
    ['inspect, bad template', () => ['inspect', '-f', '{{.Nope}}', 'web'], 1, /can't evaluate field Nope/],
    ['unknown command', () => ['frobnicate'], 125, /unknown command 'frobnicate'/],
  ];

  for (const [name, argv, code, re] of cases) {
    it(name, () => {
      const before = snapshot();
      const r = h.netctl(...argv());
      assert.equal(r.code, code, `exit code; stderr: ${r.err}`);
      assert.match(r.err, typeof re === 'function' ? re() : re);
      assert.match(r.err, /^Error: /, 'starts with Error:');
      assert.equal(r.err.split('\n').filter((l) => l && !l.startsWith('  hint:')).length, 1, `one line: ${r.err}`);
      assert.equal(snapshot(), before, 'nothing changed');
    });
  }

  it('inspect prints what it found and the error for what it did not', () => {
    const r = h.netctl('inspect', 'web', 'nope');
    assert.equal(r.code, 1);
    assert.equal((JSON.parse(r.out) as unknown[]).length, 1);
    assert.equal(h.netctl('inspect', 'nope').out.trim(), '[]');
  });

  it('a non-root user is refused before any change, read-only commands still work', () => {
    const env = [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
    ];
    const before = snapshot();
    const r = run('nsenter', [
      `--net=/var/run/netns/${h.ns}`,
      ...env,
      process.execPath,
      new URL('../../../bin/netctl', import.meta.url).pathname,
      '--root',
      h.root,
      'create',
      'x',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err, /netctl needs root \(CAP_NET_ADMIN\) to create a network/);
    assert.equal(snapshot(), before);
  });
});
