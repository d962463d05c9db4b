// Egress policy's pure parts (docs/reference.md §16): DEST parsing as tables, the policy edits,
// the nftables text (golden), what the guard lets through, and what the resolver inserts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyChange, checkPolicyNetwork } from '../../src/core/policy.js';
import { networkRecord, sandboxRecord, type NetworkRecord } from '../../src/model/records.js';
import { learnElements } from '../../src/dns/learn.js';
import type { FwModel, FwPolicy } from '../../src/firewall/firewall.js';
import { checkScript } from '../../src/firewall/nftables/guard.js';
import { learnedSets, policyChain, policyDiff } from '../../src/firewall/nftables/policy.js';
import { diffScript, fullScript } from '../../src/firewall/nftables/rules.js';
import { formatDest, parseDest } from '../../src/lib/dest.js';
import { UsageError } from '../../src/lib/errors.js';

describe('DEST', () => {
  const good: Array<[string, string]> = [
    ['10.1.2.3', '10.1.2.3'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/32:443', '10.1.2.3:443'],
    ['10.0.0.0/8:8000-8080/tcp', '10.0.0.0/8:8000-8080/tcp'],
    ['192.0.2.1:53/UDP', '192.0.2.1:53/udp'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0::/32', '2001:db8::/32'],
    ['[2001:db8::1]:443', '[2001:db8::1]:443'],
    ['[2001:db8::/32]:1-2/tcp', '[2001:db8::/32]:1-2/tcp'],
    ['PyPI.org', 'pypi.org'],
    ['pypi.org.:443', 'pypi.org:443'],
    ['*.example.com', '*.example.com'],
    ['*.example.com:443/tcp', '*.example.com:443/tcp'],
    ['localhost', 'localhost'],
    ['10.0.0.1/udp', '10.0.0.1/udp'],
  ];
  for (const [input, canonical] of good)
    it(`${input} → ${canonical}`, () => {
      assert.equal(formatDest(parseDest(input)), canonical);
      assert.equal(formatDest(parseDest(canonical)), canonical, 'the canonical form parses to itself');
    });

  const bad = [
    '',
    '10.0.0.1:0',
    '10.0.0.1:65536',
    '10.0.0.1:90-80',
    '10.0.0.0/33',
    '10.1.2.3/16',
    '10.0.0.1:http',
    '[10.0.0.1]:80',
    '[2001:db8::1',
    'exa mple.com',
    'example..com',
    '-bad.com',
    '*.',
    '**.example.com',
    'a.*.example.com',
    '10.0.0.1/sctp',
    '2001:db8::1:443/sctp',
    '1.2.3',
    'x;drop',
    'a"b',
  ];
  for (const b of bad)
    it(`refuses ${JSON.stringify(b)} as a bad flag value naming it`, () => {
      assert.throws(
        () => parseDest(b),
        (e: unknown) => e instanceof UsageError && e.exitCode === 125 && e.message.includes(JSON.stringify(b)),
      );
    });

  it('a wildcard covers names below it, not itself', () => {
    const w = parseDest('*.example.com');
    assert.equal(w.kind, 'name');
    assert.deepEqual(
      learnElements(
        [{ name: 'example.com', wildcard: true, set4: 'p_aaaaaaaaaaaa_0000004', set6: '' }],
        'example.com',
        [{ type: 'A', name: 'example.com', ttl: 5, data: '192.0.2.1' }],
      ),
      [],
    );
  });
});

describe('policy edits', () => {
  it('set: without --default, deny when something is allowed, else allow; rules canonical, once', () => {
    const p = applyChange('a', undefined, {
      op: 'set',
      rules: [
        { verdict: 'allow', dest: 'PyPI.org' },
        { verdict: 'allow', dest: 'pypi.org' },
      ],
    });
    assert.deepEqual(p, { default: 'deny', rules: [{ verdict: 'allow', dest: 'pypi.org' }], mark: 0 });
    assert.equal(
      applyChange('a', undefined, { op: 'set', rules: [{ verdict: 'deny', dest: '10.0.0.0/8' }] })?.default,
      'allow',
    );
  });

  it('add keeps the default and the mark; rm of a rule it lacks names it; clear removes all', () => {
    const was = { default: 'deny' as const, rules: [{ verdict: 'allow' as const, dest: '10.0.0.1' }], mark: 7 };
    const added = applyChange('a', was, { op: 'add', rules: [{ verdict: 'deny', dest: '10.0.0.2' }] });
    assert.deepEqual(added?.rules.length, 2);
    assert.equal(added?.mark, 7);
    assert.throws(
      () => applyChange('a', was, { op: 'rm', rules: [{ verdict: 'deny', dest: '10.0.0.1' }] }),
      /container a has no rule --deny 10\.0\.0\.1/,
    );
    assert.deepEqual(
      applyChange('a', was, { op: 'rm', rules: [{ verdict: 'allow', dest: '10.0.0.1/32' }] })?.rules,
      [],
    );
    assert.equal(applyChange('a', was, { op: 'clear' }), undefined);
  });
});

describe('networks a policy can govern', () => {
  const net = (driver: string, scope: 'local' | 'global' = 'local'): NetworkRecord =>
    networkRecord({ id: 'cc'.repeat(32), name: `n-${driver}`, driver, created: '' }, { scope });
  const sb = sandboxRecord({ id: 'dd'.repeat(32), name: 'ci', created: '' });
  it('a bridge: yes; macvlan (never crosses the host netfilter) and overlay: refused, naming both', () => {
    assert.doesNotThrow(() => checkPolicyNetwork(sb, net('bridge')));
    assert.throws(
      () => checkPolicyNetwork(sb, net('macvlan')),
      (e: Error) =>
        e.message ===
        "egress policy for ci cannot be enforced on network n-macvlan: a macvlan network's traffic never crosses " +
          "the host's firewall",
    );
    assert.throws(() => checkPolicyNetwork(sb, net('overlay', 'global')), /overlay network n-overlay/);
  });
});

const pol = (id12: string, over: Partial<FwPolicy> = {}): FwPolicy => ({
  id12,
  mark: 0x6e000001,
  ports: ['veth1234567'],
  bridges: ['nc-aaaaaaaaaaaa'],
  dns: ['10.1.0.1'],
  default: 'deny',
  rules: [
    { verdict: 'allow', dest: '10.0.0.0/8:443/tcp' },
    { verdict: 'deny', dest: '10.1.0.5' },
    { verdict: 'allow', dest: '*.example.com:80' },
  ],
  ...over,
});
const A = 'aaaaaaaaaaaa';
const B = 'bbbbbbbbbbbb';
const model = (...policies: FwPolicy[]): FwModel => ({ networks: [], ports: [], policies });

describe('policy in nftables', () => {
  it('one chain per sandbox: denies before allows, a counter and a comment on each rule, the default last', () => {
    const [s4, s6] = learnedSets(A, { verdict: 'allow', dest: '*.example.com:80' });
    const c = 'add rule inet netctl p_aaaaaaaaaaaa';
    assert.deepEqual(policyChain(pol(A)), [
      `add set inet netctl ${s4} { type ipv4_addr; flags timeout; }`,
      `add set inet netctl ${s6} { type ipv6_addr; flags timeout; }`,
      'add chain inet netctl p_aaaaaaaaaaaa',
      'flush chain inet netctl p_aaaaaaaaaaaa',
      `${c} meta mark set 0x00000000`,
      `${c} ct state established,related accept`,
      `${c} icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept`,
      `${c} ip daddr { 10.1.0.1 } meta l4proto { tcp, udp } th dport 53 accept`,
      `${c} ip daddr 10.1.0.5/32 counter goto egress_reject comment "r1"`,
      `${c} ip daddr 10.0.0.0/8 meta l4proto tcp th dport 443 counter accept comment "r0"`,
      `${c} ip daddr @${s4} meta l4proto { tcp, udp } th dport 80 counter accept comment "r2"`,
      `${c} ip6 daddr @${s6} meta l4proto { tcp, udp } th dport 80 counter accept comment "r2"`,
      `${c} counter goto egress_reject comment "default"`,
    ]);
  });

  it("a change names only the changed sandbox's chain; its elements and sets follow", () => {
    const before = model(pol(A), pol(B, { mark: 0x6e000002, ports: ['veth7654321'] }));
    assert.deepEqual(policyDiff(before, before), []);
    const after = model(
      pol(A, { rules: [{ verdict: 'allow', dest: '10.0.0.0/8' }] }),
      before.policies?.[1] as FwPolicy,
    );
    const d = policyDiff(before, after);
    assert.ok(d.length > 0);
    assert.ok(
      d.every((l) => !l.includes(B)),
      d.join('\n'),
    );
    const [s4] = learnedSets(A, { verdict: 'allow', dest: '*.example.com:80' });
    assert.ok(d.includes(`delete set inet netctl ${s4}`), 'the name rule went: its learned set too');
    const gone = policyDiff(before, model(before.policies?.[1] as FwPolicy));
    assert.deepEqual(
      gone.filter((l) => /element|chain/.test(l)),
      [
        'delete element bridge netctl egress_ports { "veth1234567" }',
        'delete element inet netctl egress { 0x6e000001 }',
        'flush chain inet netctl p_aaaaaaaaaaaa',
        'delete chain inet netctl p_aaaaaaaaaaaa',
      ],
    );
  });

  it('the guard takes every line netctl writes for policies, and nothing else', () => {
    const m = model(pol(A), pol(B, { mark: 0x6e000002, ports: ['veth7654321'], dns: ['fd00::1', '10.2.0.1'] }));
    assert.equal(checkScript(fullScript(m)), fullScript(m));
    const d = diffScript(model(), m) ?? '';
    assert.equal(checkScript(d), d);
    for (const evil of [
      'add rule inet netctl p_aaaaaaaaaaaa ip daddr 10.0.0.1 accept; flush ruleset',
      'add rule inet netctl p_aaaaaaaaaaaa jump user',
      'add rule inet netctl forward accept',
      'delete chain inet netctl forward',
      'add element inet netctl egress { 0x6e000001 : accept }',
      'add set inet netctl p_aaaaaaaaaaaa_0000004 { type ipv4_addr; }',
    ])
      assert.throws(() => checkScript(`${evil}\n`), /refusing unsafe text for nft/, evil);
  });
});

describe('the resolver inserts answered addresses', () => {
  const rules = [
    { name: 'api.example.test', wildcard: false, set4: 'p_aaaaaaaaaaaa_1111114', set6: 'p_aaaaaaaaaaaa_1111116' },
    { name: 'wild.test', wildcard: true, set4: 'p_aaaaaaaaaaaa_2222224', set6: 'p_aaaaaaaaaaaa_2222226' },
  ];
  it('A and AAAA of a covered name, with timeout max(TTL, 60 s) + 10 s of slack', () => {
    const lines = learnElements(rules, 'API.example.test.', [
      { type: 'CNAME', name: 'api.example.test', ttl: 300, data: 'x.cdn.test' },
      { type: 'A', name: 'x.cdn.test', ttl: 5, data: '192.0.2.4' },
      { type: 'AAAA', name: 'x.cdn.test', ttl: 600, data: '2001:db8::4' },
    ]);
    assert.deepEqual(lines, [
      'p_aaaaaaaaaaaa_1111114 { 192.0.2.4 timeout 70s }',
      'p_aaaaaaaaaaaa_1111116 { 2001:db8::4 timeout 610s }',
    ]);
  });
  it('nothing for a name no rule covers, nor for the apex of a wildcard', () => {
    const a = [{ type: 'A' as const, name: 'n', ttl: 60, data: '192.0.2.9' }];
    assert.deepEqual(learnElements(rules, 'other.test', a), []);
    assert.deepEqual(learnElements(rules, 'wild.test', a), []);
    assert.equal(learnElements(rules, 'a.b.wild.test', a).length, 1);
  });
});
