// What users see: Docker's network object, the `ls` row, pouch's sandbox NetworkSettings.
// Built from the records on demand; nothing here is stored.
import { resolverAddresses } from '../dns/view.js';
import type { Served } from '../dns/protocol.js';
import { goMap } from './template.js';
import type { ReadTxn } from '../store/store.js';
import { endpointsOf } from '../core/lookup.js';
import { driverFor } from '../drivers/index.js';
import { subnetUsage } from '../ipam/usage.js';
import { NETNS_DIR } from '../kernel/ops.js';
import { isLive } from '../core/runtime.js';
import { bareIP, type NetworkRecord, type SandboxRecord } from '../model/records.js';

const hasFirewall = (nw: NetworkRecord): boolean => driverFor(nw.driver).firewall !== undefined;

/** A global network as the cluster has it: every host's endpoints, and the hosts themselves. */
export interface GlobalView {
  peers: Array<{
    id: string;
    sandboxId: string;
    container: string;
    node: string;
    vtep: string;
    mac: string;
    ipv4: string;
    ipv6: string;
  }>;
}

/** `firewall`: the backend in use, shown under Status for networks that have rules (docs/reference.md §11). */
export function networkView(
  tx: ReadTxn,
  nw: NetworkRecord,
  firewall = '',
  global?: GlobalView,
  resolver?: Served | null,
) {
  // index of a missing key gives the element's zero value, as Go: an empty EndpointResource.
  const containers: Record<string, unknown> = goMap(
    {},
    { Name: '', EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' },
  );
  const held = Object.keys(nw.ipam.reserved ?? {});
  const eps = endpointsOf(tx, { network: nw.id });
  // Many endpoints: their sandboxes' names from one pass over the index, no sandbox parsed.
  const names = eps.length > 8 ? tx.valueOf('sandboxes', 'name') : null;
  for (const ep of eps) {
    if (ep.ipv4) held.push(bareIP(ep.ipv4));
    if (ep.ipv6) held.push(bareIP(ep.ipv6));
    containers[ep.sandboxId] = {
      Name: (names ? names.get(ep.sandboxId) : tx.get('sandboxes', ep.sandboxId)?.name) ?? '',
      EndpointID: ep.id,
      MacAddress: ep.mac,
      IPv4Address: ep.ipv4,
      IPv6Address: ep.ipv6,
    };
  }
  // Docker's swarm view: containers of every host, each with its host, and the hosts as Peers.
  const peers: Array<{ Name: string; IP: string }> = [];
  for (const p of global?.peers ?? []) {
    if (!containers[p.sandboxId]) held.push(...[p.ipv4, p.ipv6].filter(Boolean).map((a) => a.split('/')[0] ?? ''));
    containers[p.sandboxId] = {
      Name: p.container,
      EndpointID: p.id,
      MacAddress: p.mac,
      IPv4Address: p.ipv4,
      IPv6Address: p.ipv6,
      Node: p.node,
      AdvertiseAddr: p.vtep,
    };
    if (!peers.some((x) => x.IP === p.vtep)) peers.push({ Name: p.node, IP: p.vtep });
  }
  return {
    Name: nw.name,
    Id: nw.id,
    Created: nw.created,
    Scope: nw.scope,
    Driver: nw.driver,
    EnableIPv6: nw.enableIPv6,
    IPAM: {
      Driver: nw.ipam.driver,
      Options: goMap({ ...nw.ipam.options }),
      Config: nw.ipam.config.map((p) => ({
        Subnet: p.Subnet,
        IPRange: p.IPRange ?? '',
        Gateway: p.Gateway,
        AuxiliaryAddresses: goMap({ ...(p.AuxiliaryAddresses ?? {}) }),
      })),
    },
    Internal: nw.internal,
    Attachable: nw.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: goMap({ ...driverFor(nw.driver).shownOptions?.(nw), ...nw.options }),
    Labels: goMap({ ...nw.labels }),
    ...(global ? { Peers: peers.sort((a, b) => a.Name.localeCompare(b.Name) || a.IP.localeCompare(b.IP)) } : {}),
    Status: {
      IPAM: { Subnets: goMap(Object.fromEntries(nw.ipam.config.map((p) => [p.Subnet, usage(p, held)]))) },
      ...(firewall && hasFirewall(nw) ? { Firewall: { Backend: firewall } } : {}),
      ...dnsStatus(nw, resolver),
    },
  };
}

/** Status.DNS of a network with netctl's resolver: where it answers, and whether it does now. */
function dnsStatus(nw: NetworkRecord, st: Served | null | undefined) {
  const addrs = resolverAddresses(nw);
  if (addrs.length === 0 || st === undefined) return {};
  const running = Boolean(st?.networks.some((n) => n.id === nw.id && !n.error));
  return { DNS: { Address: addrs[0] ?? '', Running: running } };
}

/** Docker 29's counts; a number JSON can carry exactly, else a bigint (see jsonText). */
function usage(p: Parameters<typeof subnetUsage>[0], held: string[]) {
  const u = subnetUsage(p, held);
  const n = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  return { IPsInUse: n(u.IPsInUse), DynamicIPsAvailable: n(u.DynamicIPsAvailable) };
}

/** JSON.stringify that prints a bigint as the exact integer (a /64's free addresses), as Go prints a uint64. */
export function jsonText(v: unknown, indent?: number): string {
  // Without a replacer JSON.stringify takes V8's fast path, and it throws on a bigint: only then
  // is the document written again with one (a replacer is called for every key of every endpoint).
  try {
    return JSON.stringify(v, null, indent);
  } catch (e) {
    if (!(e instanceof TypeError) || !/BigInt/.test(e.message)) throw e;
  }
  // Each bigint becomes a string with a marker no user string can know in advance, then the number.
  const token = Math.random().toString(36).slice(2, 12);
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `\u0000${token}:${x}` : x), indent);
  return text.replace(new RegExp(`"\\\\u0000${token}:(\\d+)"`, 'g'), '$1');
}

