// The firewall the records imply, written in one transaction of the backend, with the
// forwarding sysctls that bridge and IPv6 networks need.
import type { Runner } from '../kernel/runner.js';
import type { ReadTxn } from '../store/store.js';
import type { Firewall, FwDnsOnly, FwModel, FwNetwork, FwPolicy, FwPort } from './firewall.js';
import type { SandboxRecord } from '../model/records.js';
import { dnsOnlyModel, firewallModel, networksModel, policyFor, portsOf } from './model.js';

/** One sandbox's part of the firewall: its published ports and its egress policy. */
interface SandboxFw {
  ports: FwPort[];
  policy?: FwPolicy;
}

/**
 * What the kernel holds as far as one operation knows: the networks' part, and the part of
 * each sandbox it changed, as it was before (by sandbox id).
 */
export interface FwApplied {
  networks: FwNetwork[];
  dnsOnly: FwDnsOnly[];
  sandboxes: Map<string, SandboxFw>;
}

/** What the kernel holds before an operation changes anything (sandboxes: added as they are touched). */
export const appliedBefore = (tx: ReadTxn): FwApplied => ({
  networks: networksModel(tx),
  dnsOnly: dnsOnlyModel(tx),
  sandboxes: new Map(),
});

function partOf(tx: ReadTxn, sb: SandboxRecord | undefined): SandboxFw {
  if (!sb) return { ports: [] };
  const policy = sb.state === 'running' ? policyFor(tx, sb) : undefined;
  return { ports: portsOf(tx, sb), ...(policy ? { policy } : {}) };
}

/** Notes what the firewall holds for sandbox `id` before the operation changes it. */
export function remember(applied: FwApplied | null, tx: ReadTxn, id: string): void {
  if (!applied || applied.sandboxes.has(id)) return;
  applied.sandboxes.set(id, partOf(tx, tx.get('sandboxes', id)));
}

/**
 * Brings netctl's firewall to what the store says (one write of the backend, from one read at
 * most). From `applied` (null: unknown, rewrite everything), only the networks and the parts
 * of the sandboxes it names are compared and written; `override` replaces a sandbox's policy
 * (a connect primes it with endpoints not recorded yet). Returns what the kernel holds then.
 */
export async function syncFirewall(
  fw: Firewall,
  runner: Runner,
  tx: ReadTxn,
  applied: FwApplied | null,
  debug: (m: string) => void,
  override?: { id: string; policy: FwPolicy },
): Promise<FwApplied> {
  const scope = applied ? [...applied.sandboxes.keys()] : null;
  const now = new Map<string, SandboxFw>();
  if (scope) for (const id of scope.sort()) now.set(id, partOf(tx, tx.get('sandboxes', id)));
  if (override) now.set(override.id, { ...(now.get(override.id) ?? { ports: [] }), policy: override.policy });
  const whole = () => firewallModel(tx);
  const next: FwModel = scope ? modelOf(networksModel(tx), dnsOnlyModel(tx), now) : whole();
  if (next.networks.some((n) => !n.internal) && (await runner.sysctl('net.ipv4.ip_forward', '1'))) {
    debug('enabled net.ipv4.ip_forward for bridge networks');
  }
  // IPv6 routes between a network and the outside only with forwarding on (as Docker does for IPv6 networks).
  const v6 = next.networks.some((n) => !n.internal && n.subnets.some((s) => s.includes(':')));
  if (v6 && (await runner.sysctl('net.ipv6.conf.all.forwarding', '1'))) {
    debug('enabled net.ipv6.conf.all.forwarding for IPv6 networks');
  }
  const prev =
    applied &&
    modelOf(
      applied.networks,
      applied.dnsOnly,
      new Map([...now.keys()].map((id) => [id, applied.sandboxes.get(id) ?? { ports: [] }])),
    );
  await fw.sync(prev, next, whole);
  const dnsOnly = next.dnsOnly ?? [];
  if (scope) return { networks: next.networks, dnsOnly, sandboxes: now };
  // After a whole rewrite nothing is known per sandbox: later changes note theirs as they come.
  return { networks: next.networks, dnsOnly, sandboxes: new Map() };
}

function modelOf(networks: FwNetwork[], dnsOnly: FwDnsOnly[], parts: Map<string, SandboxFw>): FwModel {
  const all = [...parts.values()];
  const policies = all.flatMap((p) => (p.policy ? [p.policy] : []));
  return {
    networks,
    ...(dnsOnly.length ? { dnsOnly } : {}),
    ports: all.flatMap((p) => p.ports),
    ...(policies.length ? { policies } : {}),
  };
}
