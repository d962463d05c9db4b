// Pure checks of user input that the controller runs before any change.
import { ConflictError, ForbiddenError, InvalidArgumentError } from '../lib/errors.js';
import { isHostNetns } from '../kernel/ops.js';
import { MAC_RE, parseIP, specialAddress } from '../lib/ip.js';
import { checkIfName, checkName, printable } from '../lib/validate.js';
import { allocate } from '../ipam/ipam.js';
import type { ReadTxn } from '../store/store.js';
import type { SandboxCreate } from '../model/requests.js';
import type { EndpointSettings, NetworkRecord, PortMapping } from '../model/records.js';

/**
 * Published ports must be valid and not already taken by a running sandbox (Docker's wording).
 * A host range (`hostPortEnd`) resolves to its first free port; the result holds only single ports.
 */
export function checkPorts(tx: ReadTxn, name: string, ports: PortMapping[], self?: string): PortMapping[] {
  const seen: PortMapping[] = [];
  const clash = (a: PortMapping, b: PortMapping) => !a.hostIP || !b.hostIP || a.hostIP === b.hostIP;
  // Host ports in use, by protocol and port, of the sandboxes that publish one of these: found
  // by a search of the store's text, so a create reads what it could clash with, not every
  // sandbox that publishes something.
  const asked = new Set<number>();
  for (const p of ports)
    for (let h = p.hostPort; h <= (p.hostPortEnd ?? p.hostPort) && asked.size <= 1024; h++) asked.add(h);
  const others =
    asked.size <= 1024 && [...asked].every(Number.isInteger)
      ? tx.matching('sandboxes', new RegExp(`"hostPort":(?:${[...asked].join('|')})[,}]`))
      : tx.find('sandboxes', 'ports', []);
  const taken = new Map<string, PortMapping[]>();
  const use = (p: PortMapping) => {
    const k = `${p.proto}/${p.hostPort}`;
    taken.set(k, [...(taken.get(k) ?? []), p]);
  };
  for (const o of others) if (o.id !== self && o.state === 'running') o.ports.forEach(use);
  const free = (p: PortMapping) => !(taken.get(`${p.proto}/${p.hostPort}`) ?? []).some((o) => clash(o, p));
  for (const p of ports) {
    if (p.hostIP && !parseIP(p.hostIP))
      throw new InvalidArgumentError(`invalid host IP ${p.hostIP} in published port of container ${name}`);
    if (!['tcp', 'udp', 'sctp'].includes(p.proto))
      throw new InvalidArgumentError(
        `invalid protocol ${p.proto} in published port of container ${name}: tcp, udp or sctp`,
      );
    for (const n of [p.hostPort, p.containerPort, p.hostPortEnd ?? p.hostPort]) {
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        throw new InvalidArgumentError(`invalid port ${n} for container ${name}: 1 to 65535`);
    }
    const host = p.hostIP.includes(':') ? `[${p.hostIP}]` : p.hostIP || '0.0.0.0';
    if (p.hostPortEnd !== undefined) {
      const { hostPortEnd, ...single } = p;
      let chosen: PortMapping | undefined;
      for (let h = p.hostPort; h <= hostPortEnd && !chosen; h++)
        if (free({ ...single, hostPort: h })) chosen = { ...single, hostPort: h };
      if (!chosen)
        throw new ConflictError(
          `Bind for ${host}:${p.hostPort}-${hostPortEnd} failed: every port of the range is already allocated`,
        );
      seen.push(chosen);
      use(chosen);
      continue;
    }
    if (!free(p)) throw new ConflictError(`Bind for ${host}:${p.hostPort} failed: port is already allocated`);
    seen.push(p);
    use(p);
  }
  return seen;
}

/** --ip / --ip6: well formed and outside the special-purpose blocks. */
function checkAddress(v: string | undefined, family: 4 | 6): void {
  if (v === undefined) return;
  const a = parseIP(v);
  if (a?.family !== family) throw new InvalidArgumentError(`invalid IPv${family} address: ${printable(v)}`);
  // 169.254/16 passes here: only a network created with link-local=true has such a subnet,
  // and an address outside the network's subnets is refused when it is allocated.
  const block = specialAddress(a, true);
  if (block)
    throw new InvalidArgumentError(`invalid IPv${family} address ${v}: it is in the special-purpose block ${block}`);
}

/** Docker 28's endpoint driver option naming the interface inside the container (CNI_IFNAME). */
export const IFNAME_OPT = 'com.docker.network.endpoint.ifname';

export function validateSettings(s: EndpointSettings): void {
  const ifName = s.DriverOpts?.[IFNAME_OPT];
  if (ifName !== undefined) checkIfName(ifName, IFNAME_OPT);
  checkAddress(s.IPAMConfig?.IPv4Address, 4);
  checkAddress(s.IPAMConfig?.IPv6Address, 6);
  for (const ll of s.IPAMConfig?.LinkLocalIPs ?? []) {
    if (!parseIP(ll)) throw new InvalidArgumentError(`invalid link-local IP address: ${printable(ll)}`);
  }
  if (s.MacAddress !== undefined && !MAC_RE.test(s.MacAddress))
    throw new InvalidArgumentError(`invalid MAC address: ${printable(s.MacAddress)}`);
  if (s.MacAddress !== undefined && (parseInt(s.MacAddress.slice(0, 2), 16) & 1) === 1) {
    throw new InvalidArgumentError(`invalid MAC address: ${s.MacAddress} is a multicast address`);
  }
  for (const a of s.Aliases ?? []) checkName('container', a);
}

const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Everything that lands in the hosts and resolv.conf files must be a plain token. */
export function validateNaming(req: SandboxCreate): void {
  if (req.hostname !== undefined && (req.hostname.length > 253 || !HOSTNAME_RE.test(req.hostname))) {
    throw new InvalidArgumentError(`invalid hostname "${req.hostname}" for container ${req.name}`);
  }
  for (const s of req.dns?.servers ?? [])
    if (!parseIP(s)) throw new InvalidArgumentError(`invalid --dns address: ${s}`);
  for (const d of req.dns?.search ?? [])
    if (d !== '.' && !HOSTNAME_RE.test(d)) throw new InvalidArgumentError(`invalid --dns-search domain: ${d}`);
  for (const o of req.dns?.options ?? [])
    if (!/^[a-zA-Z0-9_:.-]+$/.test(o)) throw new InvalidArgumentError(`invalid --dns-option: ${o}`);
  for (const h of req.extraHosts ?? []) {
    if (!HOSTNAME_RE.test(h.name)) throw new InvalidArgumentError(`invalid --add-host name: ${h.name}`);
    if (!parseIP(h.ip)) throw new InvalidArgumentError(`invalid --add-host address: ${h.ip}`);
  }
}

/** For a stopped sandbox: what can be checked without allocating. */
export function checkStaticAddress(nw: NetworkRecord, s: EndpointSettings): void {
  const ip4 = s.IPAMConfig?.IPv4Address;
  if (ip4 === undefined) return;
  allocate({ network: nw.name, pools: nw.ipam.config, inUse: new Map(), userSubnets: nw.userSubnets }, 4, ip4);
}

/** The host's own network namespace is never a sandbox: `ref` names what pointed at it. */
export function refuseHost(path: string, ref: string): void {
  if (isHostNetns(path)) throw new ForbiddenError(`${ref} is the host's own network namespace (use --net host)`);
}
