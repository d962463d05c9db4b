// The nftables backend against a fake Runner: the script of a full rewrite and of a change,
// one `nft -f` per sync, the fallback when the kernel refuses a change, the text guard, drift
// read from `nft -j` output; plus IPv6 and gateway-mode rule text of the iptables backend and
// -p ranges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toSandboxCreate } from '../../src/cli/options.js';
import type { FwModel, FwNetwork, FwPort } from '../../src/firewall/firewall.js';
import { familyView, filterRules, natRules, ruleset, parsePresent } from '../../src/firewall/iptables/rules.js';
import { NftablesFirewall } from '../../src/firewall/nftables/backend.js';
import { checkScript } from '../../src/firewall/nftables/guard.js';
import { diffScript, elements, fullScript } from '../../src/firewall/nftables/rules.js';
import type { RunOptions, RunResult, Runner } from '../../src/kernel/runner.js';
import { SystemError } from '../../src/lib/errors.js';

class FakeNft implements Runner {
  calls: Array<{ args: string[]; input?: string }> = [];
  constructor(
    public list = '',
    public exits: number[] = [],
  ) {}
  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    assert.equal(file, 'nft');
    this.calls.push({ args, ...(typeof opts.input === 'string' ? { input: opts.input } : {}) });
    if (args[0] === '-f') {
      const exitCode = this.exits.shift() ?? 0;
      return {
        stdout: '',
        stderr: exitCode ? 'Error: Could not process rule: No such file or directory' : '',
        exitCode,
      };
    }
    return this.list
      ? { stdout: this.list, stderr: '', exitCode: 0 }
      : { stdout: '', stderr: 'Error: No such file or directory', exitCode: 1 };
  }
  async sysctl(): Promise<boolean> {
    return false;
  }
}

const web: FwNetwork = {
  id12: 'aaaaaaaaaaaa',
  bridge: 'nc-aaaaaaaaaaaa',
  subnets: ['10.1.0.0/24', 'fd00:1::/64'],
  internal: false,
  icc: true,
  masquerade: true,
  mode4: 'nat',
  mode6: 'nat',
};
const port: FwPort = {
  id12: 'cccccccccccc',
  bridge: 'nc-aaaaaaaaaaaa',
  family: 4,
  containerIP: '10.1.0.5',
  proto: 'tcp',
  hostIP: '',
  hostPort: 8080,
  containerPort: 80,
  mode: 'nat',
};
const port6: FwPort = { ...port, family: 6, containerIP: 'fd00:1::5' };
const model: FwModel = { networks: [web], ports: [port, port6] };

