// The declarative topology file of `netctl export` / `netctl apply -f` (docs/reference.md §13): networks,
// sandboxes, their endpoints with settings, and published ports, written with the CLI's own
// spellings (`-p` strings, `--add-host` strings) so a file reads like the commands it stands
// for. Export reads the records; parse checks the shape and turns it into the core's requests.
import type { DesiredSandbox, Topology } from '../core/apply.js';
import {
  sharedNetnsOf,
  type EndpointSettings,
  type NetworkRecord,
  type PortMapping,
  type SandboxRecord,
} from '../model/records.js';
import type { NetworkCreate } from '../model/requests.js';
import type { ReadTxn } from '../store/store.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { parseAddHost, parsePublish, toEndpointSettings } from './options.js';
import { toPolicyChange } from './policy-options.js';

export interface EndpointSpec {
  network: string;
  ip?: string;
  ip6?: string;
  linkLocalIPs?: string[];
  aliases?: string[];
  mac?: string;
  driverOpts?: Record<string, string>;
  gwPriority?: number;
}

export interface TopologyFile {
  version: 1;
  networks: Array<{
    name: string;
    driver: string;
    subnets?: Array<{ subnet: string; gateway?: string; ipRange?: string; auxAddresses?: Record<string, string> }>;
    ipv6?: boolean;
    internal?: boolean;
    attachable?: boolean;
    options?: Record<string, string>;
    labels?: Record<string, string>;
  }>;
  sandboxes: Array<{
    name: string;
    state?: 'running' | 'stopped';
    /** `container:NAME`: shares that sandbox's netns (then no networks of its own). */
    net?: string;
    hostname?: string;
    networks?: EndpointSpec[];
    ports?: string[];
    dns?: { servers?: string[]; search?: string[]; options?: string[] };
    extraHosts?: string[];
    egress?: { default: 'allow' | 'deny'; allow?: string[]; deny?: string[] };
  }>;
}

const portText = (p: PortMapping) => {
  const host = p.hostIP ? `${p.hostIP.includes(':') ? `[${p.hostIP}]` : p.hostIP}:` : '';
  return `${host}${p.hostPort}:${p.containerPort}/${p.proto}`;
};

function endpointSpec(network: string, s: EndpointSettings): EndpointSpec {
  const e: EndpointSpec = { network };
  if (s.IPAMConfig?.IPv4Address) e.ip = s.IPAMConfig.IPv4Address;
  if (s.IPAMConfig?.IPv6Address) e.ip6 = s.IPAMConfig.IPv6Address;
  if (s.IPAMConfig?.LinkLocalIPs?.length) e.linkLocalIPs = s.IPAMConfig.LinkLocalIPs;
  if (s.Aliases?.length) e.aliases = s.Aliases;
  if (s.MacAddress) e.mac = s.MacAddress;
  if (s.DriverOpts && Object.keys(s.DriverOpts).length) e.driverOpts = s.DriverOpts;
  if (s.GwPriority) e.gwPriority = s.GwPriority;
  return e;
}

/** Endpoint settings as `connect` flags make them (absent fields left out). */
/** A file is untyped: every field must be what the flag it stands for would give, or a clear error. */
function checkEndpointSpec(e: EndpointSpec): void {
  const bad = (field: string, want: string) =>
    new InvalidArgumentError(`endpoint on ${String(e.network)}: ${field} must be ${want}`);
  for (const f of ['ip', 'ip6', 'mac'] as const)
    if (e[f] !== undefined && typeof e[f] !== 'string') throw bad(f, 'a string');
  for (const f of ['aliases', 'linkLocalIPs'] as const) {
    const v: unknown = e[f];
    if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string')))
      throw bad(f, 'a list of strings');
  }
  const opts: unknown = e.driverOpts;
  if (
    opts !== undefined &&
    !(
      opts &&
      typeof opts === 'object' &&
      !Array.isArray(opts) &&
      Object.values(opts).every((x) => typeof x === 'string')
    )
  ) {
    throw bad('driverOpts', 'a map of strings');
  }
  if (e.gwPriority !== undefined && !Number.isSafeInteger(e.gwPriority)) throw bad('gwPriority', 'an integer');
}

