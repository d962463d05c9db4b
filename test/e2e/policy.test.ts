// Egress policy (docs/reference.md §16) with real traffic: TCP listeners in the test's own
// namespaces (peers on the bridge, the test host, an "outside" namespace with documentation
// addresses), an upstream DNS server there for name rules, and dig/TCP clients in sandboxes.
// The test host's machine-wide br_netfilter switch is off (it is this namespace's own sysctl),
// so bridged traffic being governed proves the per-bridge switch netctl sets.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

const TOOL = fileURLToPath(new URL('../helpers/dns-tool.js', import.meta.url));
const TCP = fileURLToPath(new URL('../helpers/tcp.js', import.meta.url));
const GW = '10.243.1.1';
// The outside namespace's addresses: .2 runs the upstream DNS server; names resolve to the others.
const OUT = { dns: '192.0.2.2', plain: '192.0.2.3', api: '192.0.2.4', wild: '192.0.2.5', apex: '192.0.2.6' };
const RECORDS = { 'api.example.test': OUT.api, 'x.wild.test': OUT.wild, 'wild.test': OUT.apex };

/** Connects from `ns` (through nsenter: no /etc/netns files); what came back and how long it took. */
function connect(ns: string, host: string, port: number): { ok: boolean; ms: number } {
  const t = Date.now();
  const r = run('nsenter', [`--net=/var/run/netns/${ns}`, process.execPath, TCP, 'ask', host, String(port)]);
  return { ok: r.code === 0 && r.out.trim() !== '', ms: Date.now() - t };
}

function dig(ns: string, server: string, name: string): { status: string; answers: string[]; raw: string } {
  const r = run('nsenter', [
    `--net=/var/run/netns/${ns}`,
    'dig',
    `@${server}`,
    name,
    'A',
    '+time=2',
    '+tries=1',
    '+noall',
    '+comments',
    '+answer',
  ]);
  const status = /status: ([A-Z]+)/.exec(r.out)?.[1] ?? 'none';
  const answers = r.out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/).slice(4).join(' '));
  return { status, answers, raw: r.out + r.err };
}