describe('nftables: rules', () => {
  it('a network and its ports become set and map elements', () => {
    const e = Object.fromEntries([...elements(model)].filter(([, v]) => v.length));
    assert.deepEqual(e, {
      bridges: ['"nc-aaaaaaaaaaaa"'],
      icc: ['"nc-aaaaaaaaaaaa" . "nc-aaaaaaaaaaaa" : accept'],
      outbound: ['"nc-aaaaaaaaaaaa" : accept'],
      inbound: ['ipv4 . "nc-aaaaaaaaaaaa" : drop', 'ipv6 . "nc-aaaaaaaaaaaa" : drop'],
      masq4: ['10.1.0.0/24'],
      masq6: ['fd00:1::/64'],
      pub4: ['10.1.0.5 . tcp . 80 . "nc-aaaaaaaaaaaa"'],
      pub6: ['fd00:1::5 . tcp . 80 . "nc-aaaaaaaaaaaa"'],
      dnat4: ['tcp . 8080 : 10.1.0.5 . 80'],
      dnat6: ['tcp . 8080 : fd00:1::5 . 80'],
      hair4: ['10.1.0.5 . 10.1.0.5 . tcp . 80'],
      hair6: ['fd00:1::5 . fd00:1::5 . tcp . 80'],
    });
  });

  it(
    'gateway modes, loopback and SCTP: routed opens the container port without NAT; ' +
      'loopback ports are never let in',
    () => {
      const m: FwModel = {
        networks: [{ ...web, mode4: 'routed', mode6: 'nat-unprotected' }],
        ports: [
          { ...port, mode: 'routed' },
          { ...port, hostIP: '127.0.0.1', hostPort: 8081, proto: 'sctp' },
        ],
      };
      const e = elements(m);
      assert.deepEqual(e.get('open4'), ['10.1.0.5 . tcp . 80 . "nc-aaaaaaaaaaaa"']);
      assert.deepEqual(e.get('masq4'), [], 'routed: no masquerade');
      assert.deepEqual(e.get('masq6'), ['fd00:1::/64']);
      assert.deepEqual(e.get('inbound'), ['ipv4 . "nc-aaaaaaaaaaaa" : drop', 'ipv6 . "nc-aaaaaaaaaaaa" : accept']);
      assert.deepEqual(e.get('pub4'), [], 'the loopback port is DNATed but never accepted');
      assert.deepEqual(e.get('dnat4h'), ['127.0.0.1 . sctp . 8081 : 10.1.0.5 . 80']);
      assert.deepEqual(e.get('dnat4'), [], 'routed: no DNAT');
    },
  );

  it('the full script declares, flushes and refills only the netctl tables, and never flushes `user`', () => {
    const s = fullScript(model);
    // `bridge netctl` is egress policy's (it marks a sandbox's packets by their port: policy.ts).
    for (const l of s.trim().split('\n'))
      assert.match(l, /^(add|flush) (table|chain|set|map|rule|element) (inet|bridge) netctl\b/, l);
    assert.doesNotMatch(s, /flush chain inet netctl user/);
    assert.match(s, /^add chain inet netctl user$/m);
    assert.equal(checkScript(s), s);
  });

  it('a change is only elements: the moved port is deleted by key and added again', () => {
    assert.equal(diffScript(model, model), null);
    const moved = diffScript(model, { ...model, ports: [{ ...port, containerIP: '10.1.0.9' }, port6] }) ?? '';
    assert.equal(
      moved,
      [
        'delete element inet netctl pub4 { 10.1.0.5 . tcp . 80 . "nc-aaaaaaaaaaaa" }',
        'delete element inet netctl hair4 { 10.1.0.5 . 10.1.0.5 . tcp . 80 }',
        'delete element inet netctl dnat4 { tcp . 8080 }',
        'add element inet netctl pub4 { 10.1.0.9 . tcp . 80 . "nc-aaaaaaaaaaaa" }',
        'add element inet netctl hair4 { 10.1.0.9 . 10.1.0.9 . tcp . 80 }',
        'add element inet netctl dnat4 { tcp . 8080 : 10.1.0.9 . 80 }',
        '',
      ].join('\n'),
    );
    assert.equal(checkScript(moved), moved);
  });

  it('the guard refuses anything else, naming the line', () => {
    const bad = [
      'add rule inet netctl forward accept',
      'flush ruleset',
      'add table ip filter',
      'flush chain inet netctl user',
      'add element inet netctl bridges { "br0"; flush ruleset }',
      'add element inet netctl bridges { "br 0" }',
      'add element inet netctl bridges { $x }',
      'add element inet netctl icc { "br0" . "br0" : jump user }',
      'add element inet netctl nosuch { "br0" }',
      'add element inet netctl dnat4 { tcp . 8080 }',
      'add element inet netctl bridges { "br0" } # x',
      '',
    ];
    for (const line of bad) {
      assert.throws(
        () => checkScript(`add table inet netctl\n${line}\n`),
        (e: Error) => e instanceof SystemError && e.message === `refusing unsafe text for nft: ${JSON.stringify(line)}`,
        line,
      );
    }
  });
});

describe('nftables: sync and drift', () => {
  it('prev=null: one nft -f of the full script; with prev: one nft -f of the difference, no read', async () => {
    const r = new FakeNft();
    const fw = new NftablesFirewall(r);
    await fw.sync(null, model);
    await fw.sync(model, { networks: [web], ports: [] });
    await fw.sync(model, model);
    assert.deepEqual(
      r.calls.map((c) => c.args.join(' ')),
      ['-f -', '-f -'],
    );
    assert.equal(r.calls[0]?.input, fullScript(model));
    assert.equal(r.calls[1]?.input, diffScript(model, { networks: [web], ports: [] }));
  });

  it('a difference the kernel refuses (a flushed table) falls back to the full rewrite in the same sync', async () => {
    const r = new FakeNft('', [1, 0]);
    await new NftablesFirewall(r).sync({ networks: [], ports: [] }, model);
    assert.deepEqual(
      r.calls.map((c) => c.input),
      [diffScript({ networks: [], ports: [] }, model), fullScript(model)],
    );
  });

  it('unsafe model values are refused before nft runs', async () => {
    const r = new FakeNft();
    await assert.rejects(
      new NftablesFirewall(r).sync(null, { networks: [{ ...web, bridge: 'br"; flush ruleset' }], ports: [] }),
      /refusing unsafe interface name for nft/,
    );
    await assert.rejects(
      new NftablesFirewall(r).sync(null, { networks: [web], ports: [{ ...port, containerIP: 'fd00::5' }] }),
      /refusing unsafe address for nft/,
    );
    assert.deepEqual(r.calls, []);
  });

  it('drift: a missing table, then every missing or stale element and a short chain', async () => {
    assert.deepEqual(await new NftablesFirewall(new FakeNft()).drift(model), [
      'firewall: table inet netctl is missing',
    ]);
    const objs = [
      { table: { family: 'inet', name: 'netctl' } },
      ...['forward', 'prerouting', 'output', 'postrouting', 'publish', 'user'].map((name) => ({ chain: { name } })),
      ...Array.from({ length: 9 }, () => ({ rule: { chain: 'forward' } })),
      ...[
        'prerouting',
        'output',
        'output',
        'publish',
        'publish',
        'publish',
        'publish',
        'postrouting',
        'postrouting',
        'postrouting',
        'postrouting',
      ].map((chain) => ({ rule: { chain } })),
      { set: { name: 'bridges', elem: ['nc-aaaaaaaaaaaa', 'nc-dddddddddddd'] } },
      { map: { name: 'dnat4', elem: [[{ concat: ['tcp', 8080] }, { concat: ['10.1.0.5', 80] }]] } },
      { set: { name: 'masq4', elem: [{ prefix: { addr: '10.1.0.0', len: 24 } }] } },
    ];
    const out = await new NftablesFirewall(new FakeNft(JSON.stringify({ nftables: objs }))).drift(model);
    assert.ok(out.includes('firewall: chain forward has 9 of 10 rules'), out.join('\n'));
    assert.ok(out.includes('firewall: bridges has stale nc-dddddddddddd'));
    assert.ok(out.includes('firewall: map icc is missing'));
    assert.ok(
      !out.some((l) => /^firewall: (dnat4|masq4|bridges) lacks/.test(l)),
      'what is there is read back in the form written',
    );
  });
});

