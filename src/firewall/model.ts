// Derives the firewall model from the store: each network in use whose driver has a part in
// the firewall, and the published ports of running sandboxes, mapped to their gateway endpoint.
import { driverFor } from '../drivers/index.js';
import { electGateway } from '../model/gateway.js';
import { bareIP, type EndpointRecord, type NetworkRecord, type SandboxRecord } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import type { FirewallPart } from '../drivers/driver.js';
import { resolverAddresses } from '../dns/view.js';
import { familyOf, type FwDnsOnly, type FwModel, type FwNetwork, type FwPolicy, type FwPort } from './firewall.js';

/** The network's part, if its driver has one (and is known: a store may name a driver this build lacks). */
function partOf(nw: NetworkRecord): FirewallPart | undefined {
  try {
    return driverFor(nw.driver).firewall?.(nw);
  } catch {
    return undefined;
  }
}

/** The networks' part of the model: every network in use whose driver has a part in the firewall. */
export function networksModel(tx: ReadTxn): FwNetwork[] {
  const networks: FwNetwork[] = [];
  for (const n of tx
    .list('networks')
    .filter((x) => x.driverState['ready'])
    .sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const part = partOf(n);
    if (part) networks.push({ id12: n.id.slice(0, 12), ...part.network });
  }
  return networks;
}

/** The addresses the host has on networks for the resolver alone, guarded to admit only DNS. */
export function dnsOnlyModel(tx: ReadTxn): FwDnsOnly[] {
  const out: FwDnsOnly[] = [];
  for (const n of tx.list('networks').sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (!n.driverState['ready']) continue;
    let d: { bridge: string; addr: string } | undefined;
    try {
      d = driverFor(n.driver).dnsOnly?.(n);
    } catch {
      d = undefined; // a driver this build lacks
    }
    if (d) out.push({ id12: n.id.slice(0, 12), ...d });
  }
  return out;
}

/** The whole model. */
export function firewallModel(tx: ReadTxn): FwModel {
  const sbs = tx.find('sandboxes', 'ports', []).sort((a, b) => (a.id < b.id ? -1 : 1));
  const policies = policiesOf(tx);
  const dnsOnly = dnsOnlyModel(tx);
  return {
    networks: networksModel(tx),
    ...(dnsOnly.length ? { dnsOnly } : {}),
    ports: sbs.flatMap((sb) => portsOf(tx, sb)),
    ...(policies.length ? { policies } : {}),
  };
}

/** The published ports of one sandbox as the firewall holds them while it runs. */
export function portsOf(tx: ReadTxn, sb: SandboxRecord): FwPort[] {
  if (sb.state !== 'running' || sb.ports.length === 0) return [];
  const netOf = (id: string) => tx.get('networks', id);
  const gw = electGateway(
    tx.find('endpoints', 'sandboxId', sb.id).sort((a, b) => a.seq - b.seq),
    netOf,
  );
  const nw = gw && netOf(gw.networkId);
  const part = nw && partOf(nw);
  // A gateway on a network without a firewall part (macvlan) publishes nothing: there is no host side to DNAT from.
  if (!gw || !nw || !part) return [];
  const { bridge, mode4, mode6 } = part.network;
  const ports: FwPort[] = [];
  for (const p of sb.ports) {
    // No host address: every address of each family the gateway endpoint has (Docker's 0.0.0.0 and [::]).
    const hostIP = p.hostIP || part.hostBinding;
    for (const [family, ip, mode] of [
      [4, gw.ipv4, mode4],
      [6, gw.ipv6, mode6],
    ] as const) {
      if (!ip || (hostIP && familyOf(hostIP) !== family)) continue;
      ports.push({
        id12: sb.id.slice(0, 12),
        bridge,
        family,
        containerIP: bareIP(ip),
        proto: p.proto,
        hostIP,
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        mode,
      });
    }
  }
  return ports;
}

/**
 * Running sandboxes with a policy and at least one endpoint on a network with a firewall part.
 * Found through the endpoints' index, not by reading every sandbox record (a command reads
 * only the records it needs: see store/table.ts).
 */
function policiesOf(tx: ReadTxn): FwPolicy[] {
  const ids = new Set<string>();
  for (const nw of tx.list('networks')) {
    if (!nw.driverState['ready'] || !partOf(nw)) continue;
    for (const id of tx.values('endpoints', 'sandboxId', { field: 'networkId', value: nw.id })) ids.add(id);
  }
  return [...ids].sort().flatMap((id) => {
    const sb = tx.get('sandboxes', id);
    return sb?.policy && sb.state === 'running' ? (policyFor(tx, sb) ?? []) : [];
  });
}

/**
 * The firewall's view of `sb`'s policy over its endpoints and `extra` ones (planned, not yet
 * recorded: a connect primes the firewall with them before their veth exists); undefined when
 * it has no policy or no endpoint the host's firewall sees.
 */
export function policyFor(tx: ReadTxn, sb: SandboxRecord, extra: EndpointRecord[] = []): FwPolicy | undefined {
  const policy = sb.policy;
  if (!policy) return undefined;
  const ports: string[] = [];
  const bridges = new Set<string>();
  const dns = new Set<string>();
  const eps = tx.find('endpoints', 'sandboxId', sb.id).sort((a, b) => a.seq - b.seq);
  for (const ep of [...eps, ...extra.filter((e) => e.sandboxId === sb.id)]) {
    const nw = tx.get('networks', ep.networkId);
    const part = nw && partOf(nw);
    if (!nw || !part || !ep.hostIf) continue;
    ports.push(ep.hostIf);
    bridges.add(part.network.bridge);
    for (const a of resolverAddresses(nw)) dns.add(a);
  }
  if (ports.length === 0) return undefined;
  return {
    id12: sb.id.slice(0, 12),
    mark: policy.mark,
    ports,
    bridges: [...bridges],
    dns: [...dns],
    default: policy.default,
    rules: policy.rules,
  };
}
