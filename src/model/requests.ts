// What the CLI asks of the core, after its converters have parsed the flags (pure data).
import type { EndpointSettings, PolicyRule, PortMapping } from './records.js';

/** `netctl create`: Docker's NetworkCreate, flattened. */
export interface NetworkCreate {
  name: string;
  driver: string;
  subnets: string[];
  gateways: string[];
  ipRanges: string[];
  auxAddresses: Record<string, string>;
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ipamDriver: string;
  ipamOptions: Record<string, string>;
}

/** `netctl sandbox create`. */
export interface SandboxCreate {
  name: string;
  net: string;
  settings: EndpointSettings;
  ports: PortMapping[];
  hostname?: string;
  dns?: { servers: string[]; search: string[]; options: string[] };
  extraHosts?: Array<{ name: string; ip: string }>;
  /** --egress-default / --egress-allow / --egress-deny (docs/reference.md §16). */
  egress?: PolicyChange;
}

/** What `policy set|add|rm|clear` asks: `set` replaces, `add`/`rm` edit, `clear` removes the policy. */
export type PolicyChange =
  | { op: 'set'; default?: 'allow' | 'deny'; rules: PolicyRule[] }
  | { op: 'add' | 'rm'; rules: PolicyRule[] }
  | { op: 'clear' };
