// The CNM records netctl keeps in its store, and the kernel-plan vocabulary every layer shares.
// This is the ground floor: it imports nothing, and store, kernel, IPAM, drivers, firewall and
// core all build on it. Field names follow Docker/pouch where users see them.

export interface IpamPool {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: string;
  created: string;
  scope: 'local' | 'global';
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  /**
   * `next`: per subnet, where the search for a free address starts (see ipam.ts);
   * `reserved`: addresses of stopped sandboxes, address -> sandbox id (see core/reservations.ts).
   */
  ipam: {
    driver: string;
    options: Record<string, string>;
    config: IpamPool[];
    next?: Record<string, string>;
    reserved?: Record<string, string>;
    /** An IPAM plugin's pool (RequestPool's PoolID) and whether netctl asked it for the gateway address. */
    remote?: { poolId: string; gatewayRequested: boolean };
  };
  /** True when the subnets came from the user, which is what permits `connect --ip`. */
  userSubnets: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  predefined: boolean;
  /** Driver-owned state, e.g. the bridge device and whether netctl created it. */
  driverState: Record<string, string | boolean | number>;
}

/** Docker's EndpointSettings as recorded per (sandbox, network): what the user asked for. */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] };
  Aliases?: string[];
  MacAddress?: string;
  DriverOpts?: Record<string, string>;
  GwPriority?: number;
}

export interface RecordedNetwork {
  /** The network's name when it was recorded, for messages once it is gone. */
  name: string;
  settings: EndpointSettings;
}

/** A new network record: a local bridge-like one with no pools, options or labels unless `over` says. */
export function networkRecord(
  base: { id: string; name: string; driver: string; created: string },
  over: Partial<NetworkRecord> = {},
): NetworkRecord {
  return {
    ...base,
    scope: 'local',
    enableIPv6: false,
    internal: false,
    attachable: false,
    ipam: { driver: 'default', options: {}, config: [] },
    userSubnets: false,
    options: {},
    labels: {},
    predefined: false,
    driverState: {},
    ...over,
  };
}

/**
 * A running sandbox record: `id`, `name` and `created` given, the rest by default as for a
 * namespace netctl adopts (named after the sandbox, not owned, no network yet) unless `over`
 * says otherwise.
 */
export function sandboxRecord(
  base: { id: string; name: string; created: string },
  over: Partial<SandboxRecord> = {},
): SandboxRecord {
  return {
    ...base,
    mode: 'adopted',
    state: 'running',
    netns: base.name,
    ownsNetns: false,
    nextIf: 0,
    networks: {},
    hostname: base.name,
    ports: [],
    ...over,
  };
}

/**
 * A live endpoint: one running sandbox's interface on one network (a veth pair, a macvlan child, or a plugin's device).
 */
export interface EndpointRecord {
  id: string;
  networkId: string;
  sandboxId: string;
  /** Interface inside the sandbox (eth<N>); empty for drivers without one (host, null). */
  ifName: string;
  /** Host side of the veth pair; empty when there is none. */
  hostIf: string;
  mac: string;
  ipv4: string; // CIDR, '' when none
  ipv6: string; // CIDR, '' when none
  gateway4: string;
  gateway6: string;
  /** Join order within the sandbox, for the gateway election. */
  seq: number;
  /** EndpointSettings.GwPriority at join time: the highest carries the default route. */
  gwPriority: number;
  /** Routes a driver asked for besides the default one (a remote driver's StaticRoutes); no `via` = on-link. */
  routes?: Array<{ dst: string; via?: string }>;
}

/**
 * How a sandbox came to be: `--net` bridge/none/host/NETWORK (`network`), adopted from another
 * runtime (`adopted`), or sharing another sandbox's netns (`container:<its id>`).
 */
export type SandboxMode = 'bridge' | 'none' | 'host' | 'network' | 'adopted' | `container:${string}`;

