// netctl's resolver (docs/reference.md §14), queried as a container netctl did not make queries
// it: `dig` from a namespace with no /etc/netns files (entered with nsenter), at the address
// the network's resolv.conf names. The host's upstream is a DNS server this test runs in its
// own "outside" namespace, named by /etc/netns/HOST/resolv.conf: nothing is forwarded anywhere
// else.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

const TOOL = fileURLToPath(new URL('../helpers/dns-tool.js', import.meta.url));
const UPSTREAM = '192.0.2.2';
const GW_A = '10.242.1.1';
const GW_B = '10.242.2.1';

const settle = () => new Promise((r) => setTimeout(r, 200));

interface Dig {
  status: string;
  answers: string[];
}

/** One query with dig from inside `ns` (entered with nsenter: no /etc/netns bind mounts). */
function dig(ns: string, server: string, name: string, type = 'A', extra: string[] = []): Dig {
  const r = run('nsenter', [
    `--net=/var/run/netns/${ns}`,
    'dig',
    `@${server}`,
    name,
    type,
    '+time=3',
    '+tries=1',
    '+noall',
    '+comments',
    '+answer',
    ...extra,
  ]);
  const status = /status: ([A-Z]+)/.exec(r.out)?.[1] ?? `no answer (${r.out.trim() || r.err.trim()})`;
  const answers = r.out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/).slice(3).join(' '));
  return { status, answers };
}

