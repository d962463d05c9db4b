// Networks of global scope (docs/reference.md §10, overlay): the cluster store is the truth, and this host
// keeps a mirror of each global network in its own store (plus its part: whether its devices
// exist, its VTEP address and MTU, the peer entries it programmed). Commands that touch a
// global network read the cluster once (one range read at one revision), bring the mirrors up
// to date, and write to the cluster only through journaled calls (kind 'ClusterStore'), so a
// crash mid-connect is finished like any other step: the claimed address goes back.
//
// Local commands never reach the cluster: a name that resolves to a local network is served
// from the local store alone.
import type { RemoteName } from '../dns/view.js';
import { driverFor } from '../drivers/index.js';
import type { PeerEntry } from '../drivers/driver.js';
import { VXLAN_OVERHEAD } from '../drivers/overlay.js';
import type { Cluster, ClaimRequest, Snapshot } from './cluster.js';
import { ipCleanup, ipJson, KernelView } from '../kernel/ip.js';
import { InvalidArgumentError, UnreachableError } from '../lib/errors.js';
import {
  bareIP,
  type EndpointRecord,
  type KernelCmd,
  type NetworkRecord,
  type PluginCall,
  type SandboxRecord,
  type Step,
} from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx } from '../core/context.js';
import { dropOrphan } from '../core/endpoints.js';
import { endpointsOf, findNetwork } from '../core/lookup.js';
import { mark } from '../lib/trace.js';

export const NEED_CLUSTER = 'overlay networks need a cluster store (--cluster-store etcd://...)';

/** Driver state that belongs to this host, kept when a mirror is refreshed from the cluster. */
const LOCAL_STATE = ['ready', 'mtu', 'local', 'peers', 'names'];

/** The cluster store of this command, which the scope plugged into the core carries (scope.ts). */
const clusterFactory = (ctx: Ctx): (() => Promise<Cluster>) | undefined =>
  (ctx.scope as { cluster?: () => Promise<Cluster> } | undefined)?.cluster;

/** Whether this command has a cluster store. */
export const hasCluster = (ctx: Ctx): boolean => clusterFactory(ctx) !== undefined;

/** The cluster client (connected on first use). */
export async function clusterOf(ctx: Ctx): Promise<Cluster> {
  const cluster = clusterFactory(ctx);
  if (!cluster) throw new InvalidArgumentError(NEED_CLUSTER);
  return cluster();
}

/** The cluster as this operation read it: each transaction starts a new `ctx.op`, and so a new read. */
const reads = new WeakMap<object, Snapshot>();
export const lastRead = (ctx: Ctx): Snapshot | undefined => reads.get(ctx.op);
/** What was read is stale: the operation wrote to the cluster. */
export const forgetRead = (ctx: Ctx): boolean => reads.delete(ctx.op);

/** The cluster at one revision, read once per operation. */
export async function snapshotOf(ctx: Ctx, fresh = false): Promise<Snapshot> {
  const had = reads.get(ctx.op);
  if (!fresh && had) return had;
  const cluster = await clusterOf(ctx);
  const snap = await cluster.snapshot();
  mark('cluster: read');
  reads.set(ctx.op, snap);
  // This host shows in `node ls` from its first global command on (then claims and the agent keep it current).
  const me = snap.nodes.find((n) => n.addr === cluster.me.addr);
  if (!me || me.name !== cluster.me.name || Date.now() - Date.parse(me.seen) > 60_000) await cluster.touchNode();
  return snap;
}

export const isGlobal = (nw: NetworkRecord): boolean => nw.scope === 'global';

/**
 * What a user typed, as Docker resolves it: a local network is found locally (no cluster
 * read); otherwise, with a cluster store, among the global networks after the mirrors are
 * brought up to date.
 */
export async function resolveNetwork(ctx: Ctx, tx: Txn, ref: string): Promise<NetworkRecord> {
  let local: NetworkRecord | undefined;
  try {
    local = findNetwork(tx, ref);
  } catch (e) {
    if (!hasCluster(ctx)) throw e;
  }
  if (local && !isGlobal(local)) return local;
  if (!hasCluster(ctx))
    throw new InvalidArgumentError(`network ${local?.name ?? ref} is of global scope: ${NEED_CLUSTER}`);
  await syncMirrors(ctx, tx, await snapshotOf(ctx));
  return findNetwork(tx, ref);
}

/**
 * Mirrors every global network of the cluster into the local store; a mirror whose network is
 * gone from the cluster goes too, with this host's devices for it (they have no endpoint left:
 * rm is refused while any host has one, and `node rm` is refused for this host).
 */
