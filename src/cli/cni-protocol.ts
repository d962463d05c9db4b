// The CNI protocol (spec 1.1, docs/reference.md §12) as pure functions: the environment, the configuration
// on stdin, version negotiation, CNI_ARGS, the ADD result and the error object. No I/O, so
// every rule is unit-tested; cli/cni.ts wires them to the controller.
import { ConflictError, InvalidArgumentError, NetctlError, NotFoundError, UsageError } from '../lib/errors.js';
import { parseIP } from '../lib/ip.js';
import { LockTimeoutError } from '../store/lock.js';
import { checkIfName, checkName, printable } from '../lib/validate.js';
import type { EndpointSettings } from '../model/records.js';

/** 0.4.0 for older runtimes (podman 4.3's CNI backend writes it); STATUS and GC are 1.1.0's. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'];
const LATEST = '1.1.0';

/** The spec's well-known codes, and netctl's own from 100 up. */
export const CODE = {
  incompatible: 1,
  env: 4,
  io: 5,
  decode: 6,
  config: 7,
  tryAgain: 11,
  unavailable: 50,
  conflict: 100,
  notFound: 101,
  system: 102,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export function parseCommand(env: Record<string, string | undefined>): CniCommand {
  const c = env['CNI_COMMAND'];
  if (!c) throw new CniError(CODE.env, 'CNI_COMMAND is not set');
  if (!(COMMANDS as readonly string[]).includes(c))
    throw new CniError(
      CODE.env,
      `CNI_COMMAND: unknown command "${printable(c)}" (ADD, DEL, CHECK, STATUS, GC or VERSION)`,
    );
  return c as CniCommand;
}

export interface CniEnv {
  containerId: string;
  ifName: string;
  /** CNI_NETNS; optional for DEL. */
  netns?: string;
  /** CNI_ARGS as key/value pairs. */
  args: Record<string, string>;
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The attachment parameters of ADD, DEL and CHECK (code 4 names the variable at fault). */
export function parseEnv(cmd: 'ADD' | 'DEL' | 'CHECK', env: Record<string, string | undefined>): CniEnv {
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new CniError(CODE.env, `${k} is not set (needed by ${cmd})`);
    return v;
  };
  const containerId = need('CNI_CONTAINERID');
  if (!ID_RE.test(containerId) || containerId.length > 256) {
    throw new CniError(
      CODE.env,
      `CNI_CONTAINERID: invalid container id "${printable(containerId.slice(0, 80))}": [a-zA-Z0-9][a-zA-Z0-9_.-]*, ` +
        `at most 256 characters`,
    );
  }
  const ifName = need('CNI_IFNAME');
  try {
    checkIfName(ifName);
  } catch (e) {
    throw new CniError(CODE.env, `CNI_IFNAME: ${(e as Error).message}`);
  }
  const netns = cmd === 'DEL' ? env['CNI_NETNS'] || undefined : need('CNI_NETNS');
  if (netns !== undefined && (!netns.startsWith('/') || /[\s\u0000-\u001f]/.test(netns))) {
    throw new CniError(CODE.env, `CNI_NETNS: invalid path "${printable(netns)}": an absolute path without spaces`);
  }
  return { containerId, ifName, ...(netns !== undefined ? { netns } : {}), args: parseArgs(env['CNI_ARGS'] ?? '') };
}

/** "K=V;K2=V2" (keys alphanumeric or _); empty items are tolerated as runtimes write them. */
export function parseArgs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of s.split(';')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const k = item.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z0-9_]+$/.test(k))
      throw new CniError(CODE.env, `CNI_ARGS: invalid item "${printable(item)}": expected KEY=VALUE`);
    out[k] = item.slice(eq + 1);
  }
  return out;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The configuration on stdin as an object (code 6 when it is not JSON, 7 when not an object). */
