// Network lifecycle (libnetwork's NewNetwork / Network.Delete): create, rm, prune.
import { driverFor, resolveDriver } from '../drivers/index.js';
import { KernelView } from '../kernel/ip.js';
import { buildPools, defaultPool, parseSubnet } from '../ipam/ipam.js';
import { poolRelease, poolSteps } from '../ipam/remote.js';
import { discover } from '../kernel/plugin.js';
import { ConflictError, ForbiddenError, InvalidArgumentError, NotFoundError } from '../lib/errors.js';
import { checkName } from '../lib/validate.js';
import type { KernelCmd, NetworkRecord } from '../model/records.js';
import type { NetworkCreate } from '../model/requests.js';
import type { Txn } from '../store/store.js';
import { matchesLabel } from '../lib/validate.js';
import type { Ctx } from './context.js';
import { busyNetworks, endpointsOf, findNetwork, sandboxName } from './lookup.js';
import { isPredefinedName, newNetworkRecord, takenPrefixes } from './predefined.js';
import { teardown } from '../engine/engine.js';
import { requireScope } from './context.js';
import { execute, resolveNetwork, transaction } from './operation.js';

export async function createNetwork(ctx: Ctx, req: NetworkCreate): Promise<string> {
  checkName('network', req.name);
  const driver = resolveDriver(req.driver);
  const remoteIpam = req.ipamDriver !== 'default';
  if (remoteIpam) checkRemoteIpam(req, driver.plumbs);
  const options = driver.parseOptions(req.options, req.name);
  if (driver.global) return requireScope(ctx).createNetwork(ctx, req, driver, options);
  for (const s of req.subnets) {
    const fam = parseSubnet(s).family;
    if (fam === 6 && !req.enableIPv6) throw new InvalidArgumentError(`IPv6 subnet ${s} needs --ipv6`);
  }
  return transaction(ctx, async (tx) => {
    if (isPredefinedName(req.name))
      throw new ForbiddenError(`operation is not permitted on predefined ${req.name} network`);
    if (tx.list('networks').some((n) => n.name === req.name)) {
      throw new ConflictError(
        `network with name ${req.name} already exists`,
        'pick another name, or remove it first: netctl rm ' + req.name,
      );
    }
    if (driver.singleton) throw new ForbiddenError(`only one instance of "${req.driver}" network is allowed`);
    const nw = newNetworkRecord(ctx, req.name, req.driver, false);
    Object.assign(nw, {
      enableIPv6: req.enableIPv6,
      internal: req.internal,
      attachable: req.attachable,
      options,
      labels: req.labels,
      ipam: { driver: req.ipamDriver, options: req.ipamOptions, config: [] },
    });
    if (remoteIpam) {
      nw.userSubnets = req.subnets.length > 0; // the plugin hands out the pool: overlap is its business
    } else if (req.subnets.length > 0) {
      nw.ipam.config = buildPools(req, await takenPrefixes(ctx, tx, false));
      nw.userSubnets = true;
    } else {
      buildPools(req, []); // gateway / ip-range without a subnet are refused here
      nw.ipam.config = [defaultPool(ctx.pools, await takenPrefixes(ctx, tx, true))];
    }
    if (req.enableIPv6 && !nw.ipam.config.some((p) => p.Subnet.includes(':'))) {
      throw new InvalidArgumentError(`network ${req.name}: --ipv6 needs an IPv6 --subnet`);
    }
    nw.driverState = driver.initState(nw);
    await driver.checkCreate?.({ tx, kernel: new KernelView(ctx.runner), plugins: ctx.plugins }, nw, req);
    // With an IPAM plugin, the driver's steps come once the plugin named the pool.
    const steps = remoteIpam
      ? poolSteps(nw, { subnet: req.subnets[0], ipRange: req.ipRanges[0], gateway: req.gateways[0] }, () =>
          driver.createNetwork(nw),
        )
      : driver.createNetwork(nw);
    await execute(
      ctx,
      tx,
      `create network ${nw.name}`,
      steps,
      () => {
        nw.driverState['ready'] = true;
        tx.put('networks', nw);
      },
      driver.firewall !== undefined,
    );
    return nw.id;
  });
}

/**
 * Removes networks in one transaction with one teardown for all (bridges in one batch, one
 * firewall transaction). Returns a result per argument, and the teardown's errors apart.
 */