/** The file's endpoint in the words of `connect`'s flags, converted as they are. */
export function endpointSettings(e: EndpointSpec): EndpointSettings {
  checkEndpointSpec(e);
  return toEndpointSettings({
    ...(e.ip !== undefined ? { ip: e.ip } : {}),
    ...(e.ip6 !== undefined ? { ip6: e.ip6 } : {}),
    ...(e.aliases ? { alias: e.aliases } : {}),
    ...(e.mac !== undefined ? { macAddress: e.mac } : {}),
    ...(e.linkLocalIPs ? { linkLocalIp: e.linkLocalIPs } : {}),
    ...(e.driverOpts ? { driverOpt: Object.entries(e.driverOpts).map(([k, v]) => `${k}=${v}`) } : {}),
    // 0 is the default, left out as an absent flag is.
    ...(e.gwPriority ? { gwPriority: String(e.gwPriority) } : {}),
  });
}

function networkSpec(n: NetworkRecord): TopologyFile['networks'][number] {
  const out: TopologyFile['networks'][number] = { name: n.name, driver: n.driver };
  // Subnets a default pool gave are left to the pool again: the file stays portable.
  if (n.userSubnets) {
    out.subnets = n.ipam.config.map((p) => ({
      subnet: p.Subnet,
      gateway: p.Gateway,
      ...(p.IPRange ? { ipRange: p.IPRange } : {}),
      ...(p.AuxiliaryAddresses && Object.keys(p.AuxiliaryAddresses).length
        ? { auxAddresses: p.AuxiliaryAddresses }
        : {}),
    }));
  }
  if (n.enableIPv6) out.ipv6 = true;
  if (n.internal) out.internal = true;
  if (n.attachable) out.attachable = true;
  if (Object.keys(n.options).length) out.options = { ...n.options };
  if (Object.keys(n.labels).length) out.labels = { ...n.labels };
  return out;
}

/** Another runtime's namespaces (attach, adoption) are not netctl's to declare. */
export const declarable = (sb: SandboxRecord): boolean => sb.mode !== 'adopted';

/**
 * The host's topology as a file. `own` names the local networks netctl makes and joins of its
 * own accord (the overlay module's gwbridge): nothing to declare.
 */
export function exportTopology(tx: ReadTxn, own: (nw: NetworkRecord) => boolean = () => false): TopologyFile {
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const nets = tx
    .list('networks')
    .filter((n) => !n.predefined && !own(n))
    .sort(byName);
  const sbs = tx.list('sandboxes').filter(declarable).sort(byName);
  return {
    version: 1,
    networks: nets.map(networkSpec),
    sandboxes: sbs.map((sb) => {
      const shared = sharedNetnsOf(sb.mode);
      const out: TopologyFile['sandboxes'][number] = { name: sb.name };
      if (sb.state === 'stopped') out.state = 'stopped';
      if (shared !== undefined) out.net = `container:${tx.get('sandboxes', shared)?.name ?? shared}`;
      if (sb.hostname !== sb.name) out.hostname = sb.hostname;
      const eps = Object.entries(sb.networks)
        .filter(([id]) => {
          const nw = tx.get('networks', id);
          return !nw || !own(nw);
        })
        .map(([id, r]) => endpointSpec(tx.get('networks', id)?.name ?? r.name, r.settings));
      if (eps.length) out.networks = eps;
      if (sb.ports.length) out.ports = sb.ports.map(portText);
      if (sb.dns) out.dns = sb.dns;
      if (sb.extraHosts?.length) out.extraHosts = sb.extraHosts.map((h) => `${h.name}:${h.ip}`);
      if (sb.policy) {
        const of = (v: string) => sb.policy?.rules.filter((r) => r.verdict === v).map((r) => r.dest) ?? [];
        out.egress = { default: sb.policy.default };
        if (of('allow').length) out.egress.allow = of('allow');
        if (of('deny').length) out.egress.deny = of('deny');
      }
      return out;
    }),
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function strMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new InvalidArgumentError(`${what}: expected a map of strings`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]));
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError(`${what}: expected a list`);
  return v;
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`${what}: needs a name`);
  return v;
}

const strs = (v: unknown, what: string): string[] => list(v, what).map((x) => String(x));

