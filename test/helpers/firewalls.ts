// What the firewall e2e suite needs to know of each backend: how to set up an administrator's
// own state (which netctl must leave alone), how to read netctl's rules, and how to wipe them.
// One suite body (firewall.test.ts) runs against each.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestHost } from './host.js';

export type BackendName = 'iptables' | 'nftables';

export interface FwUnderTest {
  name: BackendName;
  /** Makes the test host's netctl use this backend (its config.json). */
  choose(h: TestHost): void;
  /** An administrator's own rules, chains and policies. */
  admin(h: TestHost): void;
  /** They are all still there; plus an admin rule in netctl's user chain survives. */
  adminIntact(h: TestHost, afterUserRule: boolean): void;
  addUserRule(h: TestHost): void;
  /** netctl's rules as comparable, order-free text. */
  rules(h: TestHost): string[];
  /** Whether a published port is DNATed to ip:port. */
  dnatTo(h: TestHost, ip: string, port: number): boolean;
  /** Whether anything of netctl's names `what` (a container address, a subnet). */
  mentions(h: TestHost, what: string): boolean;
  masquerades(h: TestHost, subnet: string): boolean;
  /** The text of netctl's rules for a port with protocol `proto` and host port `port`. */
  publishes(h: TestHost, proto: string, port: number): boolean;
  /** Everything netctl wrote is in netctl's own chains/table with one jump per built-in chain. */
  owned(h: TestHost): void;
  /** What an admin's `iptables -F` / `nft flush ruleset` does. */
  wipe(h: TestHost): void;
  /** Whether this backend holds any rules of netctl's. */
  present(h: TestHost): boolean;
}

const inNs = (h: TestHost, file: string, ...args: string[]) => h.run('ip', ['netns', 'exec', h.ns, file, ...args]);
const ok = (r: { code: number; err: string }) => assert.equal(r.code, 0, r.err);
const choose = (name: BackendName) => (h: TestHost) =>
  writeFileSync(join(h.root, 'config.json'), JSON.stringify({ 'firewall-backend': name }));
const save = (h: TestHost) => `${h.iptablesSave()}${inNs(h, 'ip6tables-save').out}`;
const nftTable = (h: TestHost) => inNs(h, 'nft', 'list', 'table', 'inet', 'netctl').out;
const esc = (s: string) => s.replace(/[.[\]:]/g, '\\$&');

export const iptables: FwUnderTest = {
  name: 'iptables',
  choose: choose('iptables'),
  admin(h) {
    ok(h.iptables('-P', 'FORWARD', 'DROP'));
    ok(h.iptables('-N', 'ADMIN'));
    ok(h.iptables('-A', 'ADMIN', '-s', '203.0.113.0/24', '-j', 'DROP'));
    ok(h.iptables('-A', 'INPUT', '-j', 'ADMIN'));
  },
  addUserRule(h) {
    ok(h.iptables('-A', 'NETCTL-USER', '-s', '198.51.100.0/24', '-j', 'DROP'));
  },
  adminIntact(h, user) {
    const s = h.iptablesSave();
    assert.match(s, /:FORWARD DROP/);
    assert.match(s, /-A ADMIN -s 203\.0\.113\.0\/24 -j DROP/);
    assert.match(s, /-A INPUT -j ADMIN/);
    if (user) assert.match(s, /-A NETCTL-USER -s 198\.51\.100\.0\/24 -j DROP/);
  },
  rules: (h) =>
    save(h)
      .split('\n')
      .filter((l) => l.startsWith('-A ') && l.includes('netctl:'))
      .sort(),
  dnatTo: (h, ip, port) =>
    new RegExp(`DNAT --to-destination ${esc(ip.includes(':') ? `[${ip}]` : ip)}:${port}\\b`).test(save(h)),
  mentions: (h, what) =>
    save(h)
      .split('\n')
      .some((l) => l.includes('netctl:') && l.includes(what)),
  masquerades: (h, subnet) => new RegExp(`-s ${esc(subnet)} .*MASQUERADE`).test(save(h)),
  publishes: (h, proto, port) => new RegExp(`-p ${proto} -m ${proto} --dport ${port} .*-j DNAT`).test(save(h)),
  owned(h) {
    // ip6tables holds netctl's chains only while an IPv6 network exists.
    for (const s of [h.iptablesSave(), inNs(h, 'ip6tables-save').out].filter((t) => t.includes('NETCTL'))) {
      const ours = s.split('\n').filter((l) => /NETCTL|netctl/.test(l) && l.startsWith('-A'));
      for (const l of ours) assert.match(l, /--comment "?netctl:(base|[0-9a-f]{12})"?/, l);
      for (const ch of ['FORWARD', 'PREROUTING', 'OUTPUT', 'POSTROUTING']) {
        assert.equal(s.split('\n').filter((l) => l.startsWith(`-A ${ch} `) && l.includes('-j NETCTL')).length, 1, ch);
      }
      assert.match(s, /-A NETCTL-USER .*-j RETURN/);
    }
    assert.equal(inNs(h, 'nft', 'list', 'table', 'inet', 'netctl').code, 1, 'no nftables table');
  },
  wipe(h) {
    for (const tool of ['iptables', 'ip6tables'])
      for (const t of ['filter', 'nat']) for (const op of ['-F', '-X']) ok(inNs(h, tool, '-t', t, op));
  },
  present: (h) => /NETCTL/.test(save(h)),
};

