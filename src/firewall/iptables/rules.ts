// Pure rule generation (docs/reference.md §4, §11). netctl owns its chains outright, so their content is
// derived from the store. A change is written as the difference between the rules before and
// after it (-D / -A in one `iptables-restore --noflush`): on nf_tables an append-only
// transaction costs ~1 ms where flushing a chain costs ~25 ms. A full rewrite (declaring an
// owned chain flushes just that chain) serves the first use, `restore`, and any drift. Built-in
// chains only ever get one jump each, and NETCTL-USER is created once and never written again.
// The same text serves ip6tables (family 6) with IPv6 prefixes and addresses.
import { familyOf, isLoopback, masquerades, modeOf, type Family, type FwModel } from '../firewall.js';

/** What exists already, read from iptables-save (so jumps are added once, NETCTL-USER never rewritten). */
export interface FwPresent {
  userChain: boolean;
  jumps: Set<string>;
  /** netctl's chains that exist (in either table). */
  chains: Set<string>;
}

export const CHAINS = {
  filter: ['NETCTL-FORWARD', 'NETCTL-ISOLATION-1', 'NETCTL-ISOLATION-2', 'NETCTL-PORTS', 'NETCTL-INPUT'],
  nat: ['NETCTL', 'NETCTL-POSTROUTING'],
} as const;

/** The one jump from each built-in chain, keyed "table chain", per family (only OUTPUT's loopback differs). */
export function jumps(f: Family = 4): Record<string, string> {
  return {
    'filter FORWARD': '-j NETCTL-FORWARD',
    'filter INPUT': '-j NETCTL-INPUT',
    'nat PREROUTING': '-m addrtype --dst-type LOCAL -j NETCTL',
    'nat OUTPUT': `! -d ${f === 4 ? '127.0.0.0/8' : '::1/128'} -m addrtype --dst-type LOCAL -j NETCTL`,
    'nat POSTROUTING': '-j NETCTL-POSTROUTING',
  };
}
export const JUMPS: Record<string, string> = jumps(4);

const BASE = 'netctl:base';
const c = (tag: string) => `-m comment --comment ${tag}`;

/** The fixed head of NETCTL-FORWARD, written once with the chain: admins' rules, isolation, ports. */
const BASE_FILTER = [
  `-A NETCTL-FORWARD -j NETCTL-USER ${c(BASE)}`,
  `-A NETCTL-FORWARD -j NETCTL-ISOLATION-1 ${c(BASE)}`,
  `-A NETCTL-FORWARD -j NETCTL-PORTS ${c(BASE)}`,
];

/**
 * The part of the model one family's tool writes: IPv4 keeps every network (as before IPv6
 * existed), IPv6 only the networks with an IPv6 subnet; each with its own family's subnets and ports.
 */
export function familyView(m: FwModel, f: Family): FwModel {
  const networks = m.networks
    .filter((n) => f === 4 || n.subnets.some((s) => familyOf(s) === 6))
    .map((n) => ({ ...n, subnets: n.subnets.filter((s) => familyOf(s) === f) }));
  return {
    networks,
    ...(f === 4 && m.dnsOnly ? { dnsOnly: m.dnsOnly } : {}),
    ports: m.ports.filter((p) => p.family === f),
  };
}

const host = (ip: string, f: Family) => `${ip}/${f === 4 ? 32 : 128}`;

/**
 * Filter rules of the networks and ports (without the fixed head); each stands alone, so order between owners is free.
 */
