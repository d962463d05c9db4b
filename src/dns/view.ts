// What netctl's resolver serves (docs/reference.md §14), derived from the store: the networks
// with a resolver on this host, where it listens on each, and every name on them. A command
// computes it under the store's lock and sends it (dns/control.ts); its digest tells doctor
// whether the running resolver is current.
import CRC32 from 'crc-32';
import { driverFor } from '../drivers/index.js';
import { OPT } from '../drivers/common.js';
import { bareIP, type NetworkRecord } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import { learnedSets } from '../firewall/nftables/policy.js';
import { parseDest } from '../lib/dest.js';
import type { DnsNameRule, DnsView } from './protocol.js';

export type { DnsView };

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

/**
 * The view of the store `tx` holds: networks with a resolver and at least one endpoint here,
 * with their names on every host.
 */
export function dnsView(tx: ReadTxn): DnsView {
  const view: DnsView = { networks: [], endpoints: [], sandboxes: {} };
  for (const nw of tx.list('networks').sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const listen = resolverAddresses(nw);
    if (listen.length === 0) continue;
    const eps = tx.find('endpoints', 'networkId', nw.id).sort((a, b) => (a.id < b.id ? -1 : 1));
    if (eps.length === 0) continue;
    view.networks.push({ id: nw.id, name: nw.name, internal: nw.internal, listen });
    for (const ep of eps) {
      const sb = tx.get('sandboxes', ep.sandboxId);
      if (!sb || sb.state !== 'running') continue;
      for (const cidr of [ep.ipv4, ep.ipv6]) if (cidr) view.endpoints.push({ ip: bareIP(cidr), net: nw.id, sb: sb.id });
      const d = (view.sandboxes[sb.id] ??= {
        name: sb.name,
        short: sb.id.slice(0, 12),
        aliases: {},
        servers: sb.dns?.servers ?? [],
        search: sb.dns?.search ?? [],
        // Any network counts, those without a resolver too (the predefined bridge, macvlan);
        // only a sandbox on an internal network needs a look at its others.
        forward:
          !nw.internal ||
          tx.find('endpoints', 'sandboxId', sb.id).some((e) => !tx.get('networks', e.networkId)?.internal),
      });
      const aliases = sb.networks[nw.id]?.settings.Aliases ?? [];
      if (aliases.length) d.aliases[nw.id] = aliases;
    }
    for (const r of remoteNames(nw)) {
      for (const cidr of [r.ipv4, r.ipv6]) if (cidr) view.endpoints.push({ ip: bareIP(cidr), net: nw.id, sb: r.sb });
      const d = (view.sandboxes[r.sb] ??= {
        name: r.name,
        short: r.sb.slice(0, 12),
        aliases: {},
        servers: [],
        search: [],
        forward: false, // it never asks this host
      });
      if (r.aliases.length) d.aliases[nw.id] = r.aliases;
    }
  }
  const policies = nameRules(tx, Object.keys(view.sandboxes));
  if (Object.keys(policies).length) view.policies = policies;
  return view;
}

/** The name rules of the running sandboxes among `ids` that have a policy, with their learned-address sets. */
function nameRules(tx: ReadTxn, ids: string[]): Record<string, DnsNameRule[]> {
  const out: Record<string, DnsNameRule[]> = {};
  for (const id of ids.sort()) {
    const sb = tx.get('sandboxes', id);
    if (!sb?.policy || sb.state !== 'running') continue;
    const rules = sb.policy.rules.flatMap((r) => {
      const d = parseDest(r.dest);
      if (d.kind !== 'name') return [];
      const [set4, set6] = learnedSets(sb.id.slice(0, 12), r);
      return [{ name: d.name, wildcard: d.wildcard, set4, set6 }];
    });
    if (rules.length) out[id] = rules;
  }
  return out;
}

/** A short fingerprint of a view: equal views, equal digests (the key order is fixed by dnsView). */
export const viewDigest = (v: DnsView): string => digestOf(JSON.stringify(v));

/** The digest of a view's JSON text (a command has the text at hand: it sends it). */
export const digestOf = (json: string): string => (CRC32.str(json) >>> 0).toString(16);

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
