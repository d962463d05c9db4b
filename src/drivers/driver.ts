// The Driver interface, shaped after libnetwork's driver API (CreateNetwork, DeleteNetwork,
// Join, Leave; CreateEndpoint/DeleteEndpoint are folded into join/leave because a netctl
// endpoint only exists while its sandbox runs), so a remote plugin can be mapped onto it.
//
// Drivers do no kernel writes: they return plans of `ip` commands with their undo, which the
// core applies, journals and rolls back, so every driver is testable without a kernel and crash
// cleanup is data, not code. They own everything that depends on what kind of network it is —
// option parsing, device names, plans, what doctor compares and restore repairs, and the
// network's part in the firewall — so the core never asks which driver it holds.
//
// What the core does for every driver: addresses (IPAM), the endpoint record, the interface's
// configuration inside the sandbox once the driver made it (addresses, link up, default
// route), the journal, the firewall sync and the name files.
import type { FwNetwork } from '../firewall/firewall.js';
import type { KernelView } from '../kernel/ip.js';
import type { EndpointRecord, KernelCmd, NetworkRecord, PluginCall, SandboxRecord, Step } from '../model/records.js';
import type { NetworkCreate } from '../model/requests.js';
import type { ReadTxn } from '../store/store.js';

/** What a driver may read while it checks: the store and (lazily) the kernel. */
export interface DriverReads {
  tx: ReadTxn;
  kernel: KernelView;
  /** Plugins, for a remote driver's create-time questions (GetCapabilities). */
  plugins?: { call(c: PluginCall): Promise<Record<string, unknown>> };
}

/** A comparison with the kernel: what doctor reports, and what restore runs (and says it did) to repair it. */
export interface Check {
  drift: string[];
  repair: Step[];
  /** What restore reports once `repair` ran (`bridge nc-… of network web`); [] to say nothing. */
  repaired: string[];
}

/** A network's part in the firewall: its rules, and the host address its published ports bind by default. */
export interface FirewallPart {
  network: Omit<FwNetwork, 'id12'>;
  /** '' = every address. */
  hostBinding: string;
}

/** A remote endpoint as this host's kernel needs it: its address, MAC, and its host's tunnel address. */
export interface PeerEntry {
  ip: string;
  mac: string;
  vtep: string;
}

/** Devices of this driver that no record accounts for (netctl made them; the store forgot). */
export interface Leftover {
  dev: string;
  /** As doctor words it: `bridge nc-… (no network has it)`. */
  what: string;
}

export interface Driver {
  readonly name: string;
  /** Endpoints get an interface and addresses in the sandbox (false: host, null). */
  readonly plumbs: boolean;
  /** Only the predefined network of this driver may exist (host, null). */
  readonly singleton?: boolean;
  /**
   * Networks of global scope (overlay): recorded in the cluster store, made on a host when its
   * first endpoint joins; endpoints carry no gateway (the sandbox goes out through the gwbridge).
   */
  readonly global?: boolean;

  /** Checks and normalises `-o` options of network `name`; throws InvalidArgumentError on a bad value. */
  parseOptions(opts: Record<string, string>, name: string): Record<string, string>;
  /** Driver state recorded on the network at create time (e.g. the bridge device name). */
  initState(nw: NetworkRecord): NetworkRecord['driverState'];
  /** Create-time checks against the store and the kernel, once the record is built. */
  checkCreate?(ctx: DriverReads, nw: NetworkRecord, req: NetworkCreate): Promise<void>;
  createNetwork(nw: NetworkRecord): Step[];
  deleteNetwork(nw: NetworkRecord): KernelCmd[];

  /** Refuses a sandbox this network cannot take (the host network, a second network for none). */
  checkJoin?(nw: NetworkRecord, sb: SandboxRecord): void;
  /** Device names of the endpoint with index n: inside the sandbox, and on the host ('' if none). */
  endpointNames(nw: NetworkRecord, n: number): { ifName: string; hostIf: string };
  /**
   * Makes the endpoint's device: `ep.ifName` exists in the sandbox afterwards, not yet configured.
   * Steps may be plugin calls whose answer sets `ep.ifName`, its gateways and `routes`; the core
   * then configures the interface only when that step's turn comes.
   */
  join(nw: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Step[];
  /** Removes what join made (idempotent, best-effort). */
  leave(nw: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): KernelCmd[];
  /**
   * Steps for the endpoint that carries its sandbox's default route, after join, and what undoes
   * them before leave (libnetwork's Program/RevokeExternalConnectivity).
   */
  gateway?(nw: NetworkRecord, ep: EndpointRecord): { program: Step[]; revoke: KernelCmd[] };

  /**
   * `ip` (and `fdb`) commands that take this host's entries for remote endpoints from `had` to
   * `want` (a global network's peers, from the cluster store).
   */
  peers?(nw: NetworkRecord, want: PeerEntry[], had: PeerEntry[]): string[][];
  /** The entries for remote endpoints as the kernel has them (restore and the agent compare with these). */
  readPeers?(kernel: KernelView, nw: NetworkRecord): Promise<PeerEntry[]>;

  /** The network's own devices against the kernel. */
  checkNetwork?(ctx: DriverReads, nw: NetworkRecord): Promise<Check>;
  /** Host addresses only the network's sandboxes reach, where netctl's resolver answers them ([]: no resolver). */
  resolverAddresses?(nw: NetworkRecord): string[];
  /** The bridge and address the host has on the network for the resolver alone (a DNS-only filter guards it). */
  dnsOnly?(nw: NetworkRecord): { bridge: string; addr: string } | undefined;
  /** One endpoint's devices against the kernel; `missing` when join must make them again. */
  checkEndpoint?(
    ctx: DriverReads,
    nw: NetworkRecord,
    ep: EndpointRecord,
    sb: SandboxRecord,
  ): Promise<Check & { missing: boolean }>;
  /** Devices this driver made that no record has any more (doctor reports them, restore deletes them). */
  leftovers?(ctx: DriverReads): Promise<Leftover[]>;

  /**
   * `netctl update`: the steps that take the network's devices and every endpoint from `before`
   * to `after` (their options differ) with their undo; throws InvalidArgumentError naming an
   * option it cannot change in place. Without it, no option of such a network changes.
   */
  update?(
    before: NetworkRecord,
    after: NetworkRecord,
    endpoints: Array<{ ep: EndpointRecord; sb: SandboxRecord }>,
  ): Step[];

  /** Options `inspect` shows beside the recorded ones (the predefined bridge's device name). */
  shownOptions?(nw: NetworkRecord): Record<string, string>;

  /** The network's part in the firewall model; undefined when the firewall has nothing to do with it. */
  firewall?(nw: NetworkRecord): FirewallPart;
}
