// netctl ls (docs/reference.md §2): Docker's table, filters and formats. Global networks come
// as the cluster has them (with every host's endpoints), or as this host last saw them.
import { matchesLabel } from '../../../core/checks.js';
import { driverNames } from '../../../drivers/index.js';
import { busyNetworks } from '../../../core/lookup.js';
import { InvalidArgumentError, UsageError } from '../../../lib/errors.js';
import { hasPrivilege } from '../../../lib/privilege.js';
import type { NetworkRecord } from '../../../model/records.js';
import { clusterNow, hasCluster, mergedNetworks } from '../../../overlay/global.js';
import { collect, command } from '../../command.js';
import { filters } from '../../complete.js';
import { makeController, type Globals, type Io } from '../../wiring.js';
import { parseFilters, type Filter } from '../../options.js';
import { naturalCompare } from '../../table.js';
import { networkRow } from '../../views.js';
import { lsFormats, lsOptions, renderList, type LsFlags } from '../list.js';

export default command<[], LsFlags>({
  define: (c) =>
    lsOptions(
      c
        .description('List networks')
        .option('-f, --filter <k=v>', 'filter output (driver, id, name, label, scope, type, dangling)', collect),
    ),
  values: {
    '--format': lsFormats,
    '--filter': filters({
      driver: () => driverNames(),
      id: () => [],
      name: (n) => n.networks,
      label: () => [],
      scope: () => ['local', 'global'],
      type: () => ['custom', 'builtin'],
      dangling: () => ['true', 'false'],
    }),
  },
  run: (g, io, _args, flags) => ls(g, io, flags),
});

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

async function ls(g: Globals, io: Io, flags: LsFlags): Promise<number> {
  const filters = parseFilters(flags.filter ?? []);
  const ctl = makeController(g, io);
  // Global networks as the cluster has them (with every host's endpoints); the mirrors if it is unreachable.
  const cluster = hasCluster(ctl.ctx)
    ? await clusterNow(ctl.ctx).catch((e: Error) => {
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
