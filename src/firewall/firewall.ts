// The backend-neutral firewall seam (docs/reference.md §4, §11). The controller derives a FwModel from the
// store and hands it to a Firewall; how that becomes kernel rules is the backend's business
// (one folder each: iptables/ and nftables/).
//
// What every backend must guarantee:
// - it touches only what it owns (its chains, or its one table) and the single jump into
//   them from each built-in chain: it never flushes a table, never changes a built-in chain's
//   policy, never edits rules it did not write;
// - one sync is one kernel transaction per tool (all of it applies, or none);
// - drift() compares the kernel against exactly what sync() would write for the same model,
//   so "doctor reports nothing" means "restore would change nothing".
import type { GatewayMode } from '../model/records.js';

/**
 * Docker 28's com.docker.network.bridge.gateway_mode_ipv4/_ipv6: `nat` masquerades and lets in
 * only published ports through the host; `nat-unprotected` also lets routed traffic in;
 * `routed` neither masquerades nor DNATs, and opens the published container ports to routing;
 * `isolated` is an internal network without a gateway address on the bridge.
 */
export { GATEWAY_MODES, type GatewayMode } from '../model/records.js';

export type Family = 4 | 6;
export type Proto = 'tcp' | 'udp' | 'sctp';

export interface FwNetwork {
  /** netctl:<id12> goes on every rule of the network. */
  id12: string;
  bridge: string;
  /** IPv4 and IPv6 subnets. */
  subnets: string[];
  internal: boolean;
  icc: boolean;
  masquerade: boolean;
  mode4: GatewayMode;
  mode6: GatewayMode;
}

/** One published port of one address family (a mapping without a host IP gives one of each). */
export interface FwPort {
  id12: string;
  bridge: string;
  family: Family;
  containerIP: string;
  proto: Proto;
  /** '' = every local address of the family. */
  hostIP: string;
  hostPort: number;
  containerPort: number;
  /** The gateway mode of the network for this family (`routed`: no DNAT, the container port is open). */
  mode: GatewayMode;
}

/** One running sandbox's egress policy (docs/reference.md §16), on the host side of its bridge endpoints. */
export interface FwPolicy {
  id12: string;
  mark: number;
  /** Host-side veths of its endpoints on networks with a firewall part. */
  ports: string[];
  /** The bridges those veths are on (their bridged traffic must reach the inet hooks). */
  bridges: string[];
  /** netctl's resolver addresses it may always ask (UDP and TCP 53). */
  dns: string[];
  default: 'allow' | 'deny';
  rules: Array<{ verdict: 'allow' | 'deny'; dest: string }>;
}

/**
 * An address the host has on a network only for netctl's resolver (an overlay's, or an
 * isolated bridge's gateway): from that bridge it admits DNS and nothing else (§14).
 */
export interface FwDnsOnly {
  id12: string;
  bridge: string;
  addr: string;
}

export interface FwModel {
  networks: FwNetwork[];
  dnsOnly?: FwDnsOnly[];
  ports: FwPort[];
  /** Absent or empty: no sandbox has a policy. */
  policies?: FwPolicy[];
}

export interface Firewall {
  /** Backend name shown by doctor ("iptables", "nftables"). */
  readonly name: string;
  /**
   * Makes the kernel hold `next`; `prev` is what the kernel is believed to hold (null: unknown →
   * full rewrite). Both may hold the ports of only some sandboxes (the same ones): then
   * `whole` gives the whole model, for a rewrite.
   */
  sync(prev: FwModel | null, next: FwModel, whole?: () => FwModel): Promise<void>;
  /**
   * Every difference between `model` and the rules the kernel holds, one line each, e.g. "firewall: chain
   * NETCTL-FORWARD is missing"; [] when none.
   */
  drift(model: FwModel): Promise<string[]>;
  /**
   * Starts reading what the next `sync` reads first, so that read overlaps the work before it.
   * Reads only: it may run before the journal. Optional: a backend that reads nothing has none.
   */
  prefetch?(): void;
  /** Packets each rule of a sandbox's policy counted: comment (`r<N>`, `default`) → packets; null: no chain. */
  policyCounters?(id12: string): Promise<Map<string, number> | null>;
}

/**
 * A backend as makeFirewall sees it: it can also tell whether it holds rules and remove them all (a switch of backend).
 */
export interface Backend extends Firewall {
  /** Whether the last sync rewrote everything (first use, drift, a switch of backend) rather than a difference. */
  readonly rewrote: boolean;
  /** What of this backend's is in the kernel, one line each ([] when nothing). */
  held(): Promise<string[]>;
  /** Removes everything this backend wrote (its jumps, chains or table); leaves what others wrote. */
  remove(): Promise<void>;
}

/** The iptables backend has no egress policy: see the README (it needs per-sandbox chains and sets with timeouts). */
export const EGRESS_NEEDS_NFT = 'egress policy needs the nftables backend';

export const familyOf = (cidrOrIP: string): Family => (cidrOrIP.includes(':') ? 6 : 4);
export const modeOf = (n: FwNetwork, f: Family): GatewayMode => (f === 4 ? n.mode4 : n.mode6);
/** A loopback host address: nothing from outside may reach such a port (the CVE-2025-54410 class). */
export const isLoopback = (ip: string): boolean => /^127\./.test(ip) || ip === '::1';
/** Whether the network masquerades the family's traffic leaving the host. */
export const masquerades = (n: FwNetwork, f: Family): boolean =>
  !n.internal && n.masquerade && modeOf(n, f) !== 'routed' && modeOf(n, f) !== 'isolated';
