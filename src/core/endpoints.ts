// Endpoint lifecycle (libnetwork's CreateEndpoint + Join, Leave + Delete): connect,
// disconnect, and the join/leave plans that sandbox start/stop and restore reuse. The driver
// makes the endpoint's device; everything after that is the same for every driver and lives
// here: the address, the interface's configuration in the sandbox, the default route.
import { existsSync } from 'node:fs';
import type { Driver } from '../drivers/driver.js';
import { driverFor } from '../drivers/index.js';
import { allocate, parseSubnet, release } from '../ipam/ipam.js';
import { listLinks } from '../kernel/ip.js';
import { addrAdd, addrReplace, defaultRoute, linkDel, linkUp, noAddrGen, routeReplace } from '../kernel/ops.js';
import {
  ConflictError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  SystemError,
  UsageError,
} from '../lib/errors.js';
import { contains, macFromIPv4, parseIP } from '../lib/ip.js';
import { randomBytes } from '../lib/random.js';
import { checkName } from '../lib/validate.js';
import {
  bareIP,
  sharesNetns,
  type EndpointRecord,
  type EndpointSettings,
  type KernelCmd,
  type NetworkRecord,
  type SandboxRecord,
  type Step,
} from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import { checkStaticAddress, IFNAME_OPT, validateSettings } from './checks.js';
import type { Ctx } from './context.js';
import { electGateway } from '../model/gateway.js';
import { endpointsOf, findSandbox, networkOf, sandboxName } from './lookup.js';
import { reservedFor, reserve, unreserve } from './reservations.js';
import { addressRelease, addressStep } from '../ipam/remote.js';
import { hostFirst } from './steps.js';
import { apply, teardown, touch, update } from './txn.js';
import { claimStep, clusterRelease, isGlobal, prepareHost, resolveNetwork, syncPeers } from './global.js';
import { fixGwbridge, gwbridgeJoin, gwbridgeWanted, onGwbridge } from './gwbridge.js';

const SHARED_NS_ERR =
  'container sharing network namespace with another container or host cannot be connected to any other network';

/** IPAM's marks per network as one operation moves them (several endpoints may join one network). */
export type Marks = Map<string, Record<string, string>>;

export interface JoinPlan {
  ep: EndpointRecord;
  steps: Step[];
  /** Records the endpoint once the steps succeeded. */
  commit: () => void;
  /** The firewall must be synced (a network comes into use). */
  firewall: boolean;
}

/**
 * Connects one or many containers to a network in one transaction: all or nothing. Several
 * containers share one `ip -batch` on the host side; per-endpoint settings (an address, a
 * MAC, aliases) only make sense for one container and are refused for several.
 */