describe('iptables: IPv6 and gateway modes', () => {
  it('ip6tables gets the IPv6 networks and ports, with /128, [addr]:port and ::1 in the OUTPUT jump', () => {
    const v6 = familyView(model, 6);
    assert.deepEqual(
      v6.networks.map((n) => n.subnets),
      [['fd00:1::/64']],
    );
    assert.deepEqual(natRules(v6, 6), [
      '-A NETCTL-POSTROUTING -s fd00:1::/64 ! -o nc-aaaaaaaaaaaa -j MASQUERADE -m comment --comment ' +
        'netctl:aaaaaaaaaaaa',
      '-A NETCTL -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:1::5]:80 -m comment --comment ' +
        'netctl:cccccccccccc',
      '-A NETCTL-POSTROUTING -s fd00:1::5/128 -d fd00:1::5/128 -p tcp -m tcp --dport 80 -j MASQUERADE -m ' +
        'comment --comment netctl:cccccccccccc',
    ]);
    assert.match(
      ruleset(v6, parsePresent(''), 6),
      /^-I OUTPUT 1 ! -d ::1\/128 -m addrtype --dst-type LOCAL -j NETCTL /m,
    );
    assert.equal(
      familyView({ networks: [{ ...web, subnets: ['10.1.0.0/24'] }], ports: [] }, 6).networks.length,
      0,
      'an IPv4-only network has no ip6tables rules',
    );
  });

  it(
    'routed: no DNAT or masquerade, the container port accepted directly; nat-unprotected: routed traffic let in; ' +
      'loopback ports never accepted',
    () => {
      const m: FwModel = {
        networks: [{ ...web, subnets: ['10.1.0.0/24'], mode4: 'routed' }],
        ports: [{ ...port, mode: 'routed' }],
      };
      assert.deepEqual(natRules(m), []);
      assert.equal(
        filterRules(m)[0],
        '-A NETCTL-PORTS -d 10.1.0.5/32 -o nc-aaaaaaaaaaaa -p tcp -m tcp --dport 80 -j ACCEPT -m comment ' +
          '--comment netctl:cccccccccccc',
      );
      const u = filterRules({
        networks: [{ ...web, mode4: 'nat-unprotected' }],
        ports: [{ ...port, hostIP: '127.0.0.1' }],
      });
      assert.ok(u.includes('-A NETCTL-FORWARD -o nc-aaaaaaaaaaaa -j ACCEPT -m comment --comment netctl:aaaaaaaaaaaa'));
      assert.ok(!u.some((l) => l.startsWith('-A NETCTL-PORTS')), 'loopback-published: no accept');
    },
  );
});

describe('-p ranges and SCTP', () => {
  const ports = (p: string) => toSandboxCreate('a', { publish: [p] }).ports;
  it(
    'equal ranges map port by port; ' +
      'a host range with one container port picks later; sctp and IPv6 host addresses',
    () => {
      assert.deepEqual(
        ports('8080-8082:80-82/udp'),
        [80, 81, 82].map((c) => ({ hostIP: '', hostPort: c + 8000, containerPort: c, proto: 'udp' })),
      );
      assert.deepEqual(ports('8080-8083:80'), [
        { hostIP: '', hostPort: 8080, hostPortEnd: 8083, containerPort: 80, proto: 'tcp' },
      ]);
      assert.deepEqual(ports('[::1]:80:80/sctp'), [{ hostIP: '::1', hostPort: 80, containerPort: 80, proto: 'sctp' }]);
    },
  );
  it('bad ranges are refused with the spec in the message', () => {
    assert.throws(
      () => ports('8080-8083:80-81'),
      /invalid published port "8080-8083:80-81": host ports 8080-8083 and container ports 80-81 differ in length/,
    );
    assert.throws(() => ports('8083-8080:80'), /the range 8083-8080 ends before it starts/);
    assert.throws(() => ports('80:80/icmp'), /invalid published port "80:80\/icmp"/);
  });
});