export const nftables: FwUnderTest = {
  name: 'nftables',
  choose: choose('nftables'),
  admin(h) {
    // nftables' own tables, and iptables' (iptables-nft): netctl's table must leave both alone.
    ok(
      h.run('ip', [
        'netns',
        'exec',
        h.ns,
        'nft',
        'add table inet admin; add set inet admin blocked { type ipv4_addr; }; add element inet admin ' +
          'blocked { 203.0.113.7 }; add chain inet admin input { type filter hook input priority 0; policy ' +
          'accept; }; add rule inet admin input ip saddr @blocked drop',
      ]),
    );
    ok(h.iptables('-N', 'ADMIN'));
    ok(h.iptables('-A', 'ADMIN', '-s', '203.0.113.0/24', '-j', 'DROP'));
  },
  addUserRule(h) {
    ok(inNs(h, 'nft', 'add', 'rule', 'inet', 'netctl', 'user', 'ip', 'saddr', '198.51.100.0/24', 'drop'));
  },
  adminIntact(h, user) {
    const admin = inNs(h, 'nft', 'list', 'table', 'inet', 'admin').out;
    assert.match(admin, /203\.0\.113\.7/);
    assert.match(admin, /ip saddr @blocked drop/);
    assert.match(h.iptablesSave(), /-A ADMIN -s 203\.0\.113\.0\/24 -j DROP/);
    assert.doesNotMatch(h.iptablesSave(), /NETCTL/);
    if (user) assert.match(nftTable(h), /chain user \{\n\t\tip saddr 198\.51\.100\.0\/24 drop/);
  },
  rules(h) {
    // Set elements are printed in the kernel's order: compare them as sorted JSON.
    const r = inNs(h, 'nft', '-j', 'list', 'table', 'inet', 'netctl');
    if (r.code !== 0) return [];
    const objs = (JSON.parse(r.out) as { nftables: Array<Record<string, Record<string, unknown>>> }).nftables;
    return objs
      .flatMap((o) => {
        const [kind, v] = Object.entries(o)[0] ?? ['', {}];
        // The admin's chain: its rules are not netctl's (and a flush of the ruleset takes them).
        if (kind === 'rule' && v['chain'] === 'user') return [];
        if (kind === 'rule') return [`rule ${String(v['chain'])} ${JSON.stringify(v['expr'])}`];
        if (kind === 'set' || kind === 'map')
          return ((v['elem'] as unknown[] | undefined) ?? []).map(
            (e) => `${kind} ${String(v['name'])} ${JSON.stringify(e)}`,
          );
        if (kind === 'chain') return [`chain ${String(v['name'])} ${String(v['hook'] ?? '')}`];
        return [];
      })
      .sort();
  },
  dnatTo: (h, ip, port) => new RegExp(`: ${esc(ip)} \\. ${port}\\b`).test(nftTable(h)),
  mentions: (h, what) => nftTable(h).includes(what),
  masquerades: (h, subnet) => /set masq[46] \{[^}]*elements = \{[^}]*/.exec(nftTable(h))?.[0].includes(subnet) ?? false,
  publishes: (h, proto, port) => new RegExp(`${proto} \\. ${port} :`).test(nftTable(h)),
  owned(h) {
    const tables = inNs(h, 'nft', 'list', 'tables').out.trim().split('\n').sort();
    assert.ok(tables.includes('table inet netctl'), tables.join(','));
    assert.doesNotMatch(save(h), /NETCTL|netctl/, 'nothing of netctl in iptables');
    assert.match(
      nftTable(h),
      /chain forward \{\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tjump user\n/,
    );
  },
  wipe(h) {
    ok(inNs(h, 'nft', 'flush', 'ruleset'));
  },
  present: (h) => inNs(h, 'nft', 'list', 'table', 'inet', 'netctl').code === 0,
};

export const BACKENDS = [iptables, nftables];