export async function connect(ctx: Ctx, netRef: string, ctrRefs: string[], settings: EndpointSettings): Promise<void> {
  validateSettings(settings);
  const refs = [...new Set(ctrRefs)];
  if (refs.length > 1 && (settings.IPAMConfig || settings.MacAddress || settings.Aliases?.length)) {
    throw new UsageError(
      '--ip, --ip6, --link-local-ip, --mac-address and --alias apply to one container; connect several containers without them',
    );
  }
  await update(ctx, async (tx) => {
    try {
      await connectIn(ctx, tx, netRef, refs, settings, false);
    } catch (e) {
      // An adopted namespace already had an eth<N> of someone else's: look, then try once more.
      // Not after a rollback that failed: what it left is journaled, and a retry would pile on.
      if (!(e instanceof SystemError) || !/File exists/.test(e.message) || /\(rollback: /.test(e.message)) throw e;
      await connectIn(ctx, tx, netRef, refs, settings, true);
    }
  });
}

async function connectIn(
  ctx: Ctx,
  tx: Txn,
  netRef: string,
  refs: string[],
  settings: EndpointSettings,
  probe: boolean,
): Promise<void> {
  const nw = await resolveNetwork(ctx, tx, netRef);
  const driver = driverFor(nw.driver);
  if (isGlobal(nw)) await prepareHost(ctx, nw);
  const steps: Step[] = [];
  const commits: Array<() => void> = [];
  const pending: EndpointRecord[] = [];
  const marks: Marks = new Map();
  let firewall = false;
  for (const ref of refs) {
    const sb = findSandbox(tx, ref) ?? (await adopt(ctx, ref, probe));
    if (sharesNetns(sb.mode)) throw new ForbiddenError(SHARED_NS_ERR);
    driver.checkJoin?.(nw, sb);
    if (sb.networks[nw.id] || endpointsOf(tx, { sandbox: sb.id, network: nw.id }).length) {
      throw new ConflictError(`endpoint with name ${sb.name} already exists in network ${nw.name}`);
    }
    touch(ctx, tx, sb);
    const record = () => {
      sb.networks[nw.id] = { name: nw.name, settings };
      tx.put('sandboxes', sb);
    };
    if (sb.state === 'running') {
      const plan = planJoin(ctx, tx, sb, nw, settings, pending, marks);
      pending.push(plan.ep);
      steps.push(...plan.steps);
      commits.push(plan.commit, record);
      firewall ||= plan.firewall || sb.ports.length > 0;
      // A sandbox whose only ways out are overlays goes out through the gwbridge (Swarm's docker_gwbridge).
      const out =
        gwbridgeWanted(tx, sb, nw) && !onGwbridge(tx, sb) ? await gwbridgeJoin(ctx, tx, sb, pending, marks) : undefined;
      if (out) {
        pending.push(out.ep);
        steps.push(...out.steps);
        commits.push(out.commit);
        firewall = true;
      }
    } else {
      checkStaticAddress(nw, settings); // the rest (IP free? network still there?) is checked at start
      commits.push(record);
    }
  }
  const what = refs.length === 1 ? refs[0] : `${refs.length} containers`;
  await apply(ctx, tx, `connect ${what} to ${nw.name}`, hostFirst(steps), () => commits.forEach((c) => c()), firewall);
  if (isGlobal(nw) && ctx.op.snap) await syncPeers(ctx, tx, nw, ctx.op.snap);
  // A bridge network joined takes the way out over from the gwbridge; a stopped sandbox's record follows too.
  for (const ref of refs) {
    const sb = findSandbox(tx, ref);
    if (sb) await fixGwbridge(ctx, tx, sb);
  }
}

/**
 * A named netns made by `ip netns add` is adopted as a running sandbox (it is not deleted on
 * rm). Its eth<N> numbering starts at 0; with `probe`, after eth<N> of someone else's got in
 * the way, above the highest one there.
 */
export async function adopt(ctx: Ctx, name: string, probe: boolean): Promise<SandboxRecord> {
  checkName('container', name);
  if (!existsSync(`${ctx.netnsDir}/${name}`)) {
    throw new NotFoundError(
      `No such container: ${name}`,
      `create it with: netctl sandbox create ${name}  (or: ip netns add ${name})`,
    );
  }
  const used = probe
    ? (await listLinks(ctx.runner, name))
        .map((l) => /^eth(\d+)$/.exec(l.ifname)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
    : [];
  return {
    id: ctx.id(),
    name,
    created: ctx.now().toISOString(),
    mode: 'adopted',
    state: 'running',
    netns: name,
    ownsNetns: false,
    nextIf: used.length ? Math.max(...used) + 1 : 0,
    networks: {},
    hostname: name,
    ports: [],
  };
}

/**
 * Plans one endpoint of a running sandbox: address, interface names, kernel steps.
 * Mutates nothing; `commit` records the endpoint once the steps succeeded.
 */
export function planJoin(
  ctx: Ctx,
  tx: ReadTxn,
  sb: SandboxRecord,
  nw: NetworkRecord,
  settings: EndpointSettings,
  pending: EndpointRecord[] = [],
  marks: Marks = new Map(),
): JoinPlan {
  const driver = driverFor(nw.driver);
  const live = [...endpointsOf(tx, { sandbox: sb.id }), ...pending.filter((p) => p.sandboxId === sb.id)];
  const ep: EndpointRecord = {
    id: ctx.id(),
    networkId: nw.id,
    sandboxId: sb.id,
    ifName: '',
    hostIf: '',
    mac: '',
    ipv4: '',
    ipv6: '',
    gateway4: '',
    gateway6: '',
    seq: live.reduce((m, e) => Math.max(m, e.seq + 1), 0),
    gwPriority: settings.GwPriority ?? 0,
  };
  const steps: Step[] = [];
  const remoteIpam = driver.plumbs && nw.ipam.remote !== undefined;
  const clusterIpam = driver.global === true;
  if (remoteIpam) remoteAddresses(nw, ep, settings);
  else if (clusterIpam) clusterAddresses(nw, ep, settings);
  else if (driver.plumbs) assignAddresses(tx, sb, nw, ep, settings, pending, marks);
  if (driver.plumbs) {
    Object.assign(ep, driver.endpointNames(nw, sb.nextIf));
    const asked = settings.DriverOpts?.[IFNAME_OPT];
    if (asked) ep.ifName = asked; // the eth<N> index still advances: eth<N> is never reused
    const twin = live.find((e) => e.ifName === ep.ifName);
    if (twin)
      throw new ConflictError(
        `container ${sb.name} already has an interface ${ep.ifName} (on network ${networkOf(tx, nw)(twin.networkId)?.name ?? twin.networkId})`,
      );
    if (!nw.driverState['ready']) steps.push(...driver.createNetwork(nw)); // predefined bridge: made on first use
  }
  const gateway = electGateway([...live, ep], networkOf(tx, nw)) === ep;
  // Taking the default route over replaces the previous one: its undo puts that one back.
  const before = gateway ? electGateway(live, networkOf(tx)) : undefined;
  const plumb = (): Step[] => {
    const made = joinSteps(driver, nw, ep, sb, gateway);
    const inner = made.find((st) => st.ns === sb.netns);
    if (before && inner) inner.undo.push(...defaultRoutes(before).map((args) => ({ ns: sb.netns, args })));
    return made;
  };
  // An IPAM plugin's address comes first: the driver's steps (a veth's MAC, CreateEndpoint's Interface) need it.
  if (remoteIpam) {
    const kept = settings.IPAMConfig?.IPv4Address ?? reservedFor(nw, sb.id, 4);
    steps.push(
      addressStep(nw, ep, kept, () => {
        if (!settings.MacAddress) ep.mac = macFromIPv4(parseIP(bareIP(ep.ipv4)) ?? { family: 4, value: 0n });
        return plumb();
      }),
    );
  } else if (clusterIpam) {
    // The cluster store hands out the address (compare-and-swap); the devices follow its answer.
    steps.push(
      claimStep(
        nw,
        ep,
        sb,
        {
          ...(settings.IPAMConfig?.IPv4Address ? { ipv4: settings.IPAMConfig.IPv4Address } : {}),
          ...(settings.MacAddress ? { mac: settings.MacAddress } : {}),
        },
        plumb,
      ),
    );
  } else {
    steps.push(...plumb());
  }
  const commit = () => {
    if (driver.plumbs) {
      sb.nextIf++;
      nw.driverState['ready'] = true;
      nw.ipam.next = { ...marks.get(nw.id) };
      unreserve(nw, sb.id, false); // a starting sandbox took its reserved addresses up again
      (tx as Txn).put('networks', nw);
    }
    (tx as Txn).put('endpoints', ep);
  };
  // A network coming into use has rules to write; a sandbox's published ports may follow a new gateway.
  return { ep, steps, commit, firewall: driver.firewall !== undefined && !nw.driverState['ready'] };
}

/** With an IPAM plugin: the gateway and MAC known now; the address comes from the plugin (addressStep). */
function remoteAddresses(nw: NetworkRecord, ep: EndpointRecord, settings: EndpointSettings): void {
  if (settings.IPAMConfig?.IPv6Address) throw new InvalidArgumentError(`network ${nw.name} does not have IPv6 enabled`);
  ep.gateway4 = nw.ipam.config[0]?.Gateway ?? '';
  ep.mac = (settings.MacAddress ?? randomMac()).toLowerCase(); // replaced by one from the address, unless asked for
}

/** On a global network: the address comes from the cluster store; no gateway (the gwbridge carries the way out). */
function clusterAddresses(nw: NetworkRecord, ep: EndpointRecord, settings: EndpointSettings): void {
  if (settings.IPAMConfig?.IPv6Address) throw new InvalidArgumentError(`network ${nw.name} does not have IPv6 enabled`);
  if (settings.IPAMConfig?.IPv4Address && !nw.userSubnets) {
    throw new InvalidArgumentError(
      'user specified IP address is supported only when connecting to networks with user configured subnets',
    );
  }
  ep.mac = (settings.MacAddress ?? '').toLowerCase();
}

/** The endpoint's addresses from IPAM, its gateways and its MAC. */
function assignAddresses(
  tx: ReadTxn,
  sb: SandboxRecord,
  nw: NetworkRecord,
  ep: EndpointRecord,
  settings: EndpointSettings,
  pending: EndpointRecord[],
  marks: Marks,
): void {
  // The network's addresses are searched for in the store's text: no endpoint record is read.
  const mine = pending.filter((p) => p.networkId === nw.id);
  const addrs = (e: EndpointRecord) => [e.ipv4, e.ipv6].filter(Boolean).map(bareIP);
  const onNet = { field: 'networkId', value: nw.id };
  const inUse = {
    keys: () =>
      [
        ...(nw.enableIPv6 ? ['ipv4', 'ipv6'] : ['ipv4']).flatMap((f) => tx.values('endpoints', f, onNet)),
        ...mine.flatMap(addrs),
      ]
        .map(bareIP)
        .filter(Boolean)
        .concat(Object.keys(nw.ipam.reserved ?? {})),
    get: (ip: string) => {
      const field = ip.includes(':') ? 'ipv6' : 'ipv4';
      const held = nw.ipam.config
        .flatMap((p) => tx.find('endpoints', field, `${ip}/${p.Subnet.split('/')[1] ?? ''}`))
        .find((e) => e.networkId === nw.id);
      const e = held ?? mine.find((p) => addrs(p).includes(ip));
      if (e) return `container ${e.sandboxId === sb.id ? sb.name : sandboxName(tx, e.sandboxId)}`;
      const r = nw.ipam.reserved?.[ip];
      return r !== undefined && r !== sb.id ? `reserved by stopped container ${sandboxName(tx, r)}` : undefined;
    },
  };
  const next = marks.get(nw.id) ?? { ...nw.ipam.next };
  marks.set(nw.id, next);
  const actx = { network: nw.name, pools: nw.ipam.config, inUse, userSubnets: nw.userSubnets, next };
  // A restarting sandbox asks for the addresses it kept, on any network (not only user subnets).
  const want = (f: 4 | 6, asked: string | undefined) => {
    const kept = asked === undefined ? reservedFor(nw, sb.id, f) : undefined;
    return allocate({ ...actx, userSubnets: nw.userSubnets || kept !== undefined }, f, asked ?? kept) ?? '';
  };
  ep.ipv4 = want(4, settings.IPAMConfig?.IPv4Address);
  if (nw.enableIPv6) ep.ipv6 = want(6, settings.IPAMConfig?.IPv6Address);
  else if (settings.IPAMConfig?.IPv6Address)
    throw new InvalidArgumentError(`network ${nw.name} does not have IPv6 enabled`);
  for (const p of nw.ipam.config) {
    const sub = parseSubnet(p.Subnet);
    const a = parseIP(bareIP(sub.family === 4 ? ep.ipv4 : ep.ipv6));
    if (a && contains(sub, a)) ep[sub.family === 4 ? 'gateway4' : 'gateway6'] = p.Gateway;
  }
  const v4 = parseIP(bareIP(ep.ipv4));
  ep.mac = (settings.MacAddress ?? (v4 ? macFromIPv4(v4) : randomMac())).toLowerCase();
}

/** The driver's device steps, then the interface's configuration inside the sandbox (and the gateway endpoint's extra steps). */
export function joinSteps(
  driver: Driver,
  nw: NetworkRecord,
  ep: EndpointRecord,
  sb: SandboxRecord,
  gateway: boolean,
  converge = false,
): Step[] {
  const made = driver.join(nw, ep, sb);
  if (!driver.plumbs) return made;
  // A plugin's answer may still rename the interface or give its gateway and routes.
  const conf = made.some((s) => s.call)
    ? { ns: sb.netns, cmds: [], undo: [], later: () => configure(nw, ep, sb, gateway, converge).cmds }
    : configure(nw, ep, sb, gateway, converge);
  // Only an endpoint that ends up with a gateway carries the sandbox's way out (a plugin may give none).
  const program = (gateway ? (driver.gateway?.(nw, ep).program ?? []) : []).map((st) =>
    st.call ? { ...st, call: { ...st.call, when: () => Boolean(ep.gateway4 || ep.gateway6) } } : st,
  );
  return [...made, conf, ...program];
}

/**
 * Inside the sandbox, once the driver made `ep.ifName`: addresses, link up and, when it carries
 * it, the default route. With `converge` (restore) every command is idempotent. On an
 * IPv4-only network the interface gets no IPv6 link-local address (as Docker does): its DAD,
 * router and MLD solicitations are multicast a bridge floods to every port.
 */
export function configure(
  nw: NetworkRecord,
  ep: EndpointRecord,
  sb: SandboxRecord,
  gateway: boolean,
  converge = false,
): Step {
  const add = converge ? addrReplace : addrAdd;
  const cmds = nw.enableIPv6 ? [] : [noAddrGen(ep.ifName)];
  if (ep.ipv4) cmds.push(add(ep.ipv4, ep.ifName));
  if (ep.ipv6) cmds.push(add(ep.ipv6, ep.ifName, true));
  cmds.push(linkUp(ep.ifName));
  // The driver's on-link routes come before a default route that may need one of them.
  for (const r of ep.routes ?? []) cmds.push(routeReplace(r.dst, ep.ifName, r.via));
  if (gateway) cmds.push(...defaultRoutes(ep));
  return { ns: sb.netns, cmds, undo: [] };
}

/** The default routes through `ep` (IPv4 and IPv6, where it has a gateway). */
export function defaultRoutes(ep: EndpointRecord): string[][] {
  return [ep.gateway4, ep.gateway6].filter(Boolean).map((gw) => defaultRoute(gw, ep.ifName));
}

/** Kernel commands that remove an endpoint, plus the default-route move if it carried it. */
function planLeave(tx: ReadTxn, sb: SandboxRecord, ep: EndpointRecord): { cmds: KernelCmd[]; regateway: string[][] } {
  const nw = tx.get('networks', ep.networkId);
  // A network record gone from under its endpoint (a damaged store): remove its devices by name.
  const orphan = (): KernelCmd[] => [
    ...(ep.hostIf ? [{ args: linkDel(ep.hostIf) }] : []),
    ...(ep.ifName && sb.netns ? [{ ns: sb.netns, args: linkDel(ep.ifName) }] : []),
  ];
  const driver = nw && driverFor(nw.driver);
  // The address goes back to an IPAM plugin after the driver let go of the endpoint.
  const cmds =
    nw && driver ? [...driver.leave(nw, ep, sb), ...addressRelease(nw, ep), ...clusterRelease(nw, ep)] : orphan();
  const live = endpointsOf(tx, { sandbox: sb.id });
  let regateway: string[][] = [];
  if (electGateway(live, networkOf(tx)) === ep) {
    if (nw && driver?.gateway) cmds.unshift(...driver.gateway(nw, ep).revoke);
    const next = electGateway(
      live.filter((e) => e !== ep),
      networkOf(tx),
    );
    if (next) regateway = defaultRoutes(next);
  }
  return { cmds, regateway };
}

export async function disconnect(ctx: Ctx, netRef: string, ctrRef: string, force: boolean): Promise<void> {
  await update(ctx, async (tx) => {
    let nw: NetworkRecord;
    try {
      nw = await resolveNetwork(ctx, tx, netRef);
    } catch (e) {
      if (force && e instanceof NotFoundError) return;
      throw e;
    }
    const sb = findSandbox(tx, ctrRef);
    if (!sb) {
      if (force) return;
      throw new NotFoundError(`No such container: ${ctrRef}`);
    }
    const eps = endpointsOf(tx, { sandbox: sb.id, network: nw.id });
    if (!sb.networks[nw.id] && eps.length === 0) {
      if (force) return;
      throw new NotFoundError(`container ${sb.name} is not connected to network ${nw.name}`);
    }
    if (sharesNetns(sb.mode))
      throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
    touch(ctx, tx, sb);
    delete sb.networks[nw.id];
    tx.put('sandboxes', sb);
    if (unreserve(nw, sb.id, true)) tx.put('networks', nw);
    const { cmds, regateway } = dropEndpoints(tx, sb, eps);
    // The default-route move is part of the journaled teardown: a crash in between still ends with a route.
    const move = sb.state === 'running' ? regateway.map((args) => ({ ns: sb.netns, args })) : [];
    const errs = await teardown(
      ctx,
      tx,
      `disconnect ${sb.name} from ${nw.name}`,
      [...cmds, ...move],
      sb.ports.length > 0,
    );
    if (errs.length)
      throw new SystemError(`container ${sb.name} disconnected from ${nw.name} with errors: ${errs.join('; ')}`);
    await fixGwbridge(ctx, tx, sb);
  });
}

/** A global network's endpoint that lost its address to another host (see global.ts reclaimOrphans): it goes, recorded settings too. */
export async function dropOrphan(
  ctx: Ctx,
  tx: Txn,
  sb: SandboxRecord,
  nw: NetworkRecord,
  ep: EndpointRecord,
): Promise<void> {
  touch(ctx, tx, sb);
  delete sb.networks[nw.id];
  tx.put('sandboxes', sb);
  const { cmds, regateway } = dropEndpoints(tx, sb, [ep]);
  const move = regateway.map((args) => ({ ns: sb.netns, args }));
  const errs = await teardown(
    ctx,
    tx,
    `disconnect ${sb.name} from ${nw.name}`,
    [...cmds, ...move],
    sb.ports.length > 0,
  );
  for (const e of errs) ctx.warn(e);
  await fixGwbridge(ctx, tx, sb);
}

/** A global network's devices go from this host with its last endpoint here (Docker's overlay sandbox does too). */
function idleDevices(tx: Txn, nw: NetworkRecord): KernelCmd[] {
  if (!isGlobal(nw) || !nw.driverState['ready'] || endpointsOf(tx, { network: nw.id }).length) return [];
  nw.driverState['ready'] = false;
  delete nw.driverState['peers'];
  tx.put('networks', nw);
  return driverFor(nw.driver).deleteNetwork(nw);
}

/**
 * Deletes the endpoint records; returns their teardown and the default-route move it needs.
 * With `keep` (stop) their addresses stay reserved for the sandbox instead of being released.
 */
export function dropEndpoints(
  tx: Txn,
  sb: SandboxRecord,
  eps: EndpointRecord[],
  keep = false,
): { cmds: KernelCmd[]; regateway: string[][] } {
  const cmds: KernelCmd[] = [];
  let regateway: string[][] = [];
  for (const ep of eps) {
    const plan = planLeave(tx, sb, ep);
    cmds.push(...plan.cmds);
    regateway = plan.regateway;
    tx.delete('endpoints', ep.id);
    // Its addresses may be handed out again: IPAM's search must start at or below them.
    const nw = tx.get('networks', ep.networkId);
    if (!nw) continue;
    if (keep && !isGlobal(nw)) {
      // a global network's address goes back to the cluster: another host may take it
      reserve(nw, ep);
      tx.put('networks', nw);
      continue;
    }
    let lowered = false;
    for (const a of [ep.ipv4, ep.ipv6]) lowered = release(nw.ipam.next, nw.ipam.config, a) || lowered;
    if (lowered) tx.put('networks', nw);
  }
  for (const id of new Set(eps.map((e) => e.networkId))) {
    const nw = tx.get('networks', id);
    if (nw) cmds.push(...idleDevices(tx, nw));
  }
  return { cmds, regateway };
}

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
