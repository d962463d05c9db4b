// Derives the firewall model from the store: each network in use whose driver has a part in
// the firewall, and the published ports of running sandboxes, mapped to their gateway endpoint.
import { driverFor } from '../drivers/index.js';
import { electGateway } from '../model/gateway.js';
import { bareIP, type NetworkRecord, type SandboxRecord } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import type { FirewallPart } from '../drivers/driver.js';
import { familyOf, type FwModel, type FwNetwork, type FwPort } from './firewall.js';

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

/** The whole model. */
export function firewallModel(tx: ReadTxn): FwModel {
  const sbs = tx.find('sandboxes', 'ports', []).sort((a, b) => (a.id < b.id ? -1 : 1));
  return { networks: networksModel(tx), ports: sbs.flatMap((sb) => portsOf(tx, sb)) };
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