export function filterRules(m: FwModel, f: Family = 4): string[] {
  const tag = (n: { id12: string }) => c(`netctl:${n.id12}`);
  const out: string[] = [];
  for (const p of m.ports) {
    // A port published on a loopback address is only ever DNATed from outside (OUTPUT skips loopback): never let that
    // in.
    if (isLoopback(p.hostIP)) continue;
    const match =
      `-A NETCTL-PORTS -d ${host(p.containerIP, f)} -o ${p.bridge} -p ${p.proto} -m ${p.proto} --dport ` +
      `${p.containerPort}`;
    // Only connections that came through the DNAT: the container address itself stays closed (routed: it is the way
    // in).
    out.push(
      p.mode === 'routed' ? `${match} -j ACCEPT ${tag(p)}` : `${match} -m conntrack --ctstate DNAT -j ACCEPT ${tag(p)}`,
    );
  }
  for (const n of m.networks) {
    const br = n.bridge;
    const unprotected = modeOf(n, f) === 'nat-unprotected' && !n.internal;
    out.push(`-A NETCTL-FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT ${tag(n)}`);
    out.push(`-A NETCTL-FORWARD -i ${br} -o ${br} -j ${n.icc ? 'ACCEPT' : 'DROP'} ${tag(n)}`);
    out.push(`-A NETCTL-FORWARD -i ${br} ! -o ${br} -j ${n.internal ? 'DROP' : 'ACCEPT'} ${tag(n)}`);
    // Nothing else enters the network: not routed traffic to an unpublished port (unless nat-unprotected), not another
    // network.
    out.push(`-A NETCTL-FORWARD -o ${br} -j ${unprotected ? 'ACCEPT' : 'DROP'} ${tag(n)}`);
    out.push(`-A NETCTL-ISOLATION-1 -i ${br} ! -o ${br} -j NETCTL-ISOLATION-2 ${tag(n)}`);
    out.push(`-A NETCTL-ISOLATION-2 -o ${br} -j DROP ${tag(n)}`);
  }
  // The resolver's own address on an overlay or isolated bridge admits DNS from it, nothing else (§14).
  for (const d of m.dnsOnly ?? []) {
    const from = `-A NETCTL-INPUT -i ${d.bridge} -d ${host(d.addr, 4)}`;
    out.push(`${from} -p udp -m udp --dport 53 -j ACCEPT ${tag(d)}`);
    out.push(`${from} -p tcp -m tcp --dport 53 -j ACCEPT ${tag(d)}`);
    out.push(`${from} -j DROP ${tag(d)}`);
  }
  return out;
}

export function natRules(m: FwModel, f: Family = 4): string[] {
  const out: string[] = [];
  for (const n of m.networks) {
    if (!masquerades(n, f)) continue;
    for (const s of n.subnets)
      out.push(`-A NETCTL-POSTROUTING -s ${s} ! -o ${n.bridge} -j MASQUERADE ${c(`netctl:${n.id12}`)}`);
  }
  for (const p of m.ports) {
    if (p.mode === 'routed') continue; // no NAT: the host port is not used
    const tag = c(`netctl:${p.id12}`);
    const dst = p.hostIP && p.hostIP !== '0.0.0.0' && p.hostIP !== '::' ? `-d ${host(p.hostIP, f)} ` : '';
    const to = f === 4 ? `${p.containerIP}:${p.containerPort}` : `[${p.containerIP}]:${p.containerPort}`;
    out.push(`-A NETCTL ${dst}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${to} ${tag}`);
    // Hairpin: a container reaching its own published port through the host address.
    out.push(
      `-A NETCTL-POSTROUTING -s ${host(p.containerIP, f)} -d ${host(p.containerIP, f)} -p ${p.proto} -m ${p.proto} ` +
        `--dport ${p.containerPort} -j MASQUERADE ${tag}`,
    );
  }
  return out;
}

/** The full rewrite for iptables-restore --noflush: every owned chain declared (so flushed) and refilled. */
export function ruleset(m: FwModel, present: FwPresent, f: Family = 4): string {
  const J = jumps(f);
  const lines: string[] = ['*filter'];
  for (const ch of CHAINS.filter) lines.push(`:${ch} - [0:0]`);
  if (!present.userChain) lines.push(':NETCTL-USER - [0:0]', `-A NETCTL-USER -j RETURN ${c(BASE)}`);
  for (const key of ['filter FORWARD', 'filter INPUT'])
    if (!present.jumps.has(key)) lines.push(`-I ${key.split(' ')[1]} 1 ${J[key]} ${c(BASE)}`);
  lines.push(...BASE_FILTER, ...filterRules(m, f), 'COMMIT', '*nat');
  for (const ch of CHAINS.nat) lines.push(`:${ch} - [0:0]`);
  for (const key of ['nat PREROUTING', 'nat OUTPUT', 'nat POSTROUTING']) {
    if (!present.jumps.has(key)) lines.push(`-I ${key.split(' ')[1]} 1 ${J[key]} ${c(BASE)}`);
  }
  lines.push(...natRules(m, f), 'COMMIT');
  return lines.join('\n') + '\n';
}

