// The kernel vocabulary: one small function per `ip` command netctl says (as CNI's pkg/ip and
// pkg/ns), returning argv after `ip`. Drivers and the core compose plans from these words and
// never spell `ip` syntax themselves, so a command's shape lives in one place and the batch
// guard in ip.ts sees every one. Nothing here runs a process.
import { statSync } from 'node:fs';
import { NETNS_DIR } from './runner.js';

export { NETNS_DIR };

export type Argv = string[];

const mtuArgs = (mtu?: string): string[] => (mtu ? ['mtu', mtu] : []);

// ---------------------------------------------------------------- network namespaces

export const netnsAdd = (name: string): Argv => ['netns', 'add', name];
export const netnsDel = (name: string): Argv => ['netns', 'del', name];
/** Whether two paths are the same file (device and inode): the same namespace, for nsfs files. */
export function sameInode(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/**
 * Whether `path` is the network namespace netctl runs in, or init's: the host's own, never a
 * sandbox. Init's is known by its path too: a container may not let its processes stat it.
 */
export const isHostNetns = (path: string): boolean =>
  /^\/proc\/1\/ns\/net$/.test(path) || sameInode(path, '/proc/self/ns/net') || sameInode(path, '/proc/1/ns/net');

// ---------------------------------------------------------------- links

export const linkDel = (dev: string): Argv => ['link', 'del', dev];
export const linkUp = (dev: string): Argv => ['link', 'set', dev, 'up'];
export const linkMaster = (dev: string, master: string): Argv => ['link', 'set', dev, 'master', master, 'up'];
export const linkMtu = (dev: string, mtu: string): Argv => ['link', 'set', dev, 'mtu', mtu];
/** Moves a device made in the host namespace (a plugin's) into `netns`, renamed, with the endpoint's MAC. */
export const linkMoveInto = (dev: string, netns: string, name: string, mac: string): Argv => [
  'link',
  'set',
  'dev',
  dev,
  'netns',
  netns,
  'name',
  name,
  ...(mac ? ['address', mac] : []),
];
/** No IPv6 link-local address (nor the DAD/RS/MLD multicast one brings). */
export const noAddrGen = (dev: string): Argv => ['link', 'set', dev, 'addrgenmode', 'none'];

export const bridgeAdd = (name: string, mac: string, mtu?: string): Argv => [
  'link',
  'add',
  'name',
  name,
  ...mtuArgs(mtu),
  'address',
  mac,
  'type',
  'bridge',
];

/** A veth pair whose peer is created directly inside `netns` (moving a link later costs ~20 ms). */
export const vethAdd = (hostIf: string, peer: string, peerMac: string, netns: string, mtu?: string): Argv => [
  'link',
  'add',
  hostIf,
  ...mtuArgs(mtu),
  'type',
  'veth',
  'peer',
  'name',
  peer,
  ...mtuArgs(mtu),
  'address',
  peerMac,
  'netns',
  netns,
];

/** A macvlan child of `parent`, created directly inside `netns`. */
export const macvlanAdd = (
  parent: string,
  name: string,
  mode: string,
  mac: string,
  netns: string,
  mtu?: string,
): Argv => [
  'link',
  'add',
  'link',
  parent,
  'name',
  name,
  ...mtuArgs(mtu),
  'address',
  mac,
  'netns',
  netns,
  'type',
  'macvlan',
  'mode',
  mode,
];

/**
 * A VXLAN tunnel endpoint for an overlay (libnetwork's and flannel's settings): learning off and
 * ARP answered from the neighbour table (proxy), so nothing is flooded between hosts; peers come
 * only from permanent FDB and neighbour entries.
 */
export const vxlanAdd = (name: string, vni: number, local: string, mtu: string): Argv => [
  'link',
  'add',
  name,
  'mtu',
  mtu,
  'type',
  'vxlan',
  'id',
  String(vni),
  'local',
  local,
  'dstport',
  '4789',
  'nolearning',
  'proxy',
];

// ---------------------------------------------------------------- addresses and routes

/** The routing table that holds only replies from an overlay's resolver address (see drivers/overlay.ts). */
export const RESOLVER_TABLE = '5353';
/** Traffic from `addr` is routed by RESOLVER_TABLE. */
export const resolverRule = (op: 'add' | 'del', addr: string): Argv => [
  'rule',
  op,
  'from',
  addr,
  'lookup',
  RESOLVER_TABLE,
  'pref',
  RESOLVER_TABLE,
];
/** `subnet` on `dev`, in RESOLVER_TABLE only: the main table keeps no route into the network. */
export const resolverRoute = (subnet: string, dev: string): Argv => [
  'route',
  'replace',
  subnet,
  'dev',
  dev,
  'table',
  RESOLVER_TABLE,
];

/** `nodad`: an address netctl allocated is unique by construction; skipping DAD makes it usable at once. */
export const addrAdd = (cidr: string, dev: string, nodad = false): Argv => [
  'addr',
  'add',
  cidr,
  'dev',
  dev,
  ...(nodad ? ['nodad'] : []),
];
/** Idempotent: an address someone removed comes back, a present one stays as it is. */
export const addrReplace = (cidr: string, dev: string, nodad = false): Argv => [
  'addr',
  'replace',
  cidr,
  'dev',
  dev,
  ...(nodad ? ['nodad'] : []),
];

export const addrDel = (cidr: string, dev: string): Argv => ['addr', 'del', cidr, 'dev', dev];

/** replace, not add: a higher-priority endpoint takes the route over from an earlier one. */
export const defaultRoute = (gateway: string, dev: string): Argv => [
  'route',
  'replace',
  gateway.includes(':') ? '::/0' : 'default',
  'via',
  gateway,
  'dev',
  dev,
];

/** A route a driver asked for: via a next hop, or on-link without one. */
export const routeReplace = (dst: string, dev: string, via?: string): Argv => [
  'route',
  'replace',
  dst,
  ...(via ? ['via', via] : []),
  'dev',
  dev,
];

// ---------------------------------------------------------------- neighbours and FDB (overlay peers)

export const neighPermanent = (ip: string, mac: string, dev: string): Argv => [
  'neigh',
  'replace',
  ip,
  'lladdr',
  mac,
  'dev',
  dev,
  'nud',
  'permanent',
];
export const neighDel = (ip: string, dev: string): Argv => ['neigh', 'del', ip, 'dev', dev];
export const fdbPermanent = (mac: string, dev: string, dst: string): Argv => [
  'fdb',
  'replace',
  mac,
  'dev',
  dev,
  'dst',
  dst,
  'self',
  'permanent',
];
export const fdbDel = (mac: string, dev: string, dst: string): Argv => [
  'fdb',
  'del',
  mac,
  'dev',
  dev,
  'dst',
  dst,
  'self',
];
