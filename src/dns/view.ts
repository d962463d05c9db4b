// What netctl's resolver serves (docs/reference.md §14), derived from the store: the networks
// with a resolver on this host, where it listens on each, and every name on them. A command
// computes it under the store's lock and sends it (dns/control.ts); its digest tells doctor
// whether the running resolver is current.
import { driverFor } from '../drivers/index.js';
import { OPT } from '../drivers/common.js';
import { bareIP, type NetworkRecord, type SandboxRecord } from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import { learnedSets } from '../model/egress.js';
import { parseDest } from '../lib/dest.js';
import {
  addPart,
  type DnsNameRule,
  type DnsNetwork,
  type DnsPatch,
  type DnsSandbox,
  type DnsView,
  type SandboxPart,
} from './protocol.js';

export type { DnsView };
export { viewDigest } from './protocol.js';

/**
 * The addresses a resolver for `nw` listens on, or [] when the network has none: the
 * predefined networks (as in Docker), `-o netctl.dns=false`, and drivers that give the host no
 * address its sandboxes reach (macvlan, and for now overlays and isolated bridges).
 */
export function resolverAddresses(nw: NetworkRecord): string[] {
  if (nw.predefined || nw.options[OPT.dns] === 'false') return [];
  return driverFor(nw.driver).resolverAddresses?.(nw) ?? [];
}

/** An endpoint of another host on a global network, as its mirror here records it (driverState `names`). */
export interface RemoteName {
  sb: string;
  name: string;
  aliases: string[];
  ipv4: string;
  ipv6: string;
}

function remoteNames(nw: NetworkRecord): RemoteName[] {
  try {
    const v = JSON.parse(String(nw.driverState['names'] ?? '[]')) as unknown;
    return Array.isArray(v) ? (v as RemoteName[]) : [];
  } catch {
    return [];
  }
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : 1);

/** The networks with a resolver and an endpoint of this host, in id order. */
function servedNetworks(tx: ReadTxn): DnsNetwork[] {
  const used = new Set(tx.values('endpoints', 'networkId'));
  const out: DnsNetwork[] = [];
  for (const nw of tx.list('networks').sort(byId)) {
    if (!used.has(nw.id)) continue;
    const listen = resolverAddresses(nw);
    if (listen.length) out.push({ id: nw.id, name: nw.name, internal: nw.internal, listen });
  }
  return out;
}

/** A local sandbox's part of the view: its entry and its addresses on served networks (null: none). */
function sandboxPart(tx: ReadTxn, sb: SandboxRecord | undefined, served: Map<string, DnsNetwork>): SandboxPart | null {
  if (!sb || sb.state !== 'running') return null;
  const all = tx.find('endpoints', 'sandboxId', sb.id);
  const eps = all.filter((e) => served.has(e.networkId)).sort((a, b) => byId({ id: a.networkId }, { id: b.networkId }));
  if (!eps.length) return null;
  const entry: DnsSandbox = {
    name: sb.name,
    short: sb.id.slice(0, 12),
    aliases: {},
    servers: sb.dns?.servers ?? [],
    search: sb.dns?.search ?? [],
    // Any network counts, those without a resolver too (the predefined bridge, macvlan).
    forward: all.some((e) => !(served.get(e.networkId)?.internal ?? tx.get('networks', e.networkId)?.internal)),
  };
  const endpoints: SandboxPart['endpoints'] = [];
  for (const ep of eps) {
    const aliases = sb.networks[ep.networkId]?.settings.Aliases ?? [];
    if (aliases.length) entry.aliases[ep.networkId] = aliases;
    for (const cidr of [ep.ipv4, ep.ipv6]) if (cidr) endpoints.push({ ip: bareIP(cidr), net: ep.networkId });
  }
  const rules = nameRulesOf(sb);
  return { entry, endpoints, ...(rules.length ? { rules } : {}) };
}

/**
 * The view of the store `tx` holds: networks with a resolver and at least one endpoint here,
 * with their names on every host.
 */
export function dnsView(tx: ReadTxn): DnsView {
  const networks = servedNetworks(tx);
  const served = new Map(networks.map((n) => [n.id, n]));
  const view: DnsView = { networks, endpoints: [], sandboxes: {} };
  const ids = new Set(
    networks.flatMap((n) => tx.values('endpoints', 'sandboxId', { field: 'networkId', value: n.id })),
  );
  for (const id of [...ids].sort()) addPart(view, id, sandboxPart(tx, tx.get('sandboxes', id), served));
  for (const nw of networks.map((n) => tx.get('networks', n.id))) {
    for (const r of nw ? remoteNames(nw) : []) {
      for (const cidr of [r.ipv4, r.ipv6])
        if (cidr) view.endpoints.push({ ip: bareIP(cidr), net: nw?.id ?? '', sb: r.sb });
      const d = (view.sandboxes[r.sb] ??= {
        name: r.name,
        short: r.sb.slice(0, 12),
        aliases: {},
        servers: [],
        search: [],
        forward: false, // it never asks this host
      });
      if (r.aliases.length && nw) d.aliases[nw.id] = r.aliases;
    }
  }
  return view;
}

/**
 * What an operation changed in the view, as a patch of the sandboxes it touched, with every
 * served network; null when a patch cannot say it (a network of another scope changed: its
 * names on other hosts come whole).
 */
export function dnsPatch(tx: Txn, touched: Iterable<string>): Omit<DnsPatch, 'since' | 'gen'> | null {
  const changed = tx.changed;
  for (const id of changed.networks) if ((tx.get('networks', id)?.scope ?? 'local') !== 'local') return null;
  const networks = servedNetworks(tx);
  const served = new Map(networks.map((n) => [n.id, n]));
  const ids = new Set([...touched, ...changed.sandboxes]);
  for (const id of changed.endpoints) {
    const sb = tx.get('endpoints', id)?.sandboxId;
    if (sb) ids.add(sb);
  }
  const parts: DnsPatch['parts'] = {};
  for (const id of ids) parts[id] = sandboxPart(tx, tx.get('sandboxes', id), served);
  return { networks, parts };
}

/** A policied sandbox's name rules, with the sets the resolver fills for each (§16). */
function nameRulesOf(sb: SandboxRecord): DnsNameRule[] {
  return (sb.policy?.rules ?? []).flatMap((r) => {
    const d = parseDest(r.dest);
    if (d.kind !== 'name') return [];
    const [set4, set6] = learnedSets(sb.id.slice(0, 12), r);
    return [{ name: d.name, wildcard: d.wildcard, set4, set6 }];
  });
}

/** The first address netctl's resolver answers `sandboxId` on, by the sandbox's join order, or ''. */
export function resolverFor(tx: ReadTxn, sandboxId: string): string {
  const eps = tx.find('endpoints', 'sandboxId', sandboxId).sort((a, b) => a.seq - b.seq);
  for (const ep of eps) {
    const nw = tx.get('networks', ep.networkId);
    const listen = nw ? resolverAddresses(nw) : [];
    const v4 = listen.find((a) => !a.includes(':'));
    const want = ep.ipv4 ? v4 : listen.find((a) => a.includes(':'));
    if (want) return want;
  }
  return '';
}
