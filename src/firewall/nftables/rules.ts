// Pure nftables ruleset (docs/reference.md §11): one table `inet netctl` whose rules are fixed and whose
// per-network and per-port state lives in sets and verdict maps. A change is then only
// `add element` / `delete element` lines, addressed by value: no rule handles to look up, so a
// sync is one `nft -f` whatever the number of networks, and its cost does not grow with them.
// A full rewrite (first use, restore, drift) declares everything (declaring what exists is a
// no-op), flushes netctl's chains and sets, and refills them; the chain `user` (the admin's,
// as NETCTL-USER) is created once and never flushed. Both families share one table: rules
// that match on interfaces hold for IPv4 and IPv6 alike.
import { familyOf, isLoopback, masquerades, modeOf, type Family, type FwModel } from '../firewall.js';
import { POLICY_BASE, POLICY_FLUSH, policyDiff, policyFull } from './policy.js';

export const TABLE = 'inet netctl';

/** Sets and maps: name → declaration body. */
export const SETS: Record<string, string> = {
  bridges: 'type ifname;',
  icc: 'type ifname . ifname : verdict;',
  outbound: 'type ifname : verdict;',
  inbound: 'type nf_proto . ifname : verdict;',
  pub4: 'type ipv4_addr . inet_proto . inet_service . ifname;',
  pub6: 'type ipv6_addr . inet_proto . inet_service . ifname;',
  open4: 'type ipv4_addr . inet_proto . inet_service . ifname;',
  open6: 'type ipv6_addr . inet_proto . inet_service . ifname;',
  masq4: 'type ipv4_addr; flags interval;',
  masq6: 'type ipv6_addr; flags interval;',
  hair4: 'type ipv4_addr . ipv4_addr . inet_proto . inet_service;',
  hair6: 'type ipv6_addr . ipv6_addr . inet_proto . inet_service;',
  dnat4: 'type inet_proto . inet_service : ipv4_addr . inet_service;',
  dnat4h: 'type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service;',
  dnat6: 'type inet_proto . inet_service : ipv6_addr . inet_service;',
  dnat6h: 'type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service;',
  dnsonly: 'type ifname . ipv4_addr;',
};
/** The verdict and data maps: an element is `key : value`, deleted by its key. */
export const MAPS = new Set(['icc', 'outbound', 'inbound', 'dnat4', 'dnat4h', 'dnat6', 'dnat6h']);

/** Chains: name → declaration body ('' for a regular chain). */
export const CHAINS: Record<string, string> = {
  forward: 'type filter hook forward priority filter; policy accept;',
  prerouting: 'type nat hook prerouting priority dstnat; policy accept;',
  output: 'type nat hook output priority -100; policy accept;',
  postrouting: 'type nat hook postrouting priority srcnat; policy accept;',
  publish: '',
  input: 'type filter hook input priority filter; policy accept;',
};

/** The fixed rules, in order, per chain: the same checks as the iptables chains, in the same order. */
export const RULES: Record<string, string[]> = {
  forward: [
    'jump user',
    // Isolation: from one netctl bridge to another (a pair in @icc is one bridge to itself).
    'iifname @bridges oifname @bridges iifname . oifname != @icc drop',
    // Published ports: only connections that came through the DNAT (loopback-published ports never are listed).
    'ct status dnat ip daddr . meta l4proto . th dport . oifname @pub4 accept',
    'ct status dnat ip6 daddr . meta l4proto . th dport . oifname @pub6 accept',
    // routed: the published container port is the way in.
    'ip daddr . meta l4proto . th dport . oifname @open4 accept',
    'ip6 daddr . meta l4proto . th dport . oifname @open6 accept',
    'iifname . oifname vmap @icc',
    'iifname vmap @outbound',
    'oifname @bridges ct state established,related accept',
    // Nothing else enters a network (unless nat-unprotected): not routed traffic, not another network.
    'meta nfproto . oifname vmap @inbound',
  ],
  prerouting: ['fib daddr type local jump publish'],
  // The host's own connections to a loopback address are never DNATed (as iptables' OUTPUT jump).
  output: [
    'ip daddr != 127.0.0.0/8 fib daddr type local jump publish',
    'ip6 daddr != ::1 fib daddr type local jump publish',
  ],
  publish: [
    'meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @dnat4h',
    'meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat4',
    'meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @dnat6h',
    'meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @dnat6',
  ],
  // The resolver's own address on an overlay or isolated bridge admits DNS from it, nothing else (§14).
  input: [
    'iifname . ip daddr @dnsonly meta l4proto { tcp, udp } th dport 53 accept',
    'iifname . ip daddr @dnsonly drop',
  ],
  postrouting: [
    'ip saddr . ip daddr . meta l4proto . th dport @hair4 masquerade',
    'ip6 saddr . ip6 daddr . meta l4proto . th dport @hair6 masquerade',
    'ip saddr @masq4 oifname != @bridges masquerade',
    'ip6 saddr @masq6 oifname != @bridges masquerade',
  ],
};