/** Checks the file's shape (every bad entry named) and returns what the core applies. */
export function parseTopology(doc: unknown, file: string): Topology {
  if (!isObj(doc)) throw new InvalidArgumentError(`${file}: expected a map with networks and sandboxes`);
  if (doc['version'] !== undefined && doc['version'] !== 1)
    throw new InvalidArgumentError(
      `${file}: unsupported version ${String(doc['version'])} (this netctl reads version 1)`,
    );
  for (const k of Object.keys(doc))
    if (!['version', 'networks', 'sandboxes'].includes(k)) throw new InvalidArgumentError(`${file}: unknown key ${k}`);
  const networks: NetworkCreate[] = list(doc['networks'], `${file}: networks`).map((n, i) => {
    if (!isObj(n)) throw new InvalidArgumentError(`${file}: networks[${i}] is not a map`);
    const nm = name(n['name'], `${file}: networks[${i}]`);
    const subnets = list(n['subnets'], `network ${nm}: subnets`).map((s) => (isObj(s) ? s : { subnet: s }));
    const aux: Record<string, string> = {};
    for (const s of subnets) Object.assign(aux, strMap(s['auxAddresses'], `network ${nm}: auxAddresses`));
    return {
      name: nm,
      driver: typeof n['driver'] === 'string' ? n['driver'] : 'bridge',
      subnets: subnets.map((s) => String(s['subnet'])),
      gateways: subnets.flatMap((s) => (s['gateway'] ? [String(s['gateway'])] : [])),
      ipRanges: subnets.flatMap((s) => (s['ipRange'] ? [String(s['ipRange'])] : [])),
      auxAddresses: aux,
      enableIPv6: n['ipv6'] === true,
      internal: n['internal'] === true,
      attachable: n['attachable'] === true,
      options: strMap(n['options'], `network ${nm}: options`),
      labels: strMap(n['labels'], `network ${nm}: labels`),
      ipamDriver: 'default',
      ipamOptions: {},
    };
  });
  const sandboxes: DesiredSandbox[] = list(doc['sandboxes'], `${file}: sandboxes`).map((s, i) => {
    if (!isObj(s)) throw new InvalidArgumentError(`${file}: sandboxes[${i}] is not a map`);
    const nm = name(s['name'], `${file}: sandboxes[${i}]`);
    const state = s['state'] ?? 'running';
    if (state !== 'running' && state !== 'stopped')
      throw new InvalidArgumentError(`sandbox ${nm}: state is running or stopped, not ${String(state)}`);
    const eps = list(s['networks'], `sandbox ${nm}: networks`).map((e) => {
      const spec = (isObj(e) ? e : { network: e }) as unknown as EndpointSpec;
      return { network: name(spec.network, `sandbox ${nm}: an endpoint`), settings: endpointSettings(spec) };
    });
    const net = s['net'] === undefined ? undefined : String(s['net']);
    if (net !== undefined && !net.startsWith('container:'))
      throw new InvalidArgumentError(
        `sandbox ${nm}: net is container:NAME (other modes are networks: host, none, bridge)`,
      );
    if (net !== undefined && eps.length)
      throw new InvalidArgumentError(`sandbox ${nm}: a container: sandbox has no networks of its own`);
    const dns = isObj(s['dns']) ? s['dns'] : undefined;
    const out: DesiredSandbox = {
      name: nm,
      state,
      networks: net === undefined && eps.length === 0 ? [{ network: 'bridge', settings: {} }] : eps,
      ports: strs(s['ports'], `sandbox ${nm}: ports`).flatMap(parsePublish),
    };
    if (net !== undefined) out.net = net;
    if (s['hostname'] !== undefined) out.hostname = String(s['hostname']);
    if (dns)
      out.dns = {
        servers: strs(dns['servers'], `sandbox ${nm}: dns`),
        search: strs(dns['search'], `sandbox ${nm}: dns`),
        options: strs(dns['options'], `sandbox ${nm}: dns`),
      };
    const hosts = strs(s['extraHosts'], `sandbox ${nm}: extraHosts`).map(parseAddHost);
    if (hosts.length) out.extraHosts = hosts;
    if (s['egress'] !== undefined) {
      const e = s['egress'];
      if (!isObj(e)) throw new InvalidArgumentError(`sandbox ${nm}: egress is a map (default, allow, deny)`);
      const flags = {
        allow: strs(e['allow'], `sandbox ${nm}: egress`),
        deny: strs(e['deny'], `sandbox ${nm}: egress`),
      };
      const change = toPolicyChange(
        'set',
        e['default'] === undefined ? flags : { ...flags, default: String(e['default']) },
      );
      if (change.op === 'set') out.egress = { ...change, op: 'set' };
    }
    return out;
  });
  return { networks, sandboxes };
}
