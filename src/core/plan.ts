// Planning of endpoints (libnetwork's CreateEndpoint + Join, Leave + Delete) for connect,
// disconnect, sandbox start/stop, restore and CNI: the address, the interface names, the
// driver's device steps, the interface's configuration in the sandbox and the default route.
// Nothing here runs a step; the records move only in the plans' commits.
import type { Driver } from '../drivers/driver.js';
import { driverFor } from '../drivers/index.js';
import { allocate, parseSubnet, release } from '../ipam/ipam.js';
import { addressRelease, addressStep } from '../ipam/remote.js';
import { addrAdd, addrReplace, defaultRoute, linkDel, linkUp, noAddrGen, routeReplace } from '../kernel/ops.js';
import { ConflictError, InvalidArgumentError } from '../lib/errors.js';
import { contains, macFromIPv4, parseIP } from '../lib/ip.js';
import { randomBytes } from '../lib/random.js';
import { electGateway } from '../model/gateway.js';
import {
  bareIP,
  type EndpointRecord,
  type EndpointSettings,
  type KernelCmd,
  type NetworkRecord,
  type SandboxRecord,
  type Step,
} from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import { IFNAME_OPT } from './checks.js';
import { resolverAddresses } from '../dns/view.js';
import { requireScope, type Ctx, type JoinPlan, type Marks } from './context.js';
import { endpointsOf, networkOf, sandboxName } from './lookup.js';
import { reservedFor, reserve, unreserve } from './reservations.js';

/**
 * An endpoint is about to join `nw`: a resolver that must serve it starts now, beside the
 * kernel work, not after it. Only for joins that will happen (not a CNI STATUS probe).
 */
export function startResolverFor(ctx: Ctx, nw: NetworkRecord): void {
  if (resolverAddresses(nw).length) ctx.resolver?.prestart();
}

/**
 * Plans one endpoint of a running sandbox: address, interface names, kernel steps. Only IPAM's
 * marks in `marks` move (several endpoints may join one network); `commit` records the
 * endpoint once the steps succeeded.
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
  // A network of another scope takes its addresses from that scope (src/core/context.ts Scope).
  let plumb: () => Step[] = () => [];
  const scopeStep =
    nw.scope !== 'local' ? requireScope(ctx).addressStep(nw, ep, sb, settings, () => plumb()) : undefined;
  if (remoteIpam) remoteAddresses(nw, ep, settings);
  else if (!scopeStep && driver.plumbs) assignAddresses(tx, sb, nw, ep, settings, pending, marks);
  if (driver.plumbs) {
    Object.assign(ep, driver.endpointNames(nw, sb.nextIf));
    const asked = settings.DriverOpts?.[IFNAME_OPT];
    if (asked) ep.ifName = asked; // the eth<N> index still advances: eth<N> is never reused
    const twin = live.find((e) => e.ifName === ep.ifName);
    if (twin)
      throw new ConflictError(
        `container ${sb.name} already has an interface ${ep.ifName} (on network ` +
          `${networkOf(tx, nw)(twin.networkId)?.name ?? twin.networkId})`,
      );
    // Devices made on first use (the predefined bridge, an overlay new to this host), once per batch.
    if (!nw.driverState['ready'] && !pending.some((p) => p.networkId === nw.id))
      steps.push(...driver.createNetwork(nw));
  }
  const gateway = electGateway([...live, ep], networkOf(tx, nw)) === ep;
  // Taking the default route over replaces the previous one: its undo puts that one back.
  const before = gateway ? electGateway(live, networkOf(tx)) : undefined;
  plumb = (): Step[] => {
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
  } else if (scopeStep) {
    steps.push(scopeStep);
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

/**
 * The driver's device steps, then the interface's configuration inside the sandbox (and the gateway endpoint's extra
 * steps).
 */
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
function planLeave(
  ctx: Ctx,
  tx: ReadTxn,
  sb: SandboxRecord,
  ep: EndpointRecord,
): { cmds: KernelCmd[]; regateway: string[][] } {
  const nw = tx.get('networks', ep.networkId);
  // A network record gone from under its endpoint (a damaged store): remove its devices by name.
  const orphan = (): KernelCmd[] => [
    ...(ep.hostIf ? [{ args: linkDel(ep.hostIf) }] : []),
    ...(ep.ifName && sb.netns ? [{ ns: sb.netns, args: linkDel(ep.ifName) }] : []),
  ];
  const driver = nw && driverFor(nw.driver);
  // The address goes back to an IPAM plugin after the driver let go of the endpoint.
  const cmds =
    nw && driver
      ? [
          ...driver.leave(nw, ep, sb),
          ...addressRelease(nw, ep),
          ...(nw.scope !== 'local' ? requireScope(ctx).releaseAddress(nw, ep) : []),
        ]
      : orphan();
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

/**
 * Deletes the endpoint records; returns their teardown and the default-route move it needs.
 * With `keep` (stop) their addresses stay reserved for the sandbox instead of being released.
 */
export function dropEndpoints(
  ctx: Ctx,
  tx: Txn,
  sb: SandboxRecord,
  eps: EndpointRecord[],
  keep = false,
): { cmds: KernelCmd[]; regateway: string[][] } {
  const cmds: KernelCmd[] = [];
  let regateway: string[][] = [];
  for (const ep of eps) {
    const plan = planLeave(ctx, tx, sb, ep);
    cmds.push(...plan.cmds);
    regateway = plan.regateway;
    tx.delete('endpoints', ep.id);
    // Its addresses may be handed out again: IPAM's search must start at or below them.
    const nw = tx.get('networks', ep.networkId);
    if (!nw) continue;
    if (nw.scope !== 'local') continue; // the scope took the address back (releaseAddress)
    if (keep) {
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
    if (nw && nw.scope !== 'local' && !endpointsOf(tx, { network: nw.id }).length)
      cmds.push(...requireScope(ctx).idle(tx, nw));
  }
  return { cmds, regateway };
}

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