const q = (ifname: string) => `"${ifname}"`;
const nfproto = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');

/** Every element of every set, as nft writes it: set name → elements (maps: `key : value`). */
export function elements(m: FwModel): Map<string, string[]> {
  const out = new Map<string, string[]>(Object.keys(SETS).map((k) => [k, []]));
  const add = (set: string, e: string) => out.get(set)?.push(e);
  for (const n of m.networks) {
    const br = q(n.bridge);
    add('bridges', br);
    add('icc', `${br} . ${br} : ${n.icc ? 'accept' : 'drop'}`);
    add('outbound', `${br} : ${n.internal ? 'drop' : 'accept'}`);
    for (const f of [4, 6] as const)
      add(
        'inbound',
        `${nfproto(f)} . ${br} : ${modeOf(n, f) === 'nat-unprotected' && !n.internal ? 'accept' : 'drop'}`,
      );
    for (const s of n.subnets) if (masquerades(n, familyOf(s))) add(`masq${familyOf(s)}`, s);
  }
  for (const d of m.dnsOnly ?? []) add('dnsonly', `${q(d.bridge)} . ${d.addr}`);
  for (const p of m.ports) {
    const f = p.family;
    const to = `${p.containerIP} . ${p.proto} . ${p.containerPort} . ${q(p.bridge)}`;
    if (p.mode === 'routed') {
      add(`open${f}`, to);
      continue;
    }
    if (!isLoopback(p.hostIP)) add(`pub${f}`, to);
    const any = !p.hostIP || p.hostIP === '0.0.0.0' || p.hostIP === '::';
    add(
      any ? `dnat${f}` : `dnat${f}h`,
      `${any ? '' : `${p.hostIP} . `}${p.proto} . ${p.hostPort} : ${p.containerIP} . ${p.containerPort}`,
    );
    add(`hair${f}`, `${p.containerIP} . ${p.containerIP} . ${p.proto} . ${p.containerPort}`);
  }
  return out;
}

const keyOf = (set: string, e: string) => (MAPS.has(set) ? (e.split(' : ')[0] ?? e) : e);

/** Declares the table, its sets and chains, empties netctl's chains and sets and refills them. */
export function fullScript(m: FwModel): string {
  const lines = [`add table ${TABLE}`, `add chain ${TABLE} user`];
  for (const [name, body] of Object.entries(SETS))
    lines.push(`add ${MAPS.has(name) ? 'map' : 'set'} ${TABLE} ${name} { ${body} }`);
  for (const [name, body] of Object.entries(CHAINS))
    lines.push(body ? `add chain ${TABLE} ${name} { ${body} }` : `add chain ${TABLE} ${name}`);
  for (const name of Object.keys(CHAINS)) lines.push(`flush chain ${TABLE} ${name}`);
  for (const name of Object.keys(SETS)) lines.push(`flush ${MAPS.has(name) ? 'map' : 'set'} ${TABLE} ${name}`);
  for (const [chain, rules] of Object.entries(RULES))
    for (const r of rules) lines.push(`add rule ${TABLE} ${chain} ${r}`);
  for (const [set, els] of elements(m)) for (const e of els) lines.push(`add element ${TABLE} ${set} { ${e} }`);
  // Egress policy (policy.ts): always declared and emptied, so a rewrite leaves no stale policy enforced.
  lines.push(...POLICY_BASE, ...POLICY_FLUSH, ...policyFull(m));
  return lines.join('\n') + '\n';
}

/** Only the elements that changed (deletions first); null when nothing did. */
export function diffScript(before: FwModel, after: FwModel): string | null {
  const old = elements(before);
  const now = elements(after);
  const del: string[] = [];
  const add: string[] = [];
  for (const set of Object.keys(SETS)) {
    const a = new Set(old.get(set));
    const b = new Set(now.get(set));
    for (const e of a) if (!b.has(e)) del.push(`delete element ${TABLE} ${set} { ${keyOf(set, e)} }`);
    for (const e of b) if (!a.has(e)) add.push(`add element ${TABLE} ${set} { ${e} }`);
  }
  const policy = policyDiff(before, after);
  return del.length || add.length || policy.length ? [...del, ...add, ...policy].join('\n') + '\n' : null;
}

/** Everything netctl has in nftables, removed at once (a switch to the iptables backend). */
// `add` first: deleting a bridge table that was never made (no policy ever) would fail the transaction.
export const REMOVAL = `delete table ${TABLE}\nadd table bridge netctl\ndelete table bridge netctl\n`;
