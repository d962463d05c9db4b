// The firewall the records imply, written in one transaction of the backend, with the
// forwarding sysctls that bridge and IPv6 networks need.
import type { Runner } from '../kernel/runner.js';
import type { ReadTxn } from '../store/store.js';
import type { Firewall, FwModel } from './firewall.js';
import { firewallModel } from './model.js';

/**
 * Brings netctl's firewall to what the store says (one read, one write of the backend), from
 * `prev` (what this process last wrote; null: unknown, rewrite everything). Returns the model.
 */
export async function syncFirewall(
  fw: Firewall,
  runner: Runner,
  tx: ReadTxn,
  prev: FwModel | null,
  debug: (m: string) => void,
): Promise<FwModel> {
  const model = firewallModel(tx);
  if (model.networks.some((n) => !n.internal) && (await runner.sysctl('net.ipv4.ip_forward', '1'))) {
    debug('enabled net.ipv4.ip_forward for bridge networks');
  }
  // IPv6 routes between a network and the outside only with forwarding on (as Docker does for IPv6 networks).
  const v6 = model.networks.some((n) => !n.internal && n.subnets.some((s) => s.includes(':')));
  if (v6 && (await runner.sysctl('net.ipv6.conf.all.forwarding', '1'))) {
    debug('enabled net.ipv6.conf.all.forwarding for IPv6 networks');
  }
  await fw.sync(prev, model);
  return model;
}
