// The Driver interface, shaped after libnetwork's driver API (CreateNetwork, DeleteNetwork,
// Join, Leave; CreateEndpoint/DeleteEndpoint are folded into join/leave because a netctl
// endpoint only exists while its sandbox runs). Drivers do no I/O: they return plans of `ip`
// commands with their undo, which the controller applies, journals and rolls back. That keeps
// every driver testable without a kernel and makes crash cleanup data, not code.
import type { EndpointRecord, KernelCmd, NetworkRecord, SandboxRecord } from '../core/types.js';

/** Commands applied in one `ip -batch` process, in `ns` (undefined: the host namespace). */
export interface Step {
  ns?: string;
  cmds: string[][];
  /** Idempotent commands that undo this step; run best-effort, "already gone" is success. */
  undo: KernelCmd[];
}

export interface JoinOptions {
  /** This endpoint carries the sandbox's default route. */
  gateway: boolean;
}

export interface Driver {
  readonly name: string;
  /** Whether endpoints get an interface (and an address) in the sandbox. */
  readonly plumbs: boolean;
  /** Checks and normalises `-o` options; throws InvalidArgumentError on a bad value. */
  parseOptions(opts: Record<string, string>): Record<string, string>;
  /** Driver state recorded on the network at create time (e.g. the bridge device name). */
  initState(nw: NetworkRecord): NetworkRecord['driverState'];
  createNetwork(nw: NetworkRecord): Step[];
  deleteNetwork(nw: NetworkRecord): KernelCmd[];
  join(nw: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord, opts: JoinOptions): Step[];
  leave(nw: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): KernelCmd[];
  /** Commands that make `ep` the sandbox's default route (after the previous one left). */
  setGateway(nw: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Step[];
}
