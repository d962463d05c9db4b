// What `ls` and `inspect` do (docs/reference.md §2), on a Reads: the store as read, the firewall
// backend's name, the resolver's status and the cluster when one is configured. The commands
// hand it the controller's (commands/network/ls.ts, inspect.ts); the quick path (quick.ts) one
// made from the store alone, so that a listing loads neither commander nor the controller.
import { findNetwork, findNetworkIn } from '../core/lookup.js';
import { resolverAddresses } from '../dns/view.js';
import type { Served } from '../dns/protocol.js';
import { InvalidArgumentError, UsageError } from '../lib/errors.js';
import { matchesLabel, printable } from '../lib/validate.js';
import type { NetworkRecord } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import { reportError } from './report.js';
import { printedFields, renderList, sortByName, tabwrite, type LsFlags } from './table.js';
import { compile } from './template.js';
import { jsonText, LISTED_FIELDS, listedRow, networkRow, networkView, type GlobalView, type Listed } from './views.js';
import type { Io } from './io.js';

/** The cluster's networks and endpoints, as `ls` and `inspect` show them. */
export interface ClusterReads {
  /** This host's local networks and the cluster's global ones. */
  merged(tx: ReadTxn): NetworkRecord[];
  networks: NetworkRecord[];
  peers: Array<GlobalView['peers'][number] & { networkId: string }>;
}

export interface Reads {
  /** The store as committed, without the lock; `canInit`: made first if there is none. */
  view<T>(fn: (tx: ReadTxn) => T, canInit: boolean): Promise<T>;
  /** The firewall backend in use ('' without one). */
  readonly firewallName: string;
  /** What this root's resolver serves; null when none runs. */
  served(): Promise<Served | null>;
  /** undefined: no cluster store is configured. */
  cluster?: () => Promise<ClusterReads | undefined>;
  /** For a user's read of a store that root has not made yet: whether it may be made. */
  readonly canInit: boolean;
}

export interface Filter {
  key: string;
  value: string;
}

const LS_FILTERS = ['driver', 'id', 'name', 'label', 'scope', 'type', 'dangling'];