/** Docker's `network ls` formatter fields, plus .Subnets and .Containers (its live endpoints). */
/** What `ls` knows of a network from the store's index alone (ReadTxn.index), and of every record. */
export type Listed = Pick<NetworkRecord, 'id' | 'name' | 'driver' | 'scope' | 'predefined'>;

/** The fields of an `ls` row a listed network has; LISTED_FIELDS names them. */
export function listedRow(nw: Listed, truncate: boolean, containers = 0) {
  return {
    ID: truncate ? nw.id.slice(0, 12) : nw.id,
    Name: nw.name,
    Driver: nw.driver,
    Scope: nw.scope,
    IPv4: 'true', // netctl never turns IPv4 off (Docker 28's --ipv4=false)
    Containers: String(containers), // a string, as every field of Docker's JSON form
  };
}

export const LISTED_FIELDS: ReadonlySet<string> = new Set(['ID', 'Name', 'Driver', 'Scope', 'IPv4', 'Containers']);

/** An `ls` row: the listed fields, and the others worked out when a format reads them. */
export function networkRow(nw: NetworkRecord, truncate: boolean, containers = 0) {
  return {
    ...listedRow(nw, truncate, containers),
    IPv6: String(nw.enableIPv6),
    Internal: String(nw.internal),
    get Labels() {
      return Object.entries(nw.labels)
        .map(([k, v]) => (v ? `${k}=${v}` : k))
        .join(',');
    },
    get CreatedAt() {
      return formatCreated(nw.created);
    },
    get Subnets() {
      return nw.ipam.config.map((p) => p.Subnet).join(',');
    },
    /** {{.Label "k"}}: a method in Docker's formatter, so not part of the JSON form. */
    Label: (k: unknown) => nw.labels[String(k)] ?? '',
  };
}

/** Go's time.Time String() layout, as docker prints CreatedAt. */
function formatCreated(iso: string): string {
  const d = new Date(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)} +0000 UTC`
  );
}

export function sandboxView(tx: ReadTxn, sb: SandboxRecord) {
  const networks: Record<string, unknown> = goMap({}, null); // map[string]*EndpointSettings: nil
  for (const [netId, rec] of Object.entries(sb.networks)) {
    const ep = endpointsOf(tx, { sandbox: sb.id, network: netId })[0];
    const name = tx.get('networks', netId)?.name ?? rec.name;
    const [ip4 = '', len4 = '0'] = (ep?.ipv4 ?? '').split('/');
    const [ip6 = '', len6 = '0'] = (ep?.ipv6 ?? '').split('/');
    networks[name] = {
      IPAMConfig: rec.settings.IPAMConfig ?? null,
      Links: null,
      Aliases: rec.settings.Aliases ?? null,
      MacAddress: ep?.mac ?? rec.settings.MacAddress ?? '',
      DriverOpts: rec.settings.DriverOpts ?? null,
      GwPriority: rec.settings.GwPriority ?? 0,
      NetworkID: netId,
      EndpointID: ep?.id ?? '',
      Gateway: ep?.gateway4 ?? '',
      IPAddress: ip4,
      IPPrefixLen: Number(len4) || 0,
      IPv6Gateway: ep?.gateway6 ?? '',
      GlobalIPv6Address: ip6,
      GlobalIPv6PrefixLen: Number(len6) || 0,
      InterfaceName: ep?.ifName ?? '',
    };
  }
  return {
    Id: sb.id,
    Name: sb.name,
    Created: sb.created,
    State: shownState(sb),
    Mode: sb.mode,
    ...(sb.runtime ? { Runtime: { Ref: sb.runtime.ref, ID: sb.runtime.id } } : {}),
    Hostname: sb.hostname,
    NetNS: sb.netns ? `${NETNS_DIR}/${sb.netns}` : '',
    NetworkSettings: { SandboxKey: sb.netns ? `${NETNS_DIR}/${sb.netns}` : '', Networks: networks },
    ...(sb.policy
      ? {
          EgressPolicy: {
            Default: sb.policy.default,
            Allow: sb.policy.rules.filter((r) => r.verdict === 'allow').map((r) => r.dest),
            Deny: sb.policy.rules.filter((r) => r.verdict === 'deny').map((r) => r.dest),
          },
        }
      : {}),
  };
}

export function sandboxRow(tx: ReadTxn, sb: SandboxRecord, truncate: boolean) {
  const nets = Object.entries(sb.networks).map(([id, r]) => tx.get('networks', id)?.name ?? r.name);
  return {
    ID: truncate ? sb.id.slice(0, 12) : sb.id,
    Name: sb.name,
    Mode: sb.mode,
    State: shownState(sb),
    Networks: nets.join(','),
  };
}

/** A runtime container that exited shows as `exited` at once, before a command records it (§15). */
const shownState = (sb: SandboxRecord): SandboxRecord['state'] =>
  sb.state === 'running' && !isLive(NETNS_DIR, sb) ? 'exited' : sb.state;