export function decode(text: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(CODE.decode, `cannot decode the network configuration on stdin: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw new CniError(CODE.config, 'the network configuration on stdin must be a JSON object');
  return v;
}

const semver = (v: string): number[] | null => (/^\d+\.\d+\.\d+$/.test(v) ? v.split('.').map(Number) : null);
export const versionAtLeast = (v: string, min: string): boolean => {
  const a = semver(v) ?? [0, 0, 0];
  const b = semver(min) ?? [0, 0, 0];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
};

/** The highest version both the configuration (cniVersion and cniVersions) and netctl support. */
export function negotiate(conf: Json): string {
  const offered = [conf['cniVersion'], ...(Array.isArray(conf['cniVersions']) ? conf['cniVersions'] : [])].filter(
    (v): v is string => typeof v === 'string',
  );
  const common = offered.filter((v) => SUPPORTED_VERSIONS.includes(v)).sort((a, b) => (versionAtLeast(a, b) ? -1 : 1));
  if (!common[0]) {
    throw new CniError(
      CODE.incompatible,
      `incompatible CNI version: the configuration offers ${offered.map(printable).join(', ') || 'none'}`,
      `netctl supports ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  return common[0];
}

/** The VERSION answer: the input's cniVersion echoed (the latest when there is none). */
export function versionResult(text: string): Json {
  let asked: unknown;
  try {
    asked = (JSON.parse(text) as Json)['cniVersion'];
  } catch {
    /* VERSION may come with no configuration */
  }
  return { cniVersion: typeof asked === 'string' && asked ? asked : LATEST, supportedVersions: SUPPORTED_VERSIONS };
}

export interface CniConfig {
  /** The netctl network (`network`, else the configuration's `name`). */
  network: string;
  root: string;
  dns?: Json;
  prevResult?: Json;
  runtimeConfig: Json;
  raw: Json;
}

/** The plugin's own keys, checked (code 7 names the key). */
export function parseConfig(conf: Json): CniConfig {
  const bad = (msg: string) => new CniError(CODE.config, msg);
  const network = conf['network'] ?? conf['name'];
  if (typeof network !== 'string')
    throw bad('the configuration needs "network" (the netctl network) or "name" as a string');
  try {
    checkName('network', network);
  } catch (e) {
    throw bad(`network: ${(e as Error).message}`);
  }
  const root = conf['root'] ?? '/var/lib/netctl';
  if (typeof root !== 'string' || !root.startsWith('/') || /[\u0000-\u001f]/.test(root))
    throw bad('root: an absolute path');
  for (const k of ['dns', 'prevResult', 'runtimeConfig'] as const) {
    if (conf[k] !== undefined && !isObj(conf[k])) throw bad(`${k}: must be an object`);
  }
  const out: CniConfig = { network, root, runtimeConfig: (conf['runtimeConfig'] as Json | undefined) ?? {}, raw: conf };
  if (conf['dns'] !== undefined) out.dns = conf['dns'] as Json;
  if (conf['prevResult'] !== undefined) out.prevResult = conf['prevResult'] as Json;
  return out;
}

/** CNI_ARGS IP= (one IPv4 and/or one IPv6, comma-separated) and MAC=, else runtimeConfig's `ips`/`mac`. */
export function endpointSettings(args: Record<string, string>, runtimeConfig: Json): EndpointSettings {
  const s: EndpointSettings = {};
  const rcIps = Array.isArray(runtimeConfig['ips'])
    ? runtimeConfig['ips'].filter((x): x is string => typeof x === 'string')
    : [];
  const ips = args['IP'] !== undefined ? args['IP'].split(',') : rcIps;
  for (const raw of ips) {
    const ip = raw.trim().split('/')[0] ?? '';
    const a = parseIP(ip);
    if (!a) throw new CniError(CODE.config, `IP: invalid address "${printable(raw)}"`);
    const key = a.family === 4 ? 'IPv4Address' : 'IPv6Address';
    if (s.IPAMConfig?.[key]) throw new CniError(CODE.config, `IP: more than one IPv${a.family} address`);
    s.IPAMConfig = { ...s.IPAMConfig, [key]: ip };
  }
  const mac = args['MAC'] ?? (typeof runtimeConfig['mac'] === 'string' ? runtimeConfig['mac'] : undefined);
  if (mac !== undefined) s.MacAddress = mac;
  return s;
}

/** The addresses prevResult lists for the interface `ifName` (what CHECK expects there). */
export function expectedAddresses(prev: Json | undefined, ifName: string): string[] {
  if (!prev) return [];
  const ifs = Array.isArray(prev['interfaces']) ? prev['interfaces'] : [];
  const idx = ifs.findIndex(
    (i) => isObj(i) && i['name'] === ifName && typeof i['sandbox'] === 'string' && i['sandbox'] !== '',
  );
  const ips = Array.isArray(prev['ips']) ? prev['ips'] : [];
  return ips
    .filter((ip): ip is Json => isObj(ip) && ip['interface'] === idx && typeof ip['address'] === 'string')
    .map((ip) => String(ip['address']));
}

/** What ADD made, as the result needs it. */
export interface Attached {
  ifName: string;
  hostIf: string;
  mac: string;
  mtu?: number;
  ipv4: string;
  ipv6: string;
  gateway4: string;
  gateway6: string;
  /** The endpoint carries the default route(s). */
  gateway: boolean;
  /** netctl's resolver for the network ([]: none): the result's dns.nameservers. */
  resolver?: string[];
}

/**
 * The ADD result: the host-side interface (when there is one) and the container's, its
 * addresses, the default routes it carries, the configuration's dns with netctl's resolver as
 * its nameservers when the network has one. A prevResult (netctl
 * chained after another plugin) is kept and extended.
 */
export function addResult(
  version: string,
  at: Attached,
  netnsPath: string,
  conf: Pick<CniConfig, 'dns' | 'prevResult'>,
): Json {
  const prev = conf.prevResult ?? {};
  const list = (k: string): unknown[] => (Array.isArray(prev[k]) ? (prev[k] as unknown[]) : []);
  const interfaces: unknown[] = [...list('interfaces')];
  if (at.hostIf) interfaces.push({ name: at.hostIf, ...(at.mtu ? { mtu: at.mtu } : {}) });
  const index = interfaces.length;
  interfaces.push({ name: at.ifName, mac: at.mac, ...(at.mtu ? { mtu: at.mtu } : {}), sandbox: netnsPath });
  const ips = [...list('ips')];
  const routes = [...list('routes')];
  for (const [address, gw, dst] of [
    [at.ipv4, at.gateway4, '0.0.0.0/0'],
    [at.ipv6, at.gateway6, '::/0'],
  ]) {
    if (!address) continue;
    // Before 1.0.0 every address names its family.
    const family = versionAtLeast(version, '1.0.0') ? {} : { version: address.includes(':') ? '6' : '4' };
    ips.push({ ...family, address, ...(gw ? { gateway: gw } : {}), interface: index });
    if (gw && at.gateway) routes.push({ dst, gw });
  }
  const given = conf.dns ?? (isObj(prev['dns']) ? prev['dns'] : {});
  // The resolver knows the network's names and forwards the rest (docs/reference.md §14).
  const dns = at.resolver?.length && isObj(given) ? { ...given, nameservers: at.resolver } : given;
  return { cniVersion: version, interfaces, ips, routes, dns };
}

/** Any error as the spec's error object: netctl's classes mapped to codes, one-line messages. */
export function errorResult(version: string, e: unknown, cmd?: CniCommand): Json {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, '; ');
  let code: number;
  let details: string | undefined;
  if (e instanceof CniError) {
    code = e.code;
    details = e.details;
  } else {
    if (e instanceof NetctlError) details = e.hint;
    code =
      e instanceof InvalidArgumentError || e instanceof UsageError
        ? CODE.config
        : e instanceof ConflictError
          ? CODE.conflict
          : e instanceof NotFoundError
            ? CODE.notFound
            : e instanceof LockTimeoutError
              ? CODE.tryAgain
              : CODE.system; // the kernel, a helper, privileges, or a bug
    // STATUS: whatever keeps the network from taking one more ADD means "not available".
    if (cmd === 'STATUS') code = CODE.unavailable;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { cniVersion: version, code, msg: oneLine(msg), ...(details ? { details: oneLine(details) } : {}) };
}
