// Create and rm of networks of global scope: one etcd transaction each, compared against the
// cluster as read (see overlay/cluster.ts), re-read and re-checked when another host changed it
// meanwhile. The local store gets (or loses) the network's mirror in the same command.
import type { Driver } from '../drivers/driver.js';
import { VNI_OPT } from '../drivers/overlay.js';
import { buildPools, defaultPool, parseSubnet, type TakenPrefix } from '../ipam/ipam.js';
import { ConflictError, ForbiddenError, InvalidArgumentError } from '../lib/errors.js';
import type { NetworkRecord } from '../model/records.js';
import type { NetworkCreate } from '../model/requests.js';
import type { Txn } from '../store/store.js';
import type { Ctx } from '../core/context.js';
import { endpointsOf, sandboxName } from '../core/lookup.js';
import { transaction } from '../core/operation.js';
import { isPredefinedName, newNetworkRecord, takenPrefixes } from '../core/predefined.js';
import { ClusterUnreachable } from './store-errors.js';
import { clusterOf, forgetRead, hasCluster, NEED_CLUSTER, peersOf, snapshotOf } from './global.js';
import { GWBRIDGE } from './gwbridge.js';

const ATTEMPTS = 8;
const FIRST_VNI = 4096;

export async function createGlobal(
  ctx: Ctx,
  req: NetworkCreate,
  driver: Driver,
  options: Record<string, string>,
): Promise<string> {
  if (!hasCluster(ctx)) throw new InvalidArgumentError(NEED_CLUSTER);
  // IPv6 over the IPv4 underlay: dual stack, or IPv6 alone (no IPv4 subnet is added then).
  const v6 = req.subnets.filter((s) => s.includes(':'));
  for (const s of v6) if (!req.enableIPv6) throw new InvalidArgumentError(`IPv6 subnet ${s} needs --ipv6`);
  if (req.enableIPv6 && v6.length === 0) {
    throw new InvalidArgumentError(`network ${req.name}: --ipv6 on ${driver.name} networks needs an IPv6 --subnet`);
  }
  if (req.ipamDriver !== 'default')
    throw new InvalidArgumentError(
      `network ${req.name}: ${driver.name} networks take their addresses from the cluster store, not from IPAM ` +
        `driver ${req.ipamDriver}`,
    );
  return transaction(ctx, async (tx) => {
    if (isPredefinedName(req.name))
      throw new ForbiddenError(`operation is not permitted on predefined ${req.name} network`);
    if (req.name === GWBRIDGE)
      throw new ForbiddenError(
        `${GWBRIDGE} is this host's bridge network for overlays: it cannot be an overlay itself`,
      );
    const cluster = await clusterOf(ctx);
    let pending: NetworkRecord | undefined;
    for (let i = 0; i < ATTEMPTS; i++) {
      const snap = await snapshotOf(ctx, i > 0);
      const same =
        tx.list('networks').find((n) => n.name === req.name && n.scope === 'local') ??
        snap.networks.find((n) => n.name === req.name);
      // Our own transaction, committed although its answer was lost (a timeout after etcd wrote it).
      const mine = same && pending?.id === same.id ? pending : undefined;
      if (mine) {
        tx.put('networks', mine);
        forgetRead(ctx);
        return mine.id;
      }
      if (same)
        throw new ConflictError(
          `network with name ${req.name} already exists`,
          `pick another name, or remove it first: netctl rm ${req.name}`,
        );
      const taken: TakenPrefix[] = [
        ...(await takenPrefixes(ctx, tx, req.subnets.length === 0)).filter(
          (t) => !snap.networks.some((n) => t.owner === `network ${n.name}`),
        ),
        ...snap.networks.flatMap((n) =>
          n.ipam.config.map((p) => ({ prefix: parseSubnet(p.Subnet), owner: `network ${n.name}` })),
        ),
      ];
      const nw: NetworkRecord = {
        ...newNetworkRecord(ctx, req.name, driver.name, false),
        scope: 'global',
        enableIPv6: req.enableIPv6,
        internal: req.internal,
        attachable: req.attachable,
        options,
        labels: req.labels,
      };
      if (req.subnets.length === 0) buildPools(req, []); // refuses a gateway or ip-range without a subnet
      nw.ipam = {
        driver: 'default',
        options: req.ipamOptions,
        config: req.subnets.length ? buildPools(req, taken) : [defaultPool(ctx.pools, taken)],
      };
      nw.userSubnets = req.subnets.length > 0;
      const used = new Map(snap.networks.map((n) => [Number(n.driverState['vni']), n.name]));
      const asked = options[VNI_OPT];
      let vni = FIRST_VNI;
      if (asked !== undefined) {
        vni = Number(asked);
        const holder = used.get(vni);
        if (holder) throw new ConflictError(`VXLAN id ${vni} is already used by network ${holder}`);
      } else {
        while (used.has(vni)) vni++;
      }
      nw.driverState = { ...driver.initState(nw), vni };
      pending = nw;
      const ok = await cluster.createNetwork(nw, vni, snap).catch((e: unknown) => {
        if (e instanceof ClusterUnreachable) throw e;
        return false; // an answer lost on the way: the next read tells whether it was written
      });
      // What this operation read before is stale now (apply -f goes on in the same operation).
      forgetRead(ctx);
      if (ok) {
        tx.put('networks', nw);
        return nw.id;
      }
    }
    throw new ConflictError(`network ${req.name} not created: the cluster store kept changing under it, try again`);
  });
}

/** Refused while any host has an endpoint on it (names them and their hosts); else gone from the cluster. */
export async function removeGlobal(ctx: Ctx, tx: Txn, nw: NetworkRecord): Promise<void> {
  // This host's own endpoints first: nothing may leave the cluster that the local rm then refuses.
  const local = endpointsOf(tx, { network: nw.id });
  if (local.length) {
    throw new ConflictError(
      `network ${nw.name} has active endpoints ` +
        `(${local.map((e) => `${sandboxName(tx, e.sandboxId)} (this host)`).join(', ')})`,
      `disconnect them first: netctl disconnect ${nw.name} <container>`,
    );
  }
  const cluster = await clusterOf(ctx);
  for (let i = 0; i < ATTEMPTS; i++) {
    const snap = await snapshotOf(ctx, i > 0);
    const eps = peersOf(snap, nw);
    if (eps.length) {
      const names = eps.map((p) => `${p.container} (${p.node})`).sort();
      throw new ConflictError(
        `network ${nw.name} has active endpoints (${names.join(', ')})`,
        `disconnect them first: netctl disconnect ${nw.name} <container>, on their hosts`,
      );
    }
    const done = !snap.networks.some((n) => n.id === nw.id) || (await cluster.deleteNetwork(nw, snap));
    forgetRead(ctx);
    if (done) return;
  }
  throw new ConflictError(`network ${nw.name} not removed: endpoints kept coming and going, try again`);
}
