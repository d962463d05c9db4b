// ls and inspect of networks: read the store, render views and templates. Apart from
// network.ts so that the commands that change things do not load the renderers.
import { matchesLabel } from '../../core/checks.js';
import { busyNetworks, findNetwork, findNetworkIn } from '../../core/lookup.js';
import { mergedNetworks } from '../../core/global.js';
import type { NetworkRecord } from '../../model/records.js';
import { jsonText, networkRow, networkView } from '../views.js';
import { InvalidArgumentError, UsageError } from '../../lib/errors.js';
import type { ReadTxn } from '../../store/store.js';
import { hasPrivilege } from '../../lib/privilege.js';
import { makeController, type Globals, type Io } from '../context.js';
import { parseFilters, type Filter } from '../options.js';
import { naturalCompare, tabwrite } from '../table.js';
import { compile } from '../template.js';
import { reportError } from '../report.js';

export async function inspect(g: Globals, io: Io, refs: string[], flags: { format?: string }): Promise<number> {
  const ctl = makeController(g, io);
  const tpl = flags.format && flags.format !== 'json' ? compile(flags.format) : null;
  // The cluster is read only when a name is not a local network's.
  const local = (tx: ReadTxn, ref: string) => {
    try {
      const n = findNetwork(tx, ref);
      return n.scope === 'local' ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const needed = ctl.hasCluster && (await ctl.view((tx) => refs.some((r) => !local(tx, r)), false));
  let cluster: Awaited<ReturnType<typeof ctl.clusterSnapshot>>;
  let unreachable: Error | undefined;
  if (needed)
    cluster = await ctl.clusterSnapshot().catch((e: Error) => {
      unreachable = e;
      return undefined;
    });
  const { found, errors } = await ctl.view((tx) => {
    const found: unknown[] = [];
    const errors: Error[] = [];
    for (const ref of refs) {
      try {
        const nw = local(tx, ref);
        if (nw) found.push(networkView(tx, nw, ctl.firewallName));
        else if (unreachable) throw unreachable;
        else if (!cluster) found.push(networkView(tx, findNetwork(tx, ref), ctl.firewallName));
        else {
          const g = findNetworkIn(mergedNetworks(tx, cluster.snap), ref);
          found.push(
            networkView(tx, g, ctl.firewallName, { peers: cluster.snap.peers.filter((p) => p.networkId === g.id) }),
          );
        }
      } catch (e) {
        errors.push(e as Error);
      }
    }
    return { found, errors };
  }, hasPrivilege());
  if (tpl) found.forEach((v) => io.out(`${tpl.render(v)}\n`));
  else if (flags.format === 'json') found.forEach((v) => io.out(`${jsonText(v)}\n`));
  else io.out(`${jsonText(found, 4)}\n`);
  for (const e of errors) await reportError(io, e);
  return errors.length ? 1 : 0;
}

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

export interface LsFlags {
  quiet?: boolean;
  /** commander turns --no-trunc into trunc: false. */
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

export async function ls(g: Globals, io: Io, flags: LsFlags): Promise<number> {
  const filters = parseFilters(flags.filter ?? []);
  const ctl = makeController(g, io);
  // Global networks as the cluster has them (with every host's endpoints); the mirrors if it is unreachable.
  const cluster = ctl.hasCluster
    ? await ctl.clusterSnapshot().catch((e: Error) => {
        io.err(`warning: ${e.message}: global networks as this host last saw them\n`);
        return undefined;
      })
    : undefined;
  const rows = await ctl.view((tx) => {
    const busy = busyNetworks(tx);
    const count = new Map<string, number>();
    for (const id of tx.values('endpoints', 'networkId')) count.set(id, (count.get(id) ?? 0) + 1);
    let all = tx.list('networks');
    if (cluster) {
      all = mergedNetworks(tx, cluster.snap);
      for (const n of cluster.snap.networks)
        count.set(n.id, cluster.snap.peers.filter((p) => p.networkId === n.id).length);
      for (const p of cluster.snap.peers) busy.add(p.networkId);
    }
    return selectNetworks(all, filters, busy).map((n) => networkRow(n, flags.trunc !== false, count.get(n.id)));
  }, hasPrivilege());
  io.out(renderList(rows, flags, HEADERS, 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}'));
  return 0;
}

/** Shared by `ls` and `sandbox ls`: -q, table, table TEMPLATE, json, TEMPLATE. */
export function renderList(
  rows: Array<Record<string, unknown> & { ID: string }>,
  flags: LsFlags,
  headers: Record<string, string>,
  defaultTable: string,
): string {
  if (flags.quiet) return rows.map((r) => `${r.ID}\n`).join('');
  const format = (flags.format ?? 'table').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (format === 'json') {
    const data = (r: Record<string, unknown>) =>
      Object.entries(r)
        .filter(([, v]) => typeof v !== 'function')
        .sort(([a], [b]) => (a < b ? -1 : 1));
    return rows.map((r) => `${JSON.stringify(Object.fromEntries(data(r)))}\n`).join('');
  }
  if (format === 'table' || format.startsWith('table ')) {
    const tpl = compile(format === 'table' ? defaultTable.slice(6) : format.slice(6));
    // The header row renders the same template against the column names (.Label "k" gives LABEL).
    const head = tpl.render(
      new Proxy(
        {},
        {
          get: (_t, k) => (k === 'Label' ? () => 'LABEL' : (headers[String(k)] ?? String(k).toUpperCase())),
          has: () => true,
        },
      ),
    );
    return tabwrite([head, ...rows.map((r) => tpl.render(r))].map((l) => l.split('\t')));
  }
  const tpl = compile(format);
  return rows.map((r) => `${tpl.render(r)}\n`).join('');
}

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
export function selectNetworks(all: NetworkRecord[], filters: Filter[], inUse: Set<string>): NetworkRecord[] {
  checkFilterValues(filters);
  return all.filter((n) => matchFilters(n, filters, inUse.has(n.id))).sort((a, b) => naturalCompare(a.name, b.name));
}

/** Docker's rules: same key ORs, different keys AND; name/id are regexes matched anywhere. */
function matchFilters(n: NetworkRecord, filters: Filter[], inUse: boolean): boolean {
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
          return eq < 0 ? matchesLabel(n.labels, v) : matchesLabel(n.labels, v.slice(0, eq), v.slice(eq + 1));
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
