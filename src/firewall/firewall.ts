// The backend-neutral firewall seam (SPEC §4, §11). The controller derives a FwModel from the
// store and hands it to a Firewall; how that becomes kernel rules is the backend's business
// (one folder each: iptables/ now, nftables/ later).
//
// What every backend must guarantee:
// - it touches only what it owns (its chains, or its one table) and the single jump into
//   them from each built-in chain: it never flushes a table, never changes a built-in chain's
//   policy, never edits rules it did not write;
// - one sync is one kernel transaction (all of it applies, or none);
// - drift() compares the kernel against exactly what sync() would write for the same model,
//   so "doctor reports nothing" means "restore would change nothing".

export interface FwNetwork {
  /** netctl:<id12> goes on every rule of the network. */
  id12: string;
  bridge: string;
  subnets: string[];
  internal: boolean;
  icc: boolean;
  masquerade: boolean;
}

export interface FwPort {
  id12: string;
  bridge: string;
  containerIP: string;
  proto: 'tcp' | 'udp';
  hostIP: string;
  hostPort: number;
  containerPort: number;
}

export interface FwModel {
  networks: FwNetwork[];
  ports: FwPort[];
}

export interface Firewall {
  /** Backend name shown by doctor ("iptables"). */
  readonly name: string;
  /** Makes the kernel hold `next`; `prev` is what the kernel is believed to hold (null: unknown → full rewrite). */
  sync(prev: FwModel | null, next: FwModel): Promise<void>;
  /** Every difference between `model` and the rules the kernel holds, one line each, e.g. "firewall: chain NETCTL-FORWARD is missing"; [] when none. */
  drift(model: FwModel): Promise<string[]>;
}