describe('egress policy', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let outside: string;
  let upstream: ChildProcess;
  let A: string, B: string, C: string;
  const nft = (...args: string[]) => run('ip', ['netns', 'exec', h.ns, 'nft', ...args]);
  const idOf = (name: string) => Object.entries(h.store().sandboxes).find(([, s]) => s.name === name)?.[0] ?? '';
  const chain = (name: string) => nft('-j', 'list', 'chain', 'inet', 'netctl', `p_${idOf(name).slice(0, 12)}`);
  const allowed = (ns: string, host: string, port: number) => connect(ns, host, port).ok;
  /** Refused at once (RST or ICMP), not left to time out. */
  const refused = (ns: string, host: string, port: number) => {
    const c = connect(ns, host, port);
    return !c.ok && c.ms < 1500;
  };

  before(async () => {
    h = new TestHost({ env: { NETCTL_FIREWALL_BACKEND: 'nftables' } });
    run('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0']);
    run('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-ip6tables=0']);
    outside = h.outside();
    for (const a of [OUT.plain, OUT.api, OUT.wild, OUT.apex])
      run('ip', ['-n', outside, 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
    mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${h.ns}/resolv.conf`, `nameserver ${OUT.dns}\n`);
    upstream = spawn('nsenter', [
      `--net=/var/run/netns/${outside}`,
      process.execPath,
      TOOL,
      'serve',
      OUT.dns,
      JSON.stringify(RECORDS),
    ]);
    await new Promise<void>((resolve, reject) => {
      upstream.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      upstream.once('exit', (c) => reject(new Error(`upstream DNS server exited ${c}`)));
    });
    [A, B, C] = ['a', 'b', 'c'].map((n) => h.name(n)) as [string, string, string];
    h.ok('create', '--subnet', '10.243.1.0/24', 'pol');
    h.ok('sandbox', 'create', '--net', 'pol', '--ip', '10.243.1.10', A);
    h.ok('sandbox', 'create', '--net', 'pol', '--ip', '10.243.1.11', B);
    h.ok('sandbox', 'create', '--net', 'pol', '--ip', '10.243.1.12', C);
    await h.serve(outside, 80);
    await h.serve(outside, 81);
    await h.serve(B, 80);
    await h.serve(B, 81);
    await h.serve(A, 80);
    await h.serve(null, 82);
  });

  after(() => {
    upstream?.kill();
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  it('without a policy everything is reachable (the baseline the rest departs from)', () => {
    assert.ok(allowed(A, OUT.plain, 81));
    assert.ok(allowed(A, '10.243.1.11', 80));
    assert.ok(allowed(A, GW, 82));
  });

  it('by address, CIDR, port and protocol: allowed ones pass, the rest is refused at once', () => {
    h.ok('policy', 'set', A, '--allow', `${OUT.plain}:80/tcp`, '--allow', '10.243.1.0/24:81', '--deny', '10.243.1.12');
    assert.ok(allowed(A, OUT.plain, 80), 'allowed address and port');
    assert.ok(refused(A, OUT.plain, 81), 'another port of that address: RST');
    assert.ok(allowed(A, '10.243.1.11', 81), 'a peer on the same bridge, in the allowed CIDR and port');
    assert.ok(refused(A, '10.243.1.11', 80), 'the same peer, another port: bridged traffic is governed');
    assert.ok(refused(A, GW, 82), 'the host itself (input)');
    // UDP: an allowed port is tcp-only, so DNS to the upstream is refused (ICMP port-unreachable), not timed out.
    const t = Date.now();
    const d = dig(A, OUT.dns, 'api.example.test');
    assert.equal(d.status, 'none', d.raw);
    assert.ok(Date.now() - t < 1500, `dig took ${Date.now() - t} ms: ${d.raw}`);
    assert.match(d.raw, /refused|unreachable/i);
  });

  it('--deny wins over --allow; other sandboxes and inbound connections are untouched', () => {
    // 10.243.1.12 is in the allowed CIDR and port, and denied.
    assert.ok(refused(A, '10.243.1.12', 81));
    assert.ok(allowed(C, OUT.plain, 81), 'a sandbox without policy');
    assert.ok(allowed(C, '10.243.1.11', 80));
    assert.ok(allowed(B, '10.243.1.10', 80), 'a connection made to A, and its replies');
    assert.ok(allowed(h.ns, '10.243.1.10', 80), 'from the host to A');
  });

  it('policy show counts the packets of each rule and of the default', () => {
    const out = h.ok('policy', 'show', A);
    const lines = out.trim().split('\n');
    assert.match(lines[0] ?? '', /^RULE\s+DEST\s+PACKETS$/);
    const row = (dest: string) => lines.find((l) => l.split(/\s+/)[1] === dest)?.split(/\s+/) ?? [];
    assert.equal(row(`${OUT.plain}:80/tcp`)[0], 'allow');
    assert.ok(Number(row(`${OUT.plain}:80/tcp`)[2]) >= 1, out);
    assert.equal(row('10.243.1.12')[0], 'deny');
    assert.ok(Number(row('10.243.1.12')[2]) >= 1, out);
    assert.equal(row('deny')[0], 'default');
    assert.ok(Number(row('deny')[2]) >= 3, out);
    const json = h
      .ok('policy', 'show', A, '--format', 'json')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(json[0]), ['Rule', 'Dest', 'Packets']);
  });

  it('a bad DEST is a bad flag value: exit 125, one line naming it, nothing changed', () => {
    const before = h.storeText();
    const rules = chain(A).out;
    for (const bad of [
      '10.0.0.1:0',
      '10.0.0.0/33',
      'exa mple.com',
      '2001:db8::1:443/sctp',
      '[10.0.0.1]:80',
      '10.1.2.3/16',
    ]) {
      const r = h.netctl('policy', 'add', A, '--allow', bad);
      assert.equal(r.code, 125, `${bad}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.ok(r.err.includes(bad), r.err);
    }
    assert.equal(h.netctl('policy', 'set', A, '--default', 'maybe').code, 125);
    assert.equal(h.storeText(), before);
    assert.equal(chain(A).out, rules);
  });

  it('a change rewrites only that sandbox: another policy keeps its rules (same handles)', () => {
    h.ok('policy', 'set', C, '--default', 'allow', '--deny', `${OUT.plain}:81`);
    const c1 = chain(C).out;
    const stored = h.storeText();
    h.ok('policy', 'set', C, '--default', 'allow', '--deny', `${OUT.plain}:81`);
    assert.equal(h.storeText(), stored, 'the same policy again changes nothing');
    assert.equal(chain(C).out, c1);
    assert.ok(refused(C, OUT.plain, 81));
    h.ok('policy', 'add', A, '--allow', `${OUT.plain}:81`);
    assert.equal(
      chain(C).out.replace(/"packets": \d+, "bytes": \d+/g, ''),
      c1.replace(/"packets": \d+, "bytes": \d+/g, ''),
    );
    assert.ok(allowed(A, OUT.plain, 81));
    h.ok('policy', 'rm', A, '--allow', `${OUT.plain}:81`);
    assert.ok(refused(A, OUT.plain, 81));
    h.ok('policy', 'clear', C);
    assert.ok(allowed(C, OUT.plain, 81));
    assert.notEqual(chain(C).code, 0, 'its chain is gone');
  });

  it('names: allowed after resolving through netctl, not before, not through another sandbox; wildcard', () => {
    h.ok('policy', 'set', A, '--allow', 'api.example.test:80', '--allow', '*.wild.test:80');
    assert.ok(refused(A, OUT.api, 80), 'never resolved: denied');
    assert.deepEqual(dig(C, GW, 'api.example.test').answers, [OUT.api], 'C resolves it');
    assert.ok(refused(A, OUT.api, 80), "another sandbox's lookup opens nothing for A");
    assert.deepEqual(dig(A, GW, 'api.example.test').answers, [OUT.api]);
    assert.ok(allowed(A, OUT.api, 80), 'resolved through netctl: allowed');
    assert.ok(refused(A, OUT.api, 81), 'only the port of the rule');
    assert.deepEqual(dig(A, GW, 'wild.test').answers, [OUT.apex], 'a name no rule allows is still answered');
    assert.ok(refused(A, OUT.apex, 80), 'the wildcard does not cover its apex');
    assert.deepEqual(dig(A, GW, 'x.wild.test').answers, [OUT.wild]);
    assert.ok(allowed(A, OUT.wild, 80), 'a name below the wildcard');
    const set = nft('list', 'table', 'inet', 'netctl').out;
    assert.match(set, new RegExp(`${OUT.api.replace(/\./g, '\\.')} timeout 1m10s`), set);
    // Removing the rule withdraws what it allowed.
    h.ok('policy', 'rm', A, '--allow', 'api.example.test:80');
    assert.ok(refused(A, OUT.api, 80));
    assert.ok(allowed(A, OUT.wild, 80), 'a rule kept keeps what it learned');
  });

  it('is kept across stop/start and restore', () => {
    h.ok('policy', 'set', A, '--allow', '10.243.1.11:81');
    h.ok('sandbox', 'stop', A);
    h.ok('sandbox', 'start', A);
    assert.ok(allowed(A, '10.243.1.11', 81));
    assert.ok(refused(A, '10.243.1.11', 80));
    assert.deepEqual(h.netctl('doctor').out.match(/firewall: .*/g) ?? [], [], 'doctor: nothing to report');
    assert.equal(nft('delete', 'chain', 'inet', 'netctl', `p_${idOf(A).slice(0, 12)}`).code, 1, 'still jumped to');
    assert.equal(nft('flush', 'map', 'inet', 'netctl', 'egress').code, 0);
    assert.match(h.netctl('doctor').out, /firewall: egress lacks 0x[0-9a-f]{8} : jump p_/);
    assert.equal(nft('flush', 'map', 'bridge', 'netctl', 'egress_ports').code, 0);
    assert.match(h.netctl('doctor').out, /firewall: egress_ports lacks veth[0-9a-f]+ \(an egress policy\)/);
    assert.equal(nft('delete', 'table', 'inet', 'netctl').code, 0);
    assert.ok(allowed(A, '10.243.1.11', 80), 'the table gone, nothing is enforced');
    assert.match(h.netctl('doctor').out, /table inet netctl is missing/);
    h.ok('restore');
    assert.ok(refused(A, '10.243.1.11', 80), 'restore brings the policy back');
    assert.deepEqual(h.netctl('doctor').out.match(/firewall: .*/g) ?? [], []);
    assert.ok(allowed(A, '10.243.1.11', 81));
    assert.match(h.ok('sandbox', 'inspect', A), /10\.243\.1\.11:81/);
  });

  it('export writes it and apply -f makes the host match it (and changes nothing the second time)', () => {
    h.ok('policy', 'set', A, '--allow', '10.243.1.11:81', '--deny', OUT.plain);
    const file = `${h.root}/top.yaml`;
    writeFileSync(file, h.ok('export'));
    assert.match(readFileSync(file, 'utf8'), /egress:\n\s+default: deny\n\s+allow:\n\s+- 10\.243\.1\.11:81\n\s+deny:/);
    assert.match(h.ok('apply', '-f', file), /no changes/);
    writeFileSync(file, readFileSync(file, 'utf8').replace('10.243.1.11:81', '10.243.1.11:80'));
    assert.match(h.ok('apply', '-f', file), /~ sandbox .*-a: egress policy/);
    assert.ok(allowed(A, '10.243.1.11', 80));
    assert.ok(refused(A, '10.243.1.11', 81));
    assert.match(h.ok('apply', '-f', file), /no changes/);
  });

  it('a connect of a policied sandbox: the firewall knows the new veth before it exists, and governs it', async () => {
    h.ok('create', '--subnet', '10.243.2.0/24', 'pol2');
    const E = h.name('e2');
    h.ok('sandbox', 'create', '--net', 'pol2', '--ip', '10.243.2.20', E);
    await h.serve(E, 80);
    h.ok('policy', 'set', A, '--allow', '10.243.2.20:81');
    const r = h.netctl('--debug', 'connect', 'pol2', A);
    assert.equal(r.code, 0, r.err);
    const lines = r.err.split('\n');
    const firstNft = lines.findIndex((l) => /debug: nft -f/.test(l));
    const veth = lines.findIndex((l) => /link add veth/.test(l));
    assert.ok(firstNft >= 0 && veth >= 0 && firstNft < veth, r.err);
    assert.ok(refused(A, '10.243.2.20', 80), 'the new interface is governed');
    h.ok('disconnect', 'pol2', A);
    h.ok('sandbox', 'rm', E);
    h.ok('rm', 'pol2');
  });

  it('IPv6: a bracketed DEST with a port; bridged IPv6 is governed, neighbour discovery works', async () => {
    h.ok('create', '--ipv6', '--subnet', '10.243.3.0/24', '--subnet', 'fd00:243:3::/64', 'pol6');
    const [F, G] = [h.name('f6'), h.name('g6')];
    h.ok('sandbox', 'create', '--net', 'pol6', '--ip6', 'fd00:243:3::10', F);
    h.ok('sandbox', 'create', '--net', 'pol6', '--ip6', 'fd00:243:3::11', G);
    await h.serve(G, 80);
    await h.serve(G, 81);
    h.ok('policy', 'set', F, '--allow', '[fd00:243:3::11]:81/tcp');
    assert.match(h.ok('policy', 'show', F), /allow\s+\[fd00:243:3::11\]:81\/tcp/);
    assert.ok(allowed(F, 'fd00:243:3::11', 81));
    assert.ok(refused(F, 'fd00:243:3::11', 80));
    h.ok('sandbox', 'rm', F, G);
    h.ok('rm', 'pol6');
  });

  it('sandbox create --egress-default --egress-allow sets it at creation', () => {
    const D = h.name('d');
    h.ok('sandbox', 'create', '--net', 'pol', '--egress-default', 'deny', '--egress-allow', `${OUT.plain}:80`, D);
    assert.ok(allowed(D, OUT.plain, 80));
    assert.ok(refused(D, OUT.plain, 81));
    assert.equal(h.netctl('sandbox', 'create', '--egress-default', 'nope', h.name('e')).code, 125);
    h.ok('sandbox', 'rm', D);
  });

  it('refuses host and container: sandboxes, and names without a resolver network', () => {
    const H = h.name('host');
    const K = h.name('k');
    const P = h.name('p');
    h.ok('sandbox', 'create', '--net', 'host', H);
    h.ok('sandbox', 'create', '--net', `container:${B}`, K);
    for (const s of [H, K]) {
      const r = h.netctl('policy', 'set', s, '--allow', '10.0.0.0/8');
      assert.equal(r.code, 1);
      assert.match(r.err, /Error: policy needs a sandbox with its own network namespace/);
    }
    h.ok('sandbox', 'create', P); // the predefined bridge: no resolver
    const r = h.netctl('policy', 'set', P, '--allow', 'api.example.test');
    assert.match(
      r.err,
      new RegExp(`Error: policy for ${P} names DNS names but it is on no network with netctl's resolver`),
    );
    h.ok('sandbox', 'rm', K, H, P);
  });
});

describe('egress policy on the iptables backend', { skip: !isRoot && 'needs root' }, () => {
  it('is refused, naming the backend it needs, and nothing changes', () => {
    const h = new TestHost({ env: { NETCTL_FIREWALL_BACKEND: 'iptables' } });
    try {
      const S = h.name('s');
      h.ok('create', '--subnet', '10.243.9.0/24', 'ipt');
      h.ok('sandbox', 'create', '--net', 'ipt', S);
      const before = h.storeText();
      const r = h.netctl('policy', 'set', S, '--allow', '10.0.0.0/8');
      assert.equal(r.code, 1);
      assert.match(r.err, /^Error: egress policy needs the nftables backend/);
      assert.equal(h.storeText(), before);
    } finally {
      assert.deepEqual(h.cleanup(), [], 'nothing leaked');
    }
  });
});