export async function removeNetworks(
  ctx: Ctx,
  refs: string[],
  force: boolean,
): Promise<{ results: Array<Error | null>; errors: string[] }> {
  return transaction(ctx, async (tx) => {
    const results: Array<Error | null> = [];
    const cmds: KernelCmd[] = [];
    const names: string[] = [];
    let firewall = false;
    for (const ref of refs) {
      try {
        const found = await resolveNetwork(ctx, tx, ref);
        if (found.scope !== 'local') await requireScope(ctx).removeNetwork(ctx, tx, found);
        const nw = dropNetwork(tx, found.id);
        cmds.push(...networkTeardown(nw));
        firewall ||= hasFirewall(nw);
        names.push(nw.name);
        results.push(null);
      } catch (e) {
        results.push(force && e instanceof NotFoundError ? null : (e as Error));
      }
    }
    const errors = await teardown(ctx, tx, `rm network ${names.join(', ')}`, cmds, firewall);
    return { results, errors };
  });
}

/** Record side of `rm`: refused for predefined networks and while containers are attached. */
function dropNetwork(tx: Txn, ref: string): NetworkRecord {
  const nw = findNetwork(tx, ref);
  if (nw.predefined) throw new ForbiddenError(`${nw.name} is a pre-defined network and cannot be removed`);
  const eps = endpointsOf(tx, { network: nw.id });
  if (eps.length > 0) {
    const names = eps.map((e) => sandboxName(tx, e.sandboxId));
    throw new ConflictError(
      `network ${nw.name} has active endpoints (${names.join(', ')})`,
      `disconnect them first: netctl disconnect ${nw.name} <container>`,
    );
  }
  tx.delete('networks', nw.id);
  return nw;
}

const networkTeardown = (nw: NetworkRecord): KernelCmd[] => [
  ...(nw.driverState['ready'] ? driverFor(nw.driver).deleteNetwork(nw) : []),
  ...poolRelease(nw),
];

/** What an IPAM plugin network takes: one IPv4 pool; refused before anything is asked. */
function checkRemoteIpam(req: NetworkCreate, plumbs: boolean): void {
  discover(req.ipamDriver);
  const what = `network ${req.name} (IPAM driver ${req.ipamDriver})`;
  if (!plumbs) throw new InvalidArgumentError(`${what}: driver ${req.driver} has no addresses to manage`);
  if (req.enableIPv6 || req.subnets.some((s) => s.includes(':')))
    throw new InvalidArgumentError(`${what}: IPv6 from an IPAM plugin is not supported yet`);
  if (req.subnets.length > 1 || req.gateways.length > 1 || req.ipRanges.length > 1)
    throw new InvalidArgumentError(`${what}: one --subnet (with at most one --gateway and --ip-range) per network`);
  if (Object.keys(req.auxAddresses).length)
    throw new InvalidArgumentError(`${what}: --aux-address is not supported with an IPAM plugin`);
  if (req.subnets.length) parseSubnet(req.subnets[0] ?? '');
}

/** Whether the network had rules of its own (it was in use, and its driver has a firewall part). */
const hasFirewall = (nw: NetworkRecord): boolean =>
  Boolean(nw.driverState['ready']) && driverFor(nw.driver).firewall !== undefined;

export async function prune(
  ctx: Ctx,
  labelFilters: Array<{ key: string; value?: string; negate: boolean }>,
  until?: Date,
): Promise<{ removed: string[]; errors: string[] }> {
  return transaction(ctx, async (tx) => {
    const busy = busyNetworks(tx);
    const removed: string[] = [];
    const cmds: KernelCmd[] = [];
    let firewall = false;
    for (const nw of tx.list('networks').sort((a, b) => a.name.localeCompare(b.name))) {
      if (nw.predefined || busy.has(nw.id) || nw.scope !== 'local') continue; // a scope's network: rm it by name
      if (until && new Date(nw.created) >= until) continue;
      if (!labelFilters.every((f) => matchesLabel(nw.labels, f.key, f.value) !== f.negate)) continue;
      cmds.push(...networkTeardown(dropNetwork(tx, nw.id)));
      firewall ||= hasFirewall(nw);
      removed.push(nw.name);
    }
    const errors = await teardown(ctx, tx, `prune ${removed.join(', ')}`, cmds, firewall);
    return { removed, errors };
  });
}
