// Egress policy in nftables (docs/reference.md §16). Where and how:
// - A bridged packet shows only its bridge as iifname in the inet hooks (and a routed one too:
//   it entered through the bridge device), so the host's `bridge netctl` table marks each packet
//   by its ingress port (the sandbox's host veth) in prerouting, before br_netfilter hands it to
//   the inet hooks. The sandbox's bridges get nf_call_iptables/ip6tables (per bridge: the
//   machine-wide switch stays as it is) so its bridged traffic reaches them, with conntrack.
// - `inet netctl` chain `egress` (prerouting, after conntrack, before DNAT and routing) jumps by
//   a verdict map keyed by that mark to the sandbox's own chain `p_<id12>`: one lookup, whatever
//   the number of sandboxes. That chain clears the mark first (no fwmark routing rule of the host
//   ever sees it), lets replies, ND and DNS to netctl's resolver pass, then the deny rules, the
//   allow rules and the default, each with a counter and a comment `r<N>`/`default` that
//   `policy show` reads back. Denied: TCP RST, anything else ICMP port-unreachable.
// - A name rule matches addresses in sets the resolver fills (`p_<id12>_<hash>4|6`, with
//   timeouts), named after the rule's text: a rule kept keeps its set, one removed takes it along.
// A policy change rewrites that one chain (flush and refill) and its map elements in the same
// `nft -f` as any other change; no other sandbox's chain is named.
import { parseDest, type Dest } from '../../lib/dest.js';
import type { FwModel, FwPolicy } from '../firewall.js';
import { chainOf, learnedSets } from '../../model/egress.js';

export { chainOf, learnedSets };

export const BRIDGE_TABLE = 'bridge netctl';
const T = 'inet netctl';

/** Declares (idempotently) the fixed part; its chains are flushed and refilled. */
export const POLICY_BASE: string[] = [
  `add table ${BRIDGE_TABLE}`,
  `add map ${BRIDGE_TABLE} egress_ports { type ifname : mark; }`,
  `add chain ${BRIDGE_TABLE} prerouting { type filter hook prerouting priority -300; policy accept; }`,
  `flush chain ${BRIDGE_TABLE} prerouting`,
  `add rule ${BRIDGE_TABLE} prerouting meta mark set iifname map @egress_ports`,
  `add map ${T} egress { type mark : verdict; }`,
  `add chain ${T} egress { type filter hook prerouting priority -150; policy accept; }`,
  `flush chain ${T} egress`,
  `add rule ${T} egress meta mark vmap @egress`,
  `add chain ${T} egress_reject`,
  `flush chain ${T} egress_reject`,
  `add rule ${T} egress_reject meta l4proto tcp reject with tcp reset`,
  `add rule ${T} egress_reject reject`,
];
/** A full rewrite also empties the maps (a policy the store no longer has must not stay enforced). */
export const POLICY_FLUSH: string[] = [`flush map ${BRIDGE_TABLE} egress_ports`, `flush map ${T} egress`];

export const markText = (m: number): string => `0x${(m >>> 0).toString(16).padStart(8, '0')}`;

/** `meta l4proto … th dport …` of a DEST, '' when it names neither. */
function l4(d: Dest): string {
  const proto = d.proto ?? (d.ports ? '{ tcp, udp }' : '');
  const ports = d.ports ? `th dport ${d.ports[0]}${d.ports[1] !== d.ports[0] ? `-${d.ports[1]}` : ''}` : '';
  return [proto && `meta l4proto ${proto}`, ports].filter(Boolean).join(' ');
}

/** The rule lines of one DEST: one for an address, one per family for a name. */
function ruleLines(p: FwPolicy, i: number): string[] {
  const r = p.rules[i];
  if (!r) return [];
  const d = parseDest(r.dest);
  const verdict = r.verdict === 'allow' ? 'accept' : 'goto egress_reject';
  const tail = `${l4(d) ? `${l4(d)} ` : ''}counter ${verdict} comment "r${i}"`;
  const at = `add rule ${T} ${chainOf(p.id12)}`;
  if (d.kind === 'net') return [`${at} ${d.family === 4 ? 'ip' : 'ip6'} daddr ${d.cidr} ${tail}`];
  const [s4, s6] = learnedSets(p.id12, r);
  return [`${at} ip daddr @${s4} ${tail}`, `${at} ip6 daddr @${s6} ${tail}`];
}

/** The sets a policy's name rules need, by name → declaration. */
export function policySets(p: FwPolicy): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of p.rules) {
    if (parseDest(r.dest).kind !== 'name') continue;
    const [s4, s6] = learnedSets(p.id12, r);
    out.set(s4, `add set ${T} ${s4} { type ipv4_addr; flags timeout; }`);
    out.set(s6, `add set ${T} ${s6} { type ipv6_addr; flags timeout; }`);
  }
  return out;
}

