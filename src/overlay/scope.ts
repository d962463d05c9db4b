// The overlay module as the core sees it: the hooks of the global scope (src/core/context.ts
// Scope). Networks of global scope live in a cluster store (etcd); this host keeps mirrors of
// them, claims its endpoints' addresses there, programs its peers, and gives sandboxes whose only
// ways out are overlays the gwbridge. The CLI plugs it in (src/cli/wiring.ts).
import { driverFor } from '../drivers/index.js';
import type { Executors } from '../engine/engine.js';
import type { Ctx, Scope } from '../core/context.js';
import { InvalidArgumentError } from '../lib/errors.js';
import type { EndpointRecord, EndpointSettings, NetworkRecord, SandboxRecord, Step } from '../model/records.js';
import type { Txn } from '../store/store.js';
import type { Cluster } from './cluster.js';
import {
  claimStep,
  clusterRelease,
  hasCluster,
  lastRead,
  prepareHost,
  reconcileHost,
  resolveNetwork,
  sendClusterCall,
  snapshotOf,
  syncMirrors,
  syncPeers,
} from './global.js';
import { ensureGwbridge, fixGwbridge, GWBRIDGE, gwbridgeJoin, gwbridgeWanted, onGwbridge } from './gwbridge.js';
import { createGlobal, removeGlobal } from './networks.js';

/** How long commands leave a journaled cluster call alone once the store was unreachable. */
const CLUSTER_RETRY_MS = 30_000;

export class GlobalScope implements Scope {
  /** `cluster`: the cluster store, connected on first use; absent without `--cluster-store`. */
  constructor(readonly cluster?: () => Promise<Cluster>) {}

  executors(ctx: Ctx): Executors {
    if (!this.cluster) return {};
    return { ClusterStore: { send: (c) => sendClusterCall(ctx, c), retryAfterMs: CLUSTER_RETRY_MS } };
  }

  resolveNetwork = resolveNetwork;
  createNetwork = createGlobal;
  removeNetwork = removeGlobal;

  manages(nw: NetworkRecord): boolean {
    return nw.scope === 'global' || (nw.scope === 'local' && nw.name === GWBRIDGE);
  }

  async prepare(ctx: Ctx, tx: Txn, nets: NetworkRecord[], join: boolean): Promise<NetworkRecord[]> {
    const snap = await snapshotOf(ctx); // an unreachable store fails here, before any change
    if (!join) return nets;
    await syncMirrors(ctx, tx, snap);
    const fresh = nets.map((n) => tx.get('networks', n.id)).filter((n): n is NetworkRecord => n !== undefined);
    for (const nw of fresh) await prepareHost(ctx, nw);
    return fresh;
  }

  /** The cluster store hands out the address (compare-and-swap); the devices follow its answer. */
  addressStep(
    nw: NetworkRecord,
    ep: EndpointRecord,
    sb: SandboxRecord,
    settings: EndpointSettings,
    plumb: () => Step[],
  ): Step {
    const { IPv4Address: ipv4, IPv6Address: ipv6 } = settings.IPAMConfig ?? {};
    if (ipv6 && !nw.enableIPv6) throw new InvalidArgumentError(`network ${nw.name} does not have IPv6 enabled`);
    if ((ipv4 || ipv6) && !nw.userSubnets) {
      throw new InvalidArgumentError(
        'user specified IP address is supported only when connecting to networks with user configured subnets',
      );
    }
    // No gateway: the gwbridge carries the way out.
    ep.mac = (settings.MacAddress ?? '').toLowerCase();
    const asked = {
      ...(ipv4 ? { ipv4 } : {}),
      ...(ipv6 ? { ipv6 } : {}),
      ...(settings.MacAddress ? { mac: settings.MacAddress } : {}),
      ...(settings.Aliases?.length ? { aliases: settings.Aliases } : {}),
    };
    return claimStep(nw, ep, sb, asked, plumb);
  }

  releaseAddress = clusterRelease;

  /** This host's devices of `nw` go with its last endpoint here (Docker's overlay sandbox does too). */
  idle(tx: Txn, nw: NetworkRecord) {
    if (!nw.driverState['ready']) return [];
    nw.driverState['ready'] = false;
    delete nw.driverState['peers'];
    tx.put('networks', nw);
    return driverFor(nw.driver).deleteNetwork(nw);
  }

  async afterCommit(ctx: Ctx, tx: Txn, nets: NetworkRecord[]): Promise<void> {
    const snap = lastRead(ctx);
    if (snap) for (const nw of nets) await syncPeers(ctx, tx, nw, snap);
  }

  /** Peers from the cluster, compared with what the kernel has (not what was recorded). */
  async restore(ctx: Ctx, tx: Txn): Promise<void> {
    if (!hasCluster(ctx)) return;
    await reconcileHost(ctx, tx, true).catch((e: Error) => ctx.warn(`overlay peers not restored: ${e.message}`));
  }

  /** A sandbox whose only ways out are overlays goes out through the gwbridge (Swarm's docker_gwbridge). */
  async wayOutPlan(
    ctx: Ctx,
    tx: Txn,
    sb: SandboxRecord,
    adding: NetworkRecord,
    pending: EndpointRecord[],
    marks: Map<string, Record<string, string>>,
  ) {
    if (!gwbridgeWanted(tx, sb, adding) || onGwbridge(tx, sb)) return undefined;
    return gwbridgeJoin(ctx, tx, sb, pending, marks);
  }

  async recordWayOut(ctx: Ctx, tx: Txn, sb: SandboxRecord): Promise<void> {
    if (!gwbridgeWanted(tx, sb)) return;
    const gw = await ensureGwbridge(ctx, tx);
    sb.networks[gw.id] = { name: gw.name, settings: {} };
  }

  fixWayOut = fixGwbridge;
}