/** Parses `-f k=v` list; unknown keys are refused as Docker does. */
export function parseFilters(list: string[], allowed = LS_FILTERS): Filter[] {
  return list.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value): ${printable(item)}`);
    const key = item.slice(0, eq).trim().toLowerCase();
    if (!allowed.includes(key)) throw new UsageError(`invalid filter '${printable(key)}'`);
    return { key, value: item.slice(eq + 1) };
  });
}

const DEFAULT_COLUMNS = ['ID', 'Name', 'Driver', 'Scope'] as const;
const DEFAULT_TABLE = `table ${DEFAULT_COLUMNS.map((c) => `{{.${c}}}`).join('\t')}`;

const HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
  Subnets: 'SUBNETS',
  Containers: 'CONTAINERS',
};

/** `netctl ls`: Docker's table, filters and formats. Global networks come as the cluster has them. */
export async function listNetworks(r: Reads, io: Io, flags: LsFlags): Promise<number> {
  const filters = parseFilters(flags.filter ?? []);
  // Global networks as the cluster has them (with every host's endpoints); the mirrors if it is unreachable.
  const cluster = await r.cluster?.().catch((e: Error) => {
    io.err(`warning: ${e.message}: global networks as this host last saw them\n`);
    return undefined;
  });
  const trunc = flags.trunc !== false;
  // What the format prints and the filters read, from the store's index of networks when that
  // has it all: no record parsed (at 1,000 networks the parse, and the garbage it leaves,
  // were most of an ls).
  const indexed =
    !cluster &&
    filters.every((f) => f.key !== 'label') &&
    printedFields(flags, DEFAULT_TABLE)?.every((f) => LISTED_FIELDS.has(f));
  const text = await r.view((tx) => {
    const count = new Map<string, number>();
    for (const id of tx.values('endpoints', 'networkId')) count.set(id, (count.get(id) ?? 0) + 1);
    const busy = new Set(count.keys());
    const index = indexed ? tx.index('networks') : undefined;
    if (index) {
      const picked = selectNetworks(index.map(listedOf), filters, busy);
      // The default table, its cells straight from the index: what rendering each row would give.
      if (!flags.quiet && (flags.format ?? 'table') === 'table') {
        const head = DEFAULT_COLUMNS.map((c) => HEADERS[c] ?? c);
        return tabwrite([head, ...picked.map((n) => [trunc ? n.id.slice(0, 12) : n.id, n.name, n.driver, n.scope])]);
      }
      return renderList(
        picked.map((n) => listedRow(n, trunc, count.get(n.id))),
        flags,
        HEADERS,
        DEFAULT_TABLE,
      );
    }
    let all = tx.list('networks');
    if (cluster) {
      all = cluster.merged(tx);
      for (const n of cluster.networks) count.set(n.id, cluster.peers.filter((p) => p.networkId === n.id).length);
      for (const p of cluster.peers) busy.add(p.networkId);
    }
    const rows = selectNetworks(all, filters, busy).map((n) => networkRow(n, trunc, count.get(n.id)));
    return renderList(rows, flags, HEADERS, DEFAULT_TABLE);
  }, r.canInit);
  io.out(text);
  return 0;
}

/** `netctl inspect`: Docker's JSON, what was found on stdout and each miss on stderr. */
export async function inspectNetworks(r: Reads, io: Io, refs: string[], flags: { format?: string }): Promise<number> {
  const tpl = flags.format && flags.format !== 'json' ? compile(flags.format) : null;
  // One snapshot for every question below: the store is read once.
  const tx = await r.view((t) => t, r.canInit);
  // The cluster is read only when a name is not a local network's.
  const local = (ref: string) => {
    try {
      const n = findNetwork(tx, ref);
      return n.scope === 'local' ? n : undefined;
    } catch {
      return undefined;
    }
  };
  let cluster: ClusterReads | undefined;
  let unreachable: Error | undefined;
  if (r.cluster && refs.some((ref) => !local(ref)))
    cluster = await r.cluster().catch((e: Error) => {
      unreachable = e;
      return undefined;
    });
  // netctl's resolver, asked only when a network named has one.
  const withDns = refs.some((ref) => {
    const nw = local(ref);
    return nw ? resolverAddresses(nw).length > 0 : false;
  });
  const resolver = withDns ? await r.served() : undefined;
  const found: unknown[] = [];
  const errors: Error[] = [];
  for (const ref of refs) {
    try {
      const nw = local(ref);
      if (nw) found.push(networkView(tx, nw, r.firewallName, undefined, resolver));
      else if (unreachable) throw unreachable;
      else if (!cluster) found.push(networkView(tx, findNetwork(tx, ref), r.firewallName));
      else {
        const g = findNetworkIn(cluster.merged(tx), ref);
        const peers = cluster.peers.filter((p) => p.networkId === g.id);
        found.push(networkView(tx, g, r.firewallName, { peers }));
      }
    } catch (e) {
      errors.push(e as Error);
    }
  }
  if (tpl) found.forEach((v) => io.out(`${tpl.render(v)}\n`));
  else if (flags.format === 'json') found.forEach((v) => io.out(`${jsonText(v)}\n`));
  else io.out(`${jsonText(found, 4)}\n`);
  for (const e of errors) await reportError(io, e);
  return errors.length ? 1 : 0;
}

/** A network as the store's index has it (name, driver, scope, predefined: as text). */
const listedOf = (n: Record<string, string> & { id: string }): Listed => ({
  id: n.id,
  name: n['name'] ?? '',
  driver: n['driver'] ?? '',
  scope: n['scope'] === 'global' ? 'global' : 'local',
  predefined: n['predefined'] === 'true',
});

function checkFilterValues(filters: Filter[]): void {
  for (const f of filters) {
    if (f.key === 'type' && f.value !== 'custom' && f.value !== 'builtin') {
      throw new UsageError(`invalid filter: 'type'='${f.value}' (use custom or builtin)`);
    }
    if (f.key === 'dangling' && !['true', 'false', '1', '0'].includes(f.value.toLowerCase())) {
      throw new UsageError(`invalid filter 'dangling=${f.value}' (use true or false)`);
    }
    if (f.key === 'name' || f.key === 'id') {
      try {
        new RegExp(f.value);
      } catch {
        throw new UsageError(`invalid filter '${f.key}=${f.value}': not a regular expression`);
      }
    }
  }
}

/** Filtered (after checking the values) and sorted by name as `ls` shows them. */
export function selectNetworks<N extends Listed & { labels?: Record<string, string> }>(
  all: N[],
  filters: Filter[],
  inUse: Set<string>,
): N[] {
  checkFilterValues(filters);
  const picked = filters.length ? all.filter((n) => matchFilters(n, filters, inUse.has(n.id))) : all;
  return sortByName(picked);
}

/** Docker's rules: same key ORs, different keys AND; name/id are regexes matched anywhere. */
function matchFilters(n: Listed & { labels?: Record<string, string> }, filters: Filter[], inUse: boolean): boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f.value]);
  for (const [key, values] of byKey) {
    const ok = values.some((v) => {
      switch (key) {
        case 'driver':
          return n.driver === v;
        case 'scope':
          return n.scope === v;
        case 'name':
          return new RegExp(v).test(n.name);
        case 'id':
          return new RegExp(v).test(n.id);
        case 'label': {
          const eq = v.indexOf('=');
          const labels = n.labels ?? {};
          return eq < 0 ? matchesLabel(labels, v) : matchesLabel(labels, v.slice(0, eq), v.slice(eq + 1));
        }
        case 'type':
          return v === 'builtin' ? n.predefined : !n.predefined;
        case 'dangling': {
          const want = v === 'true' || v === '1';
          // Predefined networks are never dangling (they cannot be pruned).
          return want === (!inUse && !n.predefined);
        }
        default:
          throw new InvalidArgumentError(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}