/** The sandbox's chain, declared, emptied and refilled. */
export function policyChain(p: FwPolicy): string[] {
  const ch = chainOf(p.id12);
  const at = `add rule ${T} ${ch}`;
  const dns4 = p.dns.filter((a) => !a.includes(':'));
  const dns6 = p.dns.filter((a) => a.includes(':'));
  const order = p.rules.map((r, i) => ({ r, i }));
  return [
    ...policySets(p).values(),
    `add chain ${T} ${ch}`,
    `flush chain ${T} ${ch}`,
    `${at} meta mark set 0x00000000`,
    `${at} ct state established,related accept`,
    // Without neighbour discovery to the host and peers, IPv6 would not work at all.
    `${at} icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept`,
    ...(dns4.length ? [`${at} ip daddr { ${dns4.join(', ')} } meta l4proto { tcp, udp } th dport 53 accept`] : []),
    ...(dns6.length ? [`${at} ip6 daddr { ${dns6.join(', ')} } meta l4proto { tcp, udp } th dport 53 accept`] : []),
    // --deny wins over --allow: every deny comes first.
    ...order.filter((x) => x.r.verdict === 'deny').flatMap((x) => ruleLines(p, x.i)),
    ...order.filter((x) => x.r.verdict === 'allow').flatMap((x) => ruleLines(p, x.i)),
    `${at} counter ${p.default === 'allow' ? 'accept' : 'goto egress_reject'} comment "default"`,
  ];
}

/** Map elements: the bridge table's port → mark, the inet table's mark → jump. */
export function policyElements(m: FwModel): { ports: string[]; jumps: string[] } {
  const ports: string[] = [];
  const jumps: string[] = [];
  for (const p of m.policies ?? []) {
    for (const v of p.ports) ports.push(`"${v}" : ${markText(p.mark)}`);
    jumps.push(`${markText(p.mark)} : jump ${chainOf(p.id12)}`);
  }
  return { ports, jumps };
}

const el = (op: 'add' | 'delete', table: string, map: string, e: string) =>
  `${op} element ${table} ${map} { ${op === 'delete' ? (e.split(' : ')[0] ?? e) : e} }`;

/** Everything of every policy, for a full rewrite (after the base and the flush of the maps). */
export function policyFull(m: FwModel): string[] {
  const { ports, jumps } = policyElements(m);
  return [
    ...(m.policies ?? []).flatMap(policyChain),
    ...ports.map((e) => el('add', BRIDGE_TABLE, 'egress_ports', e)),
    ...jumps.map((e) => el('add', T, 'egress', e)),
  ];
}

/** What changed between two models' policies; [] when nothing did. Touches only the sandboxes that changed. */
export function policyDiff(before: FwModel, after: FwModel): string[] {
  const was = new Map((before.policies ?? []).map((p) => [p.id12, p]));
  const now = new Map((after.policies ?? []).map((p) => [p.id12, p]));
  const lines: string[] = [];
  if (was.size === 0 && now.size > 0) lines.push(...POLICY_BASE);
  const gone: string[] = [];
  for (const [id, p] of now) {
    const old = was.get(id);
    const body = policyChain(p);
    if (old && JSON.stringify(policyChain(old)) === JSON.stringify(body)) continue;
    lines.push(...body);
    if (old) for (const s of policySets(old).keys()) if (!policySets(p).has(s)) gone.push(`delete set ${T} ${s}`);
  }
  const a = policyElements(before);
  const b = policyElements(after);
  for (const [table, map, x, y] of [
    [BRIDGE_TABLE, 'egress_ports', a.ports, b.ports],
    [T, 'egress', a.jumps, b.jumps],
  ] as const) {
    const keep = new Set(y);
    const had = new Set(x);
    lines.push(...x.filter((e) => !keep.has(e)).map((e) => el('delete', table, map, e)));
    lines.push(...y.filter((e) => !had.has(e)).map((e) => el('add', table, map, e)));
  }
  for (const [id, old] of was) {
    if (now.has(id)) continue;
    gone.push(`flush chain ${T} ${chainOf(id)}`, `delete chain ${T} ${chainOf(id)}`);
    for (const s of policySets(old).keys()) gone.push(`delete set ${T} ${s}`);
  }
  return [...lines, ...gone];
}

/** The bridges whose bridged traffic must reach the inet hooks (new since `before`; all when it is null). */
export function policyBridges(before: FwModel | null, after: FwModel): string[] {
  const had = new Set((before?.policies ?? []).flatMap((p) => p.bridges));
  return [...new Set((after.policies ?? []).flatMap((p) => p.bridges))].filter((b) => !had.has(b));
}
