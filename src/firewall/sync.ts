// The firewall the records imply, written in one transaction of the backend, with the
// forwarding sysctls that bridge and IPv6 networks need.
import type { Runner } from '../kernel/runner.js';
import type { ReadTxn } from '../store/store.js';
import type { Firewall, FwModel, FwNetwork, FwPort } from './firewall.js';
import { firewallModel, networksModel, portsOf } from './model.js';

/**
 * What the kernel holds as far as one operation knows: the networks' part, and the ports of
 * the sandboxes it changed, as they were before (by sandbox id).
 */
export interface FwApplied {
  networks: FwNetwork[];
  ports: Map<string, FwPort[]>;
}

/** What the kernel holds before an operation changes anything (ports: added as sandboxes are touched). */
export const appliedBefore = (tx: ReadTxn): FwApplied => ({ networks: networksModel(tx), ports: new Map() });

/** Notes what the firewall holds for sandbox `id` before the operation changes it. */
export function remember(applied: FwApplied | null, tx: ReadTxn, id: string): void {
  if (!applied || applied.ports.has(id)) return;
  const sb = tx.get('sandboxes', id);
  applied.ports.set(id, sb ? portsOf(tx, sb) : []);
}

/**
 * Brings netctl's firewall to what the store says (one write of the backend, from one read at
 * most). From `applied` (null: unknown, rewrite everything), only the networks and the ports
 * of the sandboxes it names are compared and written. Returns what the kernel holds then.
 */
export async function syncFirewall(
  fw: Firewall,
  runner: Runner,
  tx: ReadTxn,
  applied: FwApplied | null,
  debug: (m: string) => void,
): Promise<FwApplied> {
  const scope = applied ? [...applied.ports.keys()] : null;
  const byId = new Map<string, FwPort[]>();
  const sbs = scope ? scope.flatMap((id) => tx.get('sandboxes', id) ?? []) : tx.find('sandboxes', 'ports', []);
  for (const sb of sbs.sort((a, b) => (a.id < b.id ? -1 : 1))) byId.set(sb.id, portsOf(tx, sb));
  for (const id of scope ?? []) if (!byId.has(id)) byId.set(id, []); // removed: nothing of it stays
  const next: FwModel = { networks: networksModel(tx), ports: [...byId.values()].flat() };
  if (next.networks.some((n) => !n.internal) && (await runner.sysctl('net.ipv4.ip_forward', '1'))) {
    debug('enabled net.ipv4.ip_forward for bridge networks');
  }
  // IPv6 routes between a network and the outside only with forwarding on (as Docker does for IPv6 networks).
  const v6 = next.networks.some((n) => !n.internal && n.subnets.some((s) => s.includes(':')));
  if (v6 && (await runner.sysctl('net.ipv6.conf.all.forwarding', '1'))) {
    debug('enabled net.ipv6.conf.all.forwarding for IPv6 networks');
  }
  const prev = applied && {
    networks: applied.networks,
    ports: [...byId.keys()].flatMap((id) => applied.ports.get(id) ?? []),
  };
  await fw.sync(prev, next, () => firewallModel(tx));
  return { networks: next.networks, ports: byId };
}
