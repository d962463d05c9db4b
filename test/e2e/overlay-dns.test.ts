// Names on overlay networks (docs/reference.md §14): each host's resolver answers at the
// overlay's gateway address on its own bridge, for the endpoints of every host; with the
// agent, a name made on one host answers on the others within 2 s. Isolation stays: the host
// gets no route into the overlay, and a querier sees only the overlays it is on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Cluster, type ClusterHost } from '../helpers/cluster.js';
import { isRoot, run } from '../helpers/host.js';
import { sbAddr as addrOf } from '../helpers/overlay.js';

/** A sandbox's address in `cidr` (it must have one). */
const sbAddr = (h: ClusterHost, sb: string, cidr: string): string => {
  const ip = addrOf(h, sb, cidr);
  assert.ok(ip, `${sb} has an address in ${cidr}`);
  return ip;
};

const SUB = '10.216.0.0/24';
const GW = '10.216.0.1';
const SUBX = '10.217.0.0/24';
const GWX = '10.217.0.1';

/** dig from inside `ns` (nsenter: no /etc/netns files): the answers' data, or the status when there are none. */
function dig(ns: string, server: string, name: string, type = 'A'): string[] | string {
  const r = run('nsenter', [`--net=/var/run/netns/${ns}`, 'dig', `@${server}`, name, type, '+time=2', '+tries=1']);
  const answers = r.out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/).slice(4).join(' '));
  return answers.length ? answers : (/status: ([A-Z]+)/.exec(r.out)?.[1] ?? 'no answer');
}

describe('names on overlay networks across hosts', { skip: !isRoot && 'needs root' }, () => {
  let c: Cluster;
  let h1: ClusterHost, h2: ClusterHost;
  let x1 = '',
    x2 = '',
    y2 = '';

  before(async () => {
    c = await Cluster.start();
    [h1, h2] = c.hosts;
    [x1, x2, y2] = [h1.name('x1'), h2.name('x2'), h2.name('y2')];
    h1.ok('create', '-d', 'overlay', '--subnet', SUB, 'ovd');
    h1.ok('create', '-d', 'overlay', '--subnet', SUBX, 'ovx');
    h1.ok('sandbox', 'create', x1, '--net', 'ovd', '--alias', 'web');
  });
  after(async () => {
    const left = await c?.removeAll();
    await c?.destroy();
    assert.deepEqual(left, [], 'nothing leaked');
  });

  it("a host's resolver answers names of its own and of other hosts' endpoints at the gateway", () => {
    h2.ok('sandbox', 'create', x2, '--net', 'ovd');
    h2.ok('sandbox', 'create', y2, '--net', 'ovx');
    const ipX1 = sbAddr(h1, x1, SUB);
    const ipX2 = sbAddr(h2, x2, SUB);
    assert.deepEqual(dig(x2, GW, x1), [ipX1], "h2 answers h1's endpoint (read at its connect)");
    assert.deepEqual(dig(x2, GW, 'WEB'), [ipX1], 'and its alias');
    assert.deepEqual(dig(x2, GW, x2), [ipX2], 'and its own');
    assert.equal(dig(x1, GW, x1).toString(), ipX1, "h1's resolver, its own endpoint");
    assert.match(readFileSync(`/etc/netns/${x1}/resolv.conf`, 'utf8'), new RegExp(`^nameserver ${GW}$`, 'm'));
  });

  it('with the agent, a name made on another host answers within 2 s', async () => {
    c.startAgent(h1);
    const z2 = h2.name('z2');
    h2.ok('sandbox', 'create', z2, '--net', 'ovd', '--alias', 'late');
    const ip = sbAddr(h2, z2, SUB);
    const ok = await h1.until(() => JSON.stringify(dig(x1, GW, 'late')) === JSON.stringify([ip]), 2000);
    assert.ok(ok, `h1 answers ${z2}'s alias within 2 s: ${JSON.stringify(dig(x1, GW, 'late'))}`);
    h2.ok('sandbox', 'rm', z2);
    assert.ok(await h1.until(() => !Array.isArray(dig(x1, GW, 'late')), 2000), 'and forgets it');
  });

  it("doctor and restore: the resolver's rule or the whole bridge gone, made again", () => {
    const ipX1 = sbAddr(h1, x1, SUB);
    run('ip', ['-n', h2.ns, 'rule', 'del', 'from', GW, 'lookup', '5353']);
    assert.equal(dig(x2, GW, x1).toString().includes(ipX1), false, 'no way back for the answer');
    const doc = h2.netctl('doctor');
    assert.equal(doc.code, 1);
    assert.match(doc.out, /resolver's address 10\.216\.0\.1 .* routing rule is missing/);
    h2.ok('restore');
    assert.deepEqual(dig(x2, GW, x1), [ipX1], 'answered again');
    // The bridge deleted by hand: the rule stays behind, and restore must not trip over it.
    const holders = run('ip', ['-n', h2.ns, '-j', 'addr', 'show', 'to', `${GW}/32`]).out;
    const dev = (JSON.parse(holders || '[]') as Array<{ ifname: string }>)[0]?.ifname;
    assert.ok(dev, 'the gateway sits on the bridge');
    run('ip', ['-n', h2.ns, 'link', 'del', dev]);
    h2.ok('restore');
    const rules = run('ip', ['-n', h2.ns, '-4', 'rule', 'show'])
      .out.split('\n')
      .filter((l) => l.includes(GW));
    assert.equal(rules.length, 1, rules.join('\n'));
    assert.equal(h2.netctl('doctor').code, 0, h2.netctl('doctor').out);
    assert.deepEqual(dig(x2, GW, x1), [ipX1], 'answered after the bridge came back');
  });

  it('scoping and isolation: no names of an overlay the querier is not on; no host route into it', () => {
    assert.ok(!Array.isArray(dig(x1, GW, y2)), 'y2 is on ovx only');
    assert.ok(!Array.isArray(dig(y2, GWX, x1)), 'x1 is on ovd only');
    assert.deepEqual(dig(y2, GWX, y2), [sbAddr(h2, y2, SUBX)]);
    const route = run('ip', ['-n', h2.ns, 'route', 'get', sbAddr(h2, x2, SUB)]).out;
    assert.doesNotMatch(route, /dev ov/, `the main table has no route into the overlay: ${route}`);
    assert.equal(h2.ping(y2, sbAddr(h2, x2, SUB)), false, 'ovx cannot reach ovd');
    const ls = h2.ok('dns', 'ls');
    assert.match(ls, /^ovd\s+10\.216\.0\.1\s/m);
    assert.doesNotMatch(ls, /gwbridge/, 'the gwbridge has no names');
  });
});
