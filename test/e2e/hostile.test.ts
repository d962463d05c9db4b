// Hostile input end to end (issue 18): special-purpose blocks, edge gateways, names, options
// and templates each get the exit code and one-line message the SPEC promises, and change
// nothing: the test host's links and addresses, this run's netns and the store are compared
// around each command. (Published ports are covered with the port parser.)
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

describe('hostile input', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let S: string;
  let F: string;

  before(() => {
    h = new TestHost();
    S = h.name('s');
    F = h.name('free');
    h.ok('create', '--subnet', '10.240.1.0/24', 'web');
    h.ok('sandbox', 'create', S, '--net', 'web');
    h.foreignNetns(F);
  });
  after(() => assert.deepEqual(h.cleanup(), [], 'nothing leaked'));

  const snapshot = () =>
    JSON.stringify({
      links: h
        .links()
        .map((l) => `${l.ifname} ${l.address} ${l.mtu}`)
        .sort(),
      addrs: h
        .ipj<Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>>(null, 'addr', 'show')
        .map(
          (l) =>
            `${l.ifname} ${l.addr_info
              .map((a) => `${a.local}/${a.prefixlen}`)
              .sort()
              .join(',')}`,
        )
        .sort(),
      netns: run('ip', ['netns', 'list'])
        .out.split('\n')
        .filter((l) => l.startsWith(h.tag))
        .sort(),
      store: h.storeText(),
    });

  const cases: Array<[string, () => string[], number, RegExp]> = [
    // subnets in or around special-purpose blocks
    [
      'loopback subnet',
      () => ['create', '--subnet', '127.0.0.0/8', 'x'],
      1,
      /invalid subnet 127\.0\.0\.0\/8: it overlaps the special-purpose block 127\.0\.0\.0\/8 \(loopback\)/,
    ],
    [
      'inside loopback',
      () => ['create', '--subnet', '127.1.2.0/24', 'x'],
      1,
      /special-purpose block 127\.0\.0\.0\/8 \(loopback\)/,
    ],
    ['multicast subnet', () => ['create', '--subnet', '224.0.0.0/4', 'x'], 1, /224\.0\.0\.0\/4 \(multicast\)/],
    ['reserved subnet', () => ['create', '--subnet', '240.0.0.0/24', 'x'], 1, /240\.0\.0\.0\/4 \(reserved\)/],
    ['"this network"', () => ['create', '--subnet', '0.0.0.0/16', 'x'], 1, /0\.0\.0\.0\/8/],
    ['a /0', () => ['create', '--subnet', '0.0.0.0/0', 'x'], 1, /special-purpose block/],
    ['a /1', () => ['create', '--subnet', '128.0.0.0/1', 'x'], 1, /special-purpose block/],
    [
      'link-local, not asked for',
      () => ['create', '--subnet', '169.254.3.0/24', 'x'],
      1,
      /169\.254\.0\.0\/16 \(link-local\)/,
    ],
    [
      'link-local option, bad value',
      () => ['create', '--subnet', '169.254.3.0/24', '--ipam-opt', 'link-local=yes', 'x'],
      1,
      /invalid ipam-opt link-local=yes/,
    ],
    ['IPv6 link-local', () => ['create', '--ipv6', '--subnet', 'fe80::/64', 'x'], 1, /fe80::\/10 \(link-local\)/],
    ['IPv6 multicast', () => ['create', '--ipv6', '--subnet', 'ff02::/64', 'x'], 1, /ff00::\/8 \(multicast\)/],
    ['IPv6 loopback', () => ['create', '--ipv6', '--subnet', '::1/128', 'x'], 1, /::1\/128 \(loopback\)/],
    ['IPv6 ::/0', () => ['create', '--ipv6', '--subnet', '::/0', 'x'], 1, /special-purpose block/],
    // gateways, ranges, aux addresses
    [
      'gateway = broadcast',
      () => ['create', '--subnet', '10.241.0.0/24', '--gateway', '10.241.0.255', 'x'],
      1,
      /invalid gateway 10\.241\.0\.255: it is the broadcast address of subnet 10\.241\.0\.0\/24/,
    ],
    [
      'gateway = network',
      () => ['create', '--subnet', '10.241.0.0/24', '--gateway', '10.241.0.0', 'x'],
      1,
      /invalid gateway 10\.241\.0\.0: it is the network address/,
    ],
    [
      'gateway in loopback',
      () => ['create', '--subnet', '10.241.0.0/24', '--gateway', '127.0.0.1', 'x'],
      1,
      /invalid gateway 127\.0\.0\.1: .*loopback/,
    ],
    [
      'ip-range in loopback',
      () => ['create', '--subnet', '10.241.0.0/16', '--ip-range', '127.0.0.0/24', 'x'],
      1,
      /invalid ip-range 127\.0\.0\.0\/24: .*loopback/,
    ],
    [
      'aux = broadcast',
      () => ['create', '--subnet', '10.241.0.0/24', '--aux-address', 'r=10.241.0.255', 'x'],
      1,
      /invalid aux-address r=10\.241\.0\.255: it is the broadcast address/,
    ],
    [
      'aux in multicast',
      () => ['create', '--subnet', '10.241.0.0/24', '--aux-address', 'r=224.0.0.1', 'x'],
      1,
      /invalid aux-address r=224\.0\.0\.1: .*multicast/,
    ],
    [
      '--ip loopback',
      () => ['connect', '--ip', '127.0.0.1', 'web', F],
      1,
      /invalid IPv4 address 127\.0\.0\.1: it is in the special-purpose block 127\.0\.0\.0\/8/,
    ],
    [
      '--ip multicast',
      () => ['sandbox', 'create', h.name('m'), '--net', 'web', '--ip', '239.1.1.1'],
      1,
      /invalid IPv4 address 239\.1\.1\.1: .*multicast/,
    ],
    [
      '--ip broadcast',
      () => ['connect', '--ip', '10.240.1.255', 'web', F],
      1,
      /Invalid address 10\.240\.1\.255: it is the broadcast address of subnet 10\.240\.1\.0\/24 on network web/,
    ],
    [
      '--ip network',
      () => ['connect', '--ip', '10.240.1.0', 'web', F],
      1,
      /Invalid address 10\.240\.1\.0: it is the network address/,
    ],
    [
      '--ip6 link-local',
      () => ['connect', '--ip6', 'fe80::5', 'web', F],
      1,
      /invalid IPv6 address fe80::5: .*fe80::\/10/,
    ],
    [
      '--ip6 multicast',
      () => ['connect', '--ip6', 'ff02::1', 'web', F],
      1,
      /invalid IPv6 address ff02::1: .*multicast/,
    ],
    // names and options
    ['network name with a newline', () => ['create', 'a\nb'], 1, /invalid network name "a\\x0ab"/],
    ['network name with a shell', () => ['create', 'x;reboot'], 1, /invalid network name "x;reboot"/],
    ['network name too long', () => ['create', 'n'.repeat(65)], 1, /invalid network name/],
    ['container name with a space', () => ['sandbox', 'create', 'a b'], 1, /invalid container name "a b"/],
    ['container name with a slash', () => ['sandbox', 'create', '../etc'], 1, /invalid container name "\.\.\/etc"/],
    ['alias with a newline', () => ['connect', '--alias', 'a\nb', 'web', F], 1, /invalid container name "a\\x0ab"/],
    [
      'bridge name smuggling a command',
      () => ['create', '-o', 'com.docker.network.bridge.name=br0\nlink del lo', 'x'],
      1,
      /invalid bridge name/,
    ],
    [
      'bridge name with a space',
      () => ['create', '-o', 'com.docker.network.bridge.name=br 0', 'x'],
      1,
      /invalid bridge name/,
    ],
    [
      'mtu not a number',
      () => ['create', '-o', 'com.docker.network.driver.mtu=1500\n', 'x'],
      1,
      /failed to parse com\.docker\.network\.driver\.mtu value/,
    ],
    [
      'aux-address without a name',
      () => ['create', '--subnet', '10.241.0.0/24', '--aux-address', '=10.241.0.5', 'x'],
      1,
      /invalid aux-address "=10\.241\.0\.5": expected key=value/,
    ],
    [
      'MAC with a newline',
      () => ['connect', '--mac-address', '02:42:0a:00:00:01\n', 'web', F],
      1,
      /invalid MAC address: 02:42:0a:00:00:01\\x0a/,
    ],
    [
      'gw-priority past 2^53',
      () => ['connect', '--gw-priority', '99999999999999999999', 'web', F],
      125,
      /--gw-priority" flag: value out of range/,
    ],
    ['filter with a newline', () => ['ls', '-f', 'na\nme=x'], 125, /invalid filter 'na\\x0ame'/],
    // templates
    ['template: Go escape error', () => ['inspect', '-f', '{{"\\q"}}', 'web'], 1, /template: invalid syntax in string/],
    [
      'template: unbounded range',
      () => ['inspect', '-f', '{{range 100000000}}{{end}}', 'web'],
      1,
      /template: evaluation took more than/,
    ],
    [
      'template: JavaScript escape attempt',
      () => ['inspect', '-f', '{{(.constructor.constructor "return process.exit(7)")}}', 'web'],
      1,
      /can't evaluate field constructor/,
    ],
    [
      'template: deep parens',
      () => ['inspect', '-f', `{{${'('.repeat(500)}1${')'.repeat(500)}}}`, 'web'],
      1,
      /max expression depth exceeded/,
    ],
    ['template: unclosed comment', () => ['ls', '--format', '{{/* x'], 1, /template: unclosed comment/],
    [
      'template: define unsupported',
      () => ['sandbox', 'ls', '--format', '{{define "x"}}{{end}}'],
      1,
      /\{\{define\}\} is not supported/,
    ],
  ];

  for (const [name, argv, code, re] of cases) {
    it(name, () => {
      const before = snapshot();
      const r = h.netctl(...argv());
      assert.equal(r.code, code, `exit code; stderr: ${r.err}`);
      assert.match(r.err, re);
      assert.match(r.err, /^Error: /);
      assert.equal(
        r.err.split('\n').filter((l) => l && !l.startsWith('  hint:')).length,
        1,
        `one line: ${JSON.stringify(r.err)}`,
      );
      assert.equal(snapshot(), before, 'nothing changed');
    });
  }

  it('a link-local network when asked for, which then takes --ip in it', () => {
    h.ok('create', '--subnet', '169.254.20.0/24', '--ipam-opt', 'link-local=true', 'll');
    h.ok('connect', '--ip', '169.254.20.9', 'll', F);
    assert.deepEqual(h.addrs(F)['eth0'], ['169.254.20.9/24']);
    h.ok('disconnect', 'll', F);
    h.ok('rm', 'll');
  });

  it('default-address-pools in config.json are checked as --subnet is', () => {
    const cfg = join(h.root, 'config.json');
    const before = snapshot();
    try {
      for (const [pools, re] of [
        [
          [{ base: '127.0.0.0/8', size: 24 }],
          /invalid default-address-pools in .*config\.json: pool 0: invalid base 127\.0\.0\.0\/8: .*loopback/,
        ],
        [[{ base: '10.250.0.0/16', size: 8 }], /pool 0: size 8 must be an integer from 16/],
        [{ base: '10.0.0.0/8' }, /expected a list/],
      ] as const) {
        writeFileSync(cfg, JSON.stringify({ 'default-address-pools': pools }));
        const r = h.netctl('create', 'x');
        assert.equal(r.code, 1, r.err);
        assert.match(r.err, re);
        assert.equal(r.err.trim().split('\n').length, 1);
      }
    } finally {
      rmSync(cfg, { force: true });
    }
    assert.equal(snapshot(), before);
  });
});