/** The sandbox whose netns `mode` shares, if it is `container:<id>`. */
export function sharedNetnsOf(mode: SandboxMode): string | undefined {
  return mode.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

/** Host mode and container:<id> have no netns of their own: nothing can be connected to them. */
export const sharesNetns = (mode: SandboxMode): boolean => mode === 'host' || sharedNetnsOf(mode) !== undefined;

export interface SandboxRecord {
  id: string;
  name: string;
  created: string;
  mode: SandboxMode;
  /** `exited`: a runtime container (§15) whose namespace went with it; its addresses stay reserved. */
  state: 'running' | 'stopped' | 'exited';
  /** Path of the netns ('' in host mode, where the host's is shared). */
  netns: string;
  /** netctl made the netns (and may delete it); false for an adopted one. */
  ownsNetns: boolean;
  /** `sandbox attach` made the /var/run/netns/<name> binding (removed on rm; the netns lives on). */
  ownsName?: boolean;
  /** The container of another runtime this sandbox is (docs/reference.md §15). */
  runtime?: RuntimeLink;
  /** CNI_CONTAINERID when a CNI runtime made this sandbox (`netctl cni` ADD); its name is derived from it. */
  cniContainerId?: string;
  /** Next N for eth<N>: never reused within a sandbox. */
  nextIf: number;
  /**
   * Recorded EndpointSettings by network id, in join order, kept across stop/start (pouch's NetworkSettings.Networks).
   */
  networks: Record<string, RecordedNetwork>;
  hostname: string;
  /** Published ports: DNAT to the sandbox's gateway endpoint while it runs. */
  ports: PortMapping[];
  /** --dns, --dns-search, --dns-option for its resolv.conf. */
  dns?: { servers: string[]; search: string[]; options: string[] };
  /** --add-host name:IP lines for its hosts file. */
  extraHosts?: Array<{ name: string; ip: string }>;
  /** Its egress policy (docs/reference.md §16), enforced while it runs. */
  policy?: EgressPolicy;
}

/** One `--allow`/`--deny` of a policy; `dest` in the canonical form of lib/dest.ts. */
export interface PolicyRule {
  verdict: 'allow' | 'deny';
  dest: string;
}

export interface EgressPolicy {
  default: 'allow' | 'deny';
  rules: PolicyRule[];
  /**
   * The packet mark the host's bridge table gives the sandbox's traffic so the inet table can
   * tell it apart (bridged packets show only the bridge there); unique among sandboxes with a policy.
   */
  mark: number;
}

/**
 * A sandbox that is another runtime's container: netctl names its namespace by a symlink under
 * NETNS_DIR (never a bind mount, which would keep it alive) and knows it by device and inode.
 */
export interface RuntimeLink {
  /** `docker:web`, `podman:…`, `ctr:NS/ID`, `pid:PID`, `netns:PATH`, as first given. */
  ref: string;
  kind: 'docker' | 'podman' | 'ctr' | 'pid' | 'netns';
  /** The runtime's container ID (ctr: NAMESPACE/ID); the PID or path for pid:/netns:. */
  id: string;
  /** `dev:ino` of the namespace it had when last seen running. */
  ns: string;
  /** Where the symlink points: /proc/PID/ns/net, or the netns file. */
  target: string;
  /** The container's resolv.conf as the runtime keeps it, pointed at the resolver unless `keep`. */
  resolvConf?: string;
  dnsConfig?: 'keep';
  /** Its nameserver lines before netctl changed them, put back when it leaves the last resolver network. */
  resolvSaved?: string[];
}

export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  hostIP: string; // '' = every address (or the network's host_binding_ipv4)
  hostPort: number;
  /**
   * `-p 8080-8083:80`: the host port is the first free one up to this (resolved, and dropped, when the sandbox is
   * created).
   */
  hostPortEnd?: number;
  containerPort: number;
}

export interface JournalEntry {
  id: string;
  pid: number;
  op: string;
  started: string;
  /** Kernel commands that bring the host back to the store's state if the op never finished. */
  cleanup: KernelCmd[];
  /** The firewall must be re-derived from the store afterwards. */
  firewall?: boolean;
  /** Sandboxes whose /etc/netns/<name> files go with them. */
  names?: string[];
  /** Only cluster store calls are left and the store was unreachable: not tried again before this time (ISO). */
  retryAt?: string;
}

/**
 * One request to a plugin (libnetwork's remote API): `plugin` is its name, `kind` what
 * Plugin.Activate must list, `method` the path without its slash. Plain data, so an undo call
 * is journaled like a kernel command and a later process can send it.
 */
export interface PluginCall {
  plugin: string;
  kind: CallKind;
  method: string;
  body: Record<string, unknown>;
}

/** Who a journaled call goes to: a driver or IPAM plugin, or the cluster store. */
export type CallKind = 'NetworkDriver' | 'IpamDriver' | 'ClusterStore';

/**
 * One `ip` invocation (argv after `ip`), optionally inside a named netns; or, with `call`, a plugin request (`args`
 * empty).
 */
export interface KernelCmd {
  ns?: string;
  args: string[];
  call?: PluginCall;
}

/** Commands applied in one `ip -batch` process, in `ns` (undefined: the host namespace). */
export interface Step {
  ns?: string;
  cmds: string[][];
  /** Idempotent commands that undo this step; run best-effort, "already gone" is success. */
  undo: KernelCmd[];
  /**
   * Instead of `cmds`, a plugin request. Its undo is journaled just before it is sent; `then`
   * turns the answer into the steps that follow it (a remote Join's interface to move) and may
   * add to `undo` what only the answer names (the address an IPAM plugin gave, to release).
   * `when`, asked when its turn comes: false skips the call (and its undo).
   */
  call?: PluginCall & { then?: (answer: Record<string, unknown>, undo: KernelCmd[]) => Step[]; when?: () => boolean };
  /** `cmds` known only when the step's turn comes (they depend on an earlier call's answer). */
  later?: () => string[][];
}

/** Docker 28's gateway_mode_ipv4/ipv6 values (what each means is the firewall's: firewall/firewall.ts). */
export type GatewayMode = 'nat' | 'nat-unprotected' | 'routed' | 'isolated';
export const GATEWAY_MODES: readonly GatewayMode[] = ['nat', 'nat-unprotected', 'routed', 'isolated'];

/** The address a pool's gateway carries: `10.1.0.1/24`. */
export const gatewayCidr = (p: IpamPool): string => `${p.Gateway}/${p.Subnet.split('/')[1] ?? ''}`;

/** An address without its prefix length: `10.1.0.5/24` -> `10.1.0.5`. */
export const bareIP = (cidr: string): string => cidr.split('/')[0] ?? '';

export interface State {
  version: number;
  /** The journal file generation this document has absorbed (see store/file.ts). */
  journalGen?: number;
  networks: Record<string, NetworkRecord>;
  endpoints: Record<string, EndpointRecord>;
  sandboxes: Record<string, SandboxRecord>;
  journal: JournalEntry[];
}

export const SCHEMA_VERSION = 2;