describe("netctl's resolver", { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let upstream: ChildProcess;
  let upstreamLog = '';
  let outside: string;
  const etc = () => `/etc/netns/${h.ns}`;
  // Foreign namespaces: made by "another runtime" (ip netns add), adopted by connect.
  let A1: string, A2: string, B1: string, AB: string, I1: string;
  const resolverPids = () => h.resolverPids();

  before(async () => {
    h = new TestHost();
    outside = h.outside();
    mkdirSync(etc(), { recursive: true });
    writeFileSync(`${etc()}/resolv.conf`, `nameserver 127.0.0.53\nnameserver ${UPSTREAM}\nsearch example.test\n`);
    upstream = spawn('nsenter', [
      `--net=/var/run/netns/${outside}`,
      process.execPath,
      TOOL,
      'serve',
      UPSTREAM,
      JSON.stringify({ 'ext.example.test': '198.51.100.7' }),
    ]);
    await new Promise<void>((resolve, reject) => {
      upstream.stdout?.on('data', (d: Buffer) => {
        upstreamLog += d.toString();
        if (upstreamLog.includes('ready')) resolve();
      });
      upstream.once('exit', (c) => reject(new Error(`upstream DNS server exited ${c}`)));
    });
    [A1, A2, B1, AB, I1] = ['a1', 'a2', 'b1', 'ab', 'i1'].map((n) => h.name(n)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    h.ok('create', '--subnet', '10.242.1.0/24', '--ipv6', '--subnet', 'fd42:1::/64', 'neta');
    h.ok('create', '--subnet', '10.242.2.0/24', 'netb');
    h.ok('create', '--subnet', '10.242.3.0/24', '--internal', 'neti');
    assert.deepEqual(resolverPids(), [], 'no resolver before the first endpoint');
    for (const n of [A1, A2, B1, AB, I1]) h.foreignNetns(n);
    h.ok('connect', 'neta', A1, '--ip', '10.242.1.11', '--alias', 'Web');
    h.ok('connect', 'neta', A2, '--ip', '10.242.1.12', '--ip6', 'fd42:1::12');
    h.ok('connect', 'netb', B1, '--ip', '10.242.2.21', '--alias', 'web');
    h.ok('connect', 'neta', AB, '--ip', '10.242.1.30');
    h.ok('connect', 'netb', AB, '--ip', '10.242.2.30');
    h.ok('connect', 'neti', I1, '--ip', '10.242.3.41');
  });

  after(() => {
    upstream.kill();
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
    assert.equal(existsSync(etc()), false, "the host's resolv.conf went with it");
    assert.deepEqual(resolverPids(), [], 'no resolver left');
  });

  it('one resolver serves every network; dns ls and inspect show it', () => {
    assert.equal(resolverPids().length, 1, 'one process');
    const rows = h
      .ok('dns', 'ls', '--format', 'json')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Network: string; Address: string; Pid: number; Records: number });
    assert.deepEqual(rows.map((r) => r.Network).sort(), ['neta', 'netb', 'neti']);
    assert.equal(rows.find((r) => r.Network === 'netb')?.Address, GW_B);
    assert.equal(String(rows[0]?.Pid), resolverPids()[0]);
    // neta: a1, a2, ab by name and 12-hex ID, plus the alias Web.
    assert.equal(rows.find((r) => r.Network === 'neta')?.Records, 7);
    const [nw] = JSON.parse(h.ok('inspect', 'neta')) as Array<{ Status: { DNS?: unknown } }>;
    assert.deepEqual(nw?.Status.DNS, { Address: GW_A, Running: true });
    const [br] = JSON.parse(h.ok('inspect', 'bridge')) as Array<{ Status: { DNS?: unknown } }>;
    assert.equal(br?.Status.DNS, undefined, 'the predefined bridge has no resolver, as in Docker');
  });

  it('answers names, aliases and 12-hex IDs, case-insensitively, from a namespace with no netctl files', () => {
    assert.equal(existsSync(`/etc/netns/${A1}`), false, 'an adopted namespace gets no name files');
    assert.deepEqual(dig(A1, GW_A, A2).answers, ['A 10.242.1.12']);
    assert.deepEqual(dig(A1, GW_A, `${A2.toUpperCase()}.`).answers, ['A 10.242.1.12'], 'case and trailing dot');
    assert.deepEqual(dig(A1, GW_A, A2, 'AAAA').answers, ['AAAA fd42:1::12']);
    assert.deepEqual(dig(A2, GW_A, 'web').answers, ['A 10.242.1.11'], 'alias, any case');
    const id = (JSON.parse(h.ok('sandbox', 'inspect', A2)) as Array<{ Id: string }>)[0]?.Id.slice(0, 12) ?? '';
    assert.match(id, /^[0-9a-f]{12}$/);
    assert.deepEqual(dig(A1, GW_A, id).answers, ['A 10.242.1.12'], '12-hex ID');
    // No --dns-search: the host's search domains are its (its resolv.conf would carry them).
    assert.deepEqual(dig(A1, GW_A, `${A2}.example.test`).answers, ['A 10.242.1.12'], "the host's search domain");
    assert.deepEqual(dig(A1, GW_A, `${A2}.other.test`).answers, [], 'not a search domain');
  });

  it('scopes names to the networks the querier is on; a shared peer answers with its shared address', () => {
    assert.deepEqual(dig(A1, GW_A, 'web').answers, ['A 10.242.1.11'], "neta's web, not netb's");
    assert.deepEqual(dig(B1, GW_B, 'web').answers, ['A 10.242.2.21'], "netb's web");
    assert.equal(dig(A1, GW_A, B1).status, 'NXDOMAIN', 'a name of another network is unknown (the upstream says so)');
    assert.deepEqual(dig(B1, GW_B, AB).answers, ['A 10.242.2.30'], 'on netb: its netb address');
    assert.deepEqual(dig(A1, GW_A, AB).answers, ['A 10.242.1.30'], 'on neta: its neta address');
    assert.deepEqual(dig(AB, GW_A, B1).answers, ['A 10.242.2.21'], 'a querier on both sees both');
    assert.deepEqual(dig(AB, GW_B, A1).answers, ['A 10.242.1.11']);
  });

  it('PTR for endpoint addresses (v4 and v6), within the same scope', () => {
    assert.deepEqual(dig(A1, GW_A, '12.1.242.10.in-addr.arpa', 'PTR').answers, [`PTR ${A2}.`]);
    const v6 = '2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.2.4.d.f.ip6.arpa'; // fd42:1::12
    assert.deepEqual(dig(A1, GW_A, v6, 'PTR').answers, [`PTR ${A2}.`]);
    assert.notDeepEqual(
      dig(A1, GW_A, '21.2.242.10.in-addr.arpa', 'PTR').answers,
      [`PTR ${B1}.`],
      'not across networks',
    );
  });

  it('NODATA, not NXDOMAIN, for a type a known name has no record of (aardvark-dns#679)', () => {
    const r = dig(AB, GW_B, B1, 'AAAA'); // netb has no IPv6
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(r.answers, []);
    const mx = dig(A2, GW_A, A1, 'MX');
    assert.deepEqual([mx.status, mx.answers], ['NOERROR', []]);
  });

  it("forwards other names to the host's upstream (its own resolv.conf, loopback skipped)", async () => {
    upstreamLog = '';
    assert.deepEqual(dig(A1, GW_A, 'ext.example.test').answers, ['A 198.51.100.7']);
    assert.equal(dig(A1, GW_A, 'nope.example.test').status, 'NXDOMAIN', "the upstream's NXDOMAIN");
    await settle(); // dig ran synchronously: the upstream's lines are read now
    assert.match(upstreamLog, /q ext\.example\.test A/, 'the query reached the test upstream');
  });

  it('nothing is forwarded from an --internal network', async () => {
    upstreamLog = '';
    const r = dig(I1, '10.242.3.1', 'ext.example.test');
    assert.ok(['REFUSED', 'SERVFAIL'].includes(r.status), r.status);
    assert.deepEqual(dig(A1, GW_A, 'ext.example.test').answers, ['A 198.51.100.7'], 'from neta, it is');
    await settle();
    assert.deepEqual(
      upstreamLog.trim().split('\n'),
      ['q ext.example.test A'],
      "only neta's query reached the upstream",
    );
    assert.deepEqual(dig(I1, '10.242.3.1', I1).answers, ['A 10.242.3.41'], 'its own names still resolve');
  });

  it('an isolated bridge (no gateway of the host) still gets names, from its gateway address alone', async () => {
    const mode = 'com.docker.network.bridge.gateway_mode_ipv4=isolated';
    h.ok('create', '--internal', '--subnet', '10.242.6.0/24', '-o', mode, 'iso');
    const [x, y] = [h.name('iso1'), h.name('iso2')];
    for (const n of [x, y]) h.foreignNetns(n);
    h.ok('connect', 'iso', x, '--ip', '10.242.6.11');
    h.ok('connect', 'iso', y, '--ip', '10.242.6.12', '--alias', 'isopeer');
    const addrs = () =>
      h
        .run('ip', ['-n', h.ns, '-4', '-o', 'addr', 'show'])
        .out.split('\n')
        .filter((l) => l.includes('10.242.6.'));
    assert.equal(addrs().length, 1, `only the /32 for the resolver: ${addrs().join('; ')}`);
    assert.match(addrs()[0] ?? '', /10\.242\.6\.1\/32/);
    assert.deepEqual(dig(x, '10.242.6.1', 'isopeer').answers, ['A 10.242.6.12']);
    assert.deepEqual(dig(x, '10.242.6.1', '12.6.242.10.in-addr.arpa', 'PTR').answers, [`PTR ${y}.`]);
    // That address admits DNS alone: a service of the host is not reachable through it.
    await h.serve(null, 8053);
    assert.notEqual(h.ask(null, '127.0.0.1', 8053), '', 'the service answers on the host');
    assert.equal(h.ask(x, '10.242.6.1', 8053), '', 'not from the isolated network');
    // Still isolated: the host routes nothing else into it.
    assert.equal(h.run('ip', ['-n', h.ns, 'route', 'get', '10.242.6.11']).out.includes('10.242.6.1 '), false);
    assert.match(h.ok('inspect', 'iso'), /"Address": "10\.242\.6\.1"/);
    assert.equal(h.netctl('doctor').code, 0, 'no drift');
    h.run('ip', ['-n', h.ns, 'rule', 'del', 'from', '10.242.6.1', 'lookup', '5353']);
    const doc = h.netctl('doctor');
    assert.equal(doc.code, 1);
    assert.match(doc.out + doc.err, /resolver's address 10\.242\.6\.1 .*routing rule is missing/);
    h.ok('restore');
    assert.deepEqual(dig(x, '10.242.6.1', 'isopeer').answers, ['A 10.242.6.12'], 'restore put the rule back');
    h.ok('update', '-o', 'netctl.dns=false', 'iso');
    assert.equal(addrs().length, 0, 'no address of the host on it any more');
    h.ok('update', '-o', 'netctl.dns=true', 'iso');
    assert.deepEqual(dig(y, '10.242.6.1', x).answers, ['A 10.242.6.11']);
    h.ok('sandbox', 'rm', x, y);
    h.ok('rm', 'iso');
    assert.equal(h.run('ip', ['-n', h.ns, 'rule', 'show']).out.includes('10.242.6.1'), false, 'its rule went');
  });

  it('forwards for a container on an internal network and one without a resolver (the predefined bridge)', () => {
    const s = h.name('both');
    h.ok('sandbox', 'create', s, '--net', 'bridge');
    h.ok('connect', 'neti', s, '--ip', '10.242.3.42');
    assert.deepEqual(readFileSync(`/etc/netns/${s}/resolv.conf`, 'utf8').match(/^nameserver .*$/gm), [
      'nameserver 10.242.3.1',
    ]);
    assert.deepEqual(dig(s, '10.242.3.1', 'ext.example.test').answers, ['A 198.51.100.7'], 'it has a way out');
    h.ok('sandbox', 'rm', s);
  });

  it('refuses a querier that is no endpoint of the network', () => {
    const r = run('nsenter', [`--net=/var/run/netns/${h.ns}`, 'dig', `@${GW_A}`, A1, '+time=2', '+tries=1']);
    assert.match(r.out, /status: REFUSED/);
  });

  it('the next upstream is tried after at most a second', () => {
    writeFileSync(`${etc()}/resolv.conf`, `nameserver 192.0.2.99\nnameserver ${UPSTREAM}\n`);
    try {
      const t = Date.now();
      assert.deepEqual(dig(A1, GW_A, 'ext.example.test').answers, ['A 198.51.100.7']);
      const took = Date.now() - t;
      assert.ok(took >= 900 && took < 2500, `answered after ${took} ms`);
    } finally {
      writeFileSync(`${etc()}/resolv.conf`, `nameserver ${UPSTREAM}\nsearch example.test\n`);
    }
  });

  it('survives a querier that leaves while its query is forwarded, its network with it', async () => {
    const n = h.name('leaver');
    h.foreignNetns(n);
    h.ok('create', '--subnet', '10.242.5.0/24', 'netl');
    h.ok('connect', 'netl', n);
    const [pid] = resolverPids();
    writeFileSync(`${etc()}/resolv.conf`, `nameserver 192.0.2.99\nnameserver ${UPSTREAM}\n`);
    try {
      const q = spawn('nsenter', [`--net=/var/run/netns/${n}`, 'dig', '@10.242.5.1', 'ext.example.test', '+time=3']);
      const done = new Promise((r) => q.on('close', r));
      await settle(); // the first upstream is dead: the query waits a second there
      h.ok('disconnect', 'netl', n); // netl leaves the resolver, its socket closes before the answer goes out
      await done;
      assert.deepEqual(resolverPids(), [pid], 'the same resolver runs');
      assert.deepEqual(dig(B1, GW_B, B1).answers, ['A 10.242.2.21'], 'and answers');
    } finally {
      writeFileSync(`${etc()}/resolv.conf`, `nameserver ${UPSTREAM}\nsearch example.test\n`);
      h.ok('sandbox', 'rm', n);
      h.ok('rm', 'netl');
    }
  });

  it('a name resolves as soon as connect returns, and is gone when disconnect returns', () => {
    const n = h.name('late');
    h.foreignNetns(n);
    h.ok('connect', 'netb', n, '--ip', '10.242.2.50', '--alias', 'late');
    assert.deepEqual(dig(B1, GW_B, 'late').answers, ['A 10.242.2.50']);
    h.ok('disconnect', 'netb', n);
    assert.equal(dig(B1, GW_B, 'late').status, 'NXDOMAIN');
    h.ok('sandbox', 'rm', n);
  });

  it('loses no query while names change (300 queries, 20 connects and disconnects)', async () => {
    const burst = spawn('nsenter', [
      `--net=/var/run/netns/${A1}`,
      process.execPath,
      TOOL,
      'burst',
      GW_A,
      A2,
      '300',
      '10',
    ]);
    let out = '';
    burst.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise((r) => burst.on('close', r));
    const n = h.name('churn');
    h.foreignNetns(n);
    for (let i = 0; i < 10; i++) {
      h.ok('connect', 'neta', n);
      h.ok('disconnect', 'neta', n);
    }
    await done;
    h.ok('sandbox', 'rm', n);
    const r = JSON.parse(out) as { sent: number; answered: number; lost: number; rcodes: Record<string, number> };
    assert.deepEqual([r.sent, r.answered, r.lost], [300, 300, 0], out);
    assert.deepEqual(r.rcodes, { 'NOERROR:1': 300 }, 'every answer held the name');
  });

  it('a dead resolver: doctor says so, the next command starts it again', () => {
    const [pid] = resolverPids();
    assert.ok(pid);
    process.kill(Number(pid), 'SIGKILL');
    const doc = h.netctl('doctor');
    assert.equal(doc.code, 1);
    assert.match(doc.out, /drift: resolver: not running/);
    assert.equal(dig(A1, GW_A, A2).status.startsWith('no answer'), true, 'nobody answers');
    const dnsOf = () => (JSON.parse(h.ok('inspect', 'neta')) as Array<{ Status: { DNS?: unknown } }>)[0]?.Status.DNS;
    assert.deepEqual(dnsOf(), { Address: GW_A, Running: false }, 'what it wrote last is not taken for it');
    h.ok('connect', 'netb', A1, '--ip', '10.242.2.11');
    assert.deepEqual(dnsOf(), { Address: GW_A, Running: true });
    assert.deepEqual(dig(A1, GW_A, A2).answers, ['A 10.242.1.12'], 'served again');
    assert.deepEqual(dig(B1, GW_B, A1).answers, ['A 10.242.2.11'], 'with the new endpoint');
    h.ok('disconnect', 'netb', A1);
    process.kill(Number(resolverPids()[0]), 'SIGKILL');
    h.ok('restore');
    assert.equal(resolverPids().length, 1, 'restore started it');
    assert.equal(h.netctl('doctor').code, 0, h.netctl('doctor').out);
  });

  it("a netctl sandbox's resolv.conf names only the resolver; --dns servers become its upstreams", () => {
    const s = h.name('own');
    h.ok(
      'sandbox',
      'create',
      s,
      '--net',
      'netb',
      '--ip',
      '10.242.2.60',
      '--dns',
      UPSTREAM,
      '--dns-search',
      'corp.test',
    );
    const conf = readFileSync(`/etc/netns/${s}/resolv.conf`, 'utf8');
    assert.deepEqual(
      conf.split('\n').filter((l) => l.startsWith('nameserver')),
      [`nameserver ${GW_B}`],
    );
    assert.match(conf, /^search corp\.test$/m);
    assert.deepEqual(dig(s, GW_B, B1).answers, ['A 10.242.2.21']);
    assert.deepEqual(dig(s, GW_B, `${B1}.corp.test`).answers, ['A 10.242.2.21'], 'its search domain');
    assert.deepEqual(dig(s, GW_B, 'ext.example.test').answers, ['A 198.51.100.7'], 'forwarded to its --dns');
    // getent as a process in the sandbox resolves through the files, then the resolver.
    const ge = run('ip', ['netns', 'exec', s, 'getent', 'hosts', AB]);
    assert.match(ge.out, /^10\.242\.2\.30\s/);
    h.ok('sandbox', 'rm', s);
  });

  it('on a network with the resolver, a hosts file lists only its sandbox, and a peer joining rewrites none', () => {
    const [s, t] = [h.name('hf1'), h.name('hf2')];
    h.ok('sandbox', 'create', s, '--net', 'netb', '--ip', '10.242.2.61', '--hostname', 'hf');
    const hosts = () => readFileSync(`/etc/netns/${s}/hosts`, 'utf8');
    const before = hosts();
    assert.match(before, /^10\.242\.2\.61\thf /m, 'itself');
    assert.doesNotMatch(before, /10\.242\.2\.21|# network/, 'no peer lines');
    const mtime = statSync(`/etc/netns/${s}/hosts`).mtimeMs;
    h.ok('sandbox', 'create', t, '--net', 'netb', '--ip', '10.242.2.62', '--alias', 'hfpeer');
    assert.equal(hosts(), before);
    assert.equal(statSync(`/etc/netns/${s}/hosts`).mtimeMs, mtime, 'not rewritten');
    // Peers come from the resolver: getent goes through the files, then DNS.
    assert.match(run('ip', ['netns', 'exec', s, 'getent', 'hosts', 'hfpeer']).out, /^10\.242\.2\.62\s/);
    // Without the resolver, the files list the peers again; with it back, only the sandbox.
    h.ok('update', '-o', 'netctl.dns=false', 'netb');
    assert.match(hosts(), /^10\.242\.2\.62\t\S+ hfpeer$/m);
    h.ok('update', '-o', 'netctl.dns=true', 'netb');
    assert.equal(hosts(), before);
    h.ok('sandbox', 'rm', s, t);
  });

  it('-o netctl.dns=false: no resolver for that network; update turns it back on', () => {
    h.ok('create', '--subnet', '10.242.4.0/24', '-o', 'netctl.dns=false', 'nodns');
    const s = h.name('nd');
    h.ok('sandbox', 'create', s, '--net', 'nodns', '--ip', '10.242.4.5');
    assert.doesNotMatch(readFileSync(`/etc/netns/${s}/resolv.conf`, 'utf8'), /10\.242\.4\.1/);
    assert.doesNotMatch(h.ok('dns', 'ls'), /nodns/);
    assert.match(dig(s, '10.242.4.1', s).status, /^no answer/);
    h.ok('update', '-o', 'netctl.dns=true', 'nodns');
    assert.match(h.ok('dns', 'ls'), /nodns/);
    const conf = () => readFileSync(`/etc/netns/${s}/resolv.conf`, 'utf8').match(/^nameserver .*$/gm);
    assert.deepEqual(conf(), ['nameserver 10.242.4.1'], 'its resolv.conf follows the update');
    assert.deepEqual(dig(s, '10.242.4.1', s).answers, ['A 10.242.4.5']);
    h.ok('update', '-o', 'netctl.dns=false', 'nodns');
    assert.notDeepEqual(conf(), ['nameserver 10.242.4.1'], 'and back: not the resolver any more');
    h.ok('update', '-o', 'netctl.dns=true', 'nodns');
    const bad = h.netctl('create', '-o', 'netctl.dns=maybe', 'baddns');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /netctl\.dns/);
    h.ok('sandbox', 'rm', s);
    h.ok('rm', 'nodns');
  });

  it('stops after the last endpoint leaves', () => {
    const pid = resolverPids()[0];
    assert.ok(pid);
    h.ok('sandbox', 'rm', A1, A2, B1, AB, I1);
    assert.deepEqual(resolverPids(), [], 'no resolver with no endpoint');
    assert.equal(h.ok('dns', 'ls').trim().split('\n').length, 1, 'dns ls: the header only');
  });
});
