// Pure converters from parsed flags to the controller's typed requests (tested as tables).
import { egressOf } from './policy-options.js';
import type { EndpointSettings, PortMapping } from '../model/records.js';
import type { NetworkCreate, SandboxCreate } from '../model/requests.js';
import { UsageError } from '../lib/errors.js';
import { parseKeyValues, printable } from '../lib/validate.js';

export interface CreateFlags {
  driver?: string;
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  auxAddress?: string[];
  ipv6?: boolean;
  enableIpv6?: boolean;
  internal?: boolean;
  attachable?: boolean;
  opt?: string[];
  label?: string[];
  ipamDriver?: string;
  ipamOpt?: string[];
}

export function toNetworkCreate(name: string, f: CreateFlags): NetworkCreate {
  return {
    name,
    driver: f.driver ?? 'bridge',
    subnets: f.subnet ?? [],
    gateways: f.gateway ?? [],
    ipRanges: f.ipRange ?? [],
    auxAddresses: parseKeyValues(f.auxAddress ?? [], 'aux-address'),
    enableIPv6: (f.ipv6 ?? false) || (f.enableIpv6 ?? false),
    internal: f.internal ?? false,
    attachable: f.attachable ?? false,
    options: parseKeyValues(f.opt ?? [], 'option'),
    labels: parseKeyValues(f.label ?? [], 'label', true),
    ipamDriver: f.ipamDriver ?? 'default',
    ipamOptions: parseKeyValues(f.ipamOpt ?? [], 'ipam-opt'),
  };
}

export interface EndpointFlags {
  ip?: string;
  ip6?: string;
  alias?: string[];
  macAddress?: string;
  linkLocalIp?: string[];
  driverOpt?: string[];
  gwPriority?: string;
}

/** Flags become Docker's EndpointSettings; absent flags leave fields out (as Docker's JSON omits them). */
export function toEndpointSettings(f: EndpointFlags): EndpointSettings {
  const s: EndpointSettings = {};
  if (f.ip !== undefined || f.ip6 !== undefined || f.linkLocalIp?.length) {
    s.IPAMConfig = {};
    if (f.ip !== undefined) s.IPAMConfig.IPv4Address = f.ip;
    if (f.ip6 !== undefined) s.IPAMConfig.IPv6Address = f.ip6;
    if (f.linkLocalIp?.length) s.IPAMConfig.LinkLocalIPs = f.linkLocalIp;
  }
  if (f.alias?.length) s.Aliases = f.alias;
  if (f.macAddress !== undefined) s.MacAddress = f.macAddress;
  if (f.driverOpt?.length) s.DriverOpts = parseKeyValues(f.driverOpt, 'driver-opt');
  if (f.gwPriority !== undefined) {
    if (!/^-?\d+$/.test(f.gwPriority))
      throw new UsageError(`invalid argument "${printable(f.gwPriority)}" for "--gw-priority" flag: not an integer`);
    // Past 2^53 a JS number is no longer the integer given (Go's int would hold it, or refuse).
    if (!Number.isSafeInteger(Number(f.gwPriority)))
      throw new UsageError(`invalid argument "${f.gwPriority}" for "--gw-priority" flag: value out of range`);
    s.GwPriority = Number(f.gwPriority);
  }
  return s;
}

export interface SandboxFlags extends EndpointFlags {
  net?: string;
  hostname?: string;
  publish?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  egressDefault?: string;
  egressAllow?: string[];
  egressDeny?: string[];
}

/** --add-host name:IP (the IP may be IPv6, so split at the first colon). */
export function parseAddHost(spec: string): { name: string; ip: string } {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1)
    throw new UsageError(`invalid argument "${printable(spec)}" for "--add-host" flag: expected name:IP`);
  return { name: spec.slice(0, i), ip: spec.slice(i + 1).replace(/^\[|\]$/g, '') };
}

/**
 * Docker's -p: [hostIP:]hostPort[-end]:containerPort[-end][/tcp|udp|sctp], hostIP an IPv4
 * address or an IPv6 one in brackets. Equal ranges map port by port; a host range with one
 * container port takes the first free host port of the range.
 */
/** [hostIP:]hostPort[-end]:containerPort[-end][/proto]; a host IPv6 address in brackets. */
const PUBLISH = new RegExp(
  [
    String.raw`^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):)?`,
    String.raw`(\d{1,5})(?:-(\d{1,5}))?:(\d{1,5})(?:-(\d{1,5}))?`,
    String.raw`(?:\/(tcp|udp|sctp))?$`,
  ].join(''),
);

export function parsePublish(spec: string): PortMapping[] {
  const m = PUBLISH.exec(spec);
  if (!m)
    throw new UsageError(
      `invalid published port "${spec}": expected [hostIP:]hostPort[-end]:containerPort[-end][/tcp|udp|sctp]`,
    );
  const hostIP = (m[1] ?? '').replace(/^\[|\]$/g, '');
  const proto = (m[6] ?? 'tcp') as PortMapping['proto'];
  const [h0, h1, c0, c1] = [m[2], m[3] ?? m[2], m[4], m[5] ?? m[4]].map(Number) as [number, number, number, number];
  for (const [a, b] of [
    [h0, h1],
    [c0, c1],
  ] as const) {
    if (b < a) throw new UsageError(`invalid published port "${spec}": the range ${a}-${b} ends before it starts`);
  }
  if (m[5] === undefined) {
    return [{ hostIP, hostPort: h0, ...(h1 > h0 ? { hostPortEnd: h1 } : {}), containerPort: c0, proto }];
  }
  if (h1 - h0 !== c1 - c0) {
    throw new UsageError(
      `invalid published port "${spec}": host ports ${h0}-${h1} and container ports ${c0}-${c1} differ in length`,
    );
  }
  return Array.from({ length: c1 - c0 + 1 }, (_, i) => ({ hostIP, hostPort: h0 + i, containerPort: c0 + i, proto }));
}

export function toSandboxCreate(name: string, f: SandboxFlags): SandboxCreate {
  const req: SandboxCreate = {
    name,
    net: f.net ?? 'bridge',
    settings: toEndpointSettings(f),
    ports: (f.publish ?? []).flatMap(parsePublish),
  };
  if (f.hostname !== undefined) req.hostname = f.hostname;
  if (f.dns?.length || f.dnsSearch?.length || f.dnsOption?.length) {
    req.dns = { servers: f.dns ?? [], search: f.dnsSearch ?? [], options: f.dnsOption ?? [] };
  }
  if (f.addHost?.length) req.extraHosts = f.addHost.map(parseAddHost);
  const egress = egressOf(f);
  if (egress) req.egress = egress;
  return req;
}
