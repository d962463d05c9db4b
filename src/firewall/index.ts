// The one place that picks the firewall backend (later: config.json "firewall-backend" or
// NETCTL_FIREWALL_BACKEND, SPEC §11). Only the chosen backend should load, so keep this tiny.
import type { Runner } from '../kernel/runner.js';
import type { Firewall } from './firewall.js';
import { IptablesFirewall } from './iptables/backend.js';

export function makeFirewall(runner: Runner, debug?: (m: string) => void): Firewall {
  return new IptablesFirewall(runner, debug);
}