export async function syncMirrors(ctx: Ctx, tx: Txn, snap: Snapshot): Promise<void> {
  const remote = new Map(snap.networks.map((n) => [n.id, n]));
  const gone: KernelCmd[] = [];
  for (const m of tx.list('networks').filter(isGlobal)) {
    if (remote.has(m.id) || endpointsOf(tx, { network: m.id }).length) continue;
    if (m.driverState['ready']) gone.push(...driverFor(m.driver).deleteNetwork(m));
    tx.delete('networks', m.id);
  }
  for (const n of remote.values()) {
    const old = tx.get('networks', n.id);
    const state = { ...n.driverState };
    for (const k of LOCAL_STATE) if (old && old.driverState[k] !== undefined) state[k] = old.driverState[k] as string;
    const mirror: NetworkRecord = { ...n, scope: 'global', driverState: state };
    if (!old || JSON.stringify(old) !== JSON.stringify(mirror)) tx.put('networks', mirror);
  }
  if (gone.length) {
    const errs = await ipCleanup(ctx.runner, gone);
    for (const e of errs) ctx.warn(`removing the devices of a network gone from the cluster: ${e}`);
  }
  await reclaimOrphans(ctx, tx, snap);
}

/**
 * Endpoints this host has that the cluster no longer lists (another host ran `node rm` on it
 * while it was cut off): published again with their address if it is still free; if another
 * host took it meanwhile, this one is taken down, since one address cannot live twice on a segment.
 */
async function reclaimOrphans(ctx: Ctx, tx: Txn, snap: Snapshot): Promise<void> {
  const known = new Set(snap.peers.map((p) => p.id));
  const inCluster = new Set(snap.networks.map((n) => n.id));
  const orphans = tx
    .list('networks')
    .filter((n) => isGlobal(n) && inCluster.has(n.id))
    .flatMap((n) => endpointsOf(tx, { network: n.id }))
    .filter((e) => !known.has(e.id));
  if (orphans.length === 0) return;
  const cluster = await clusterOf(ctx);
  for (const ep of orphans) {
    const sb = tx.get('sandboxes', ep.sandboxId);
    const nw = tx.get('networks', ep.networkId);
    if (!sb || !nw) continue;
    try {
      await cluster.claim({
        network: nw.id,
        endpoint: ep.id,
        sandbox: sb.id,
        container: sb.name,
        aliases: sb.networks[nw.id]?.settings.Aliases ?? [],
        ...(ep.ipv4 ? { ipv4: bareIP(ep.ipv4) } : {}),
        ...(ep.ipv6 ? { ipv6: bareIP(ep.ipv6) } : {}),
        mac: ep.mac,
        reclaim: true,
      });
      ctx.warn(
        `endpoint of container ${sb.name} on ${nw.name} was missing from the cluster store: published again ` +
          `(${ep.ipv4})`,
      );
    } catch (e) {
      if (e instanceof UnreachableError) throw e;
      ctx.warn(
        `container ${sb.name} lost its address ${bareIP(ep.ipv4)} on ${nw.name} (${(e as Error).message}): ` +
          `disconnected here`,
      );
      await dropOrphan(ctx, tx, sb, nw, ep);
    }
  }
  forgetRead(ctx); // what was read is stale now
}

/** Before this host's devices of `nw` are made: the VTEP address, and the MTU the underlay leaves. */
export async function prepareHost(ctx: Ctx, nw: NetworkRecord): Promise<void> {
  if (nw.driverState['ready']) return;
  const me = (await clusterOf(ctx)).me;
  const links = await ipJson<Array<{ ifname: string; mtu: number; addr_info?: Array<{ local: string }> }>>(
    ctx.runner,
    undefined,
    ['addr', 'show'],
  );
  const under = links.find((l) => l.addr_info?.some((a) => a.local === me.addr));
  if (!under)
    throw new InvalidArgumentError(
      `advertise address ${me.addr} is not an address of this host`,
      "set --advertise-addr (or NETCTL_ADVERTISE_ADDR) to this host's underlay address",
    );
  nw.driverState['local'] = me.addr;
  nw.driverState['mtu'] = under.mtu - VXLAN_OVERHEAD;
}

const clusterCall = (method: string, body: Record<string, unknown>): PluginCall => ({
  plugin: 'cluster',
  kind: 'ClusterStore',
  method,
  body,
});

/** Connect: the claim of an address and the endpoint's publication, one journaled call; then `after()`. */
export function claimStep(
  nw: NetworkRecord,
  ep: EndpointRecord,
  sb: SandboxRecord,
  asked: { ipv4?: string; ipv6?: string; mac?: string; aliases?: string[] },
  after: () => Step[],
): Step {
  const req: ClaimRequest = { network: nw.id, endpoint: ep.id, sandbox: sb.id, container: sb.name, ...asked };
  return {
    cmds: [],
    undo: clusterRelease(nw, ep),
    call: {
      ...clusterCall('Claim', { ...req }),
      then: (a) => {
        ep.ipv4 = String(a['Address'] ?? '');
        ep.ipv6 = String(a['AddressIPv6'] ?? '');
        ep.mac = String(a['MacAddress'] ?? ep.mac);
        return after();
      },
    },
  };
}

/** Disconnect (and the undo of a claim): the endpoint and its address leave the cluster. */
export const clusterRelease = (nw: NetworkRecord, ep: EndpointRecord): KernelCmd[] =>
  isGlobal(nw) ? [{ args: [], call: clusterCall('Release', { network: nw.id, endpoint: ep.id }) }] : [];