/**
 * Removes all of netctl's: the jumps, then the chains (declared, which empties them, then
 * deleted). NETCTL-USER goes only while it holds nothing but netctl's RETURN. null when nothing is there.
 */
export function removal(present: FwPresent, userOnlyOurs: boolean, f: Family = 4): string | null {
  const J = jumps(f);
  const lines: string[] = [];
  for (const [table, chains] of [
    ['filter', [...CHAINS.filter, ...(userOnlyOurs ? ['NETCTL-USER'] : [])]],
    ['nat', CHAINS.nat],
  ] as const) {
    const js = Object.keys(J).filter((k) => k.startsWith(`${table} `) && present.jumps.has(k));
    const chs = chains.filter((ch) => present.chains.has(ch));
    if (!js.length && !chs.length) continue;
    lines.push(
      `*${table}`,
      ...js.map((k) => `-D ${k.split(' ')[1]} ${J[k]} ${c(BASE)}`),
      ...chs.map((ch) => `:${ch} - [0:0]`),
      ...chs.map((ch) => `-X ${ch}`),
      'COMMIT',
    );
  }
  return lines.length ? lines.join('\n') + '\n' : null;
}

/** Each owner's rules (a network's or a sandbox's, by their netctl:<id12> tag), in order. */
function byOwner(rules: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rules) {
    const tag = / netctl:([0-9a-z]+)$/.exec(r)?.[1] ?? '';
    out.set(tag, [...(out.get(tag) ?? []), r]);
  }
  return out;
}

/**
 * Only what changed between two models, one transaction: the rules of every owner whose rules
 * changed are deleted and appended again in their order. An owner's rules depend on their
 * order (a network's ACCEPTs come before its catch-all DROP), so a changed rule appended on
 * its own would land behind that DROP; rules of different owners match different devices
 * and addresses, so their relative order is free. null when nothing changed. -D takes the
 * same rule text as -A, so no save-format parsing.
 */
export function diffRuleset(before: FwModel, after: FwModel, f: Family = 4): string | null {
  const sections: string[] = [];
  for (const [table, gen] of [
    ['filter', filterRules],
    ['nat', natRules],
  ] as const) {
    const old = byOwner(gen(before, f));
    const now = byOwner(gen(after, f));
    const del: string[] = [];
    const add: string[] = [];
    for (const owner of new Set([...old.keys(), ...now.keys()])) {
      const a = old.get(owner) ?? [];
      const b = now.get(owner) ?? [];
      if (a.length === b.length && a.every((r, i) => r === b[i])) continue;
      del.push(...a.map((r) => r.replace(/^-A /, '-D ')));
      add.push(...b);
    }
    if (del.length || add.length) sections.push(`*${table}`, ...del, ...add, 'COMMIT');
  }
  return sections.length ? sections.join('\n') + '\n' : null;
}

/** Whether every owned chain and jump exists, so a difference can be applied on top. */
export function complete(p: FwPresent): boolean {
  return (
    p.userChain &&
    Object.keys(JUMPS).every((k) => p.jumps.has(k)) &&
    [...CHAINS.filter, ...CHAINS.nat].every((ch) => p.chains.has(ch))
  );
}

/** Reads which jumps and chains exist from `iptables-save` output of the filter and nat tables. */
export function parsePresent(save: string): FwPresent {
  const jumpSet = new Set<string>();
  const chains = new Set<string>();
  let table = '';
  let userChain = false;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':NETCTL')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      chains.add(name);
      if (table === 'filter' && name === 'NETCTL-USER') userChain = true;
    } else if (line.startsWith('-A ')) {
      const words = line.split(' ');
      const key = `${table} ${words[1] ?? ''}`;
      const want = JUMPS[key]?.split(' ').pop();
      if (want && words[words.indexOf('-j') + 1] === want) jumpSet.add(key);
    }
  }
  return { userChain, jumps: jumpSet, chains };
}