/** Runs a journaled cluster call (the engine's executor of kind ClusterStore: src/overlay/scope.ts). */
export async function sendClusterCall(ctx: Ctx, c: PluginCall): Promise<Record<string, unknown>> {
  const cluster = await clusterOf(ctx);
  if (c.method === 'Claim') {
    const req = c.body as unknown as ClaimRequest;
    const peer = await cluster.claim(req, lastRead(ctx)?.used.get(req.network) ?? new Map());
    return { Address: peer.ipv4, AddressIPv6: peer.ipv6 ?? '', MacAddress: peer.mac };
  }
  if (c.method === 'Release') {
    await cluster.release(String(c.body['network']), String(c.body['endpoint']));
    return {};
  }
  throw new InvalidArgumentError(`unknown cluster store call ${c.method}`);
}

const encode = (ps: PeerEntry[]): string =>
  ps
    .map((p) => `${p.ip},${p.mac},${p.vtep}`)
    .sort()
    .join(';');
const decode = (s: unknown): PeerEntry[] =>
  (typeof s === 'string' && s ? s.split(';') : []).map((x) => {
    const [ip = '', mac = '', vtep = ''] = x.split(',');
    return { ip, mac, vtep };
  });

/**
 * Brings this host's entries for the remote endpoints of `nw` in line with the cluster (from
 * what it programmed last, or from the kernel when `fromKernel`): best-effort, since they are
 * derived state that the next command or the agent reconciles again; records what it set.
 */
export async function syncPeers(
  ctx: Ctx,
  tx: Txn,
  nw: NetworkRecord,
  snap: Snapshot,
  fromKernel = false,
): Promise<void> {
  const driver = driverFor(nw.driver);
  if (!driver.peers || !nw.driverState['ready']) return;
  const me = String(nw.driverState['local'] ?? '');
  const want = snap.peers
    .filter((p) => p.networkId === nw.id && p.vtep !== me && p.mac)
    // One neighbour entry per address (IPv4 and IPv6), one FDB entry per MAC.
    .flatMap((p) => [p.ipv4, p.ipv6].filter(Boolean).map((ip) => ({ ip: bareIP(ip), mac: p.mac, vtep: p.vtep })));
  const had =
    fromKernel && driver.readPeers
      ? await driver.readPeers(new KernelView(ctx.runner), nw)
      : decode(nw.driverState['peers']);
  const cmds = driver.peers(nw, want, had);
  if (cmds.length) {
    const errs = await ipCleanup(
      ctx.runner,
      cmds.map((args) => ({ args })),
    );
    for (const e of errs) ctx.warn(`peers of network ${nw.name}: ${e}`);
  }
  const text = encode(want);
  // The names of the remote endpoints, for this host's resolver (dns/view.ts reads them).
  const names = JSON.stringify(
    snap.peers
      .filter((p) => p.networkId === nw.id && p.vtep !== me)
      .map((p): RemoteName => ({
        sb: p.sandboxId,
        name: p.container,
        aliases: p.aliases ?? [],
        ipv4: p.ipv4,
        ipv6: p.ipv6,
      })),
  );
  if (nw.driverState['peers'] !== text || (nw.driverState['names'] ?? '[]') !== names) {
    nw.driverState['peers'] = text;
    nw.driverState['names'] = names;
    tx.put('networks', nw);
  }
}

/** Every global network this host has devices for: peers from the kernel (restore, the agent's first pass). */
export async function reconcileHost(ctx: Ctx, tx: Txn, fromKernel: boolean, read?: Snapshot): Promise<void> {
  const snap = read ?? (await snapshotOf(ctx, true));
  reads.set(ctx.op, snap);
  await syncMirrors(ctx, tx, snap);
  for (const nw of tx.list('networks').filter(isGlobal)) {
    await syncPeers(ctx, tx, nw, snap, fromKernel).catch((e: Error) =>
      ctx.warn(`peers of network ${nw.name}: ${e.message}`),
    );
  }
}

/** What `ls` and `inspect` see: local networks, and the global ones as the cluster has them (not the mirrors). */
export function mergedNetworks(tx: ReadTxn, snap: Snapshot): NetworkRecord[] {
  return [
    ...tx.list('networks').filter((n) => !isGlobal(n)),
    ...snap.networks.map((n) => ({ ...n, scope: 'global' as const })),
  ];
}

/** Endpoint records of every host on a global network, for inspect and rm. */
export function peersOf(snap: Snapshot, nw: NetworkRecord): Snapshot['peers'] {
  return snap.peers.filter((p) => p.networkId === nw.id);
}

/** The cluster as it is now, and this host in it (undefined without a cluster store); throws ClusterUnreachable. */
export async function clusterNow(ctx: Ctx): Promise<{ snap: Snapshot; me: Cluster['me'] } | undefined> {
  if (!hasCluster(ctx)) return undefined;
  const c = await clusterOf(ctx);
  return { snap: await c.snapshot(), me: c.me };
}
