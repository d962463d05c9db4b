// Derives the firewall model from the store: every bridge network in use, and the published
// ports of running sandboxes, mapped to their gateway endpoint.
import { OPT, bridgeDevice } from '../drivers/bridge.js';
import { electGateway } from '../core/gateway.js';
import type { ReadTxn } from '../store/store.js';
import type { FwModel, FwNetwork, FwPort } from './firewall.js';

export function firewallModel(tx: ReadTxn): FwModel {
  const networks: FwNetwork[] = tx.list('networks')
    .filter((n) => n.driver === 'bridge' && n.driverState['ready'])
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((n) => ({
      id12: n.id.slice(0, 12),
      bridge: bridgeDevice(n),
      subnets: n.ipam.config.map((p) => p.Subnet).filter((s) => !s.includes(':')),
      internal: n.internal,
      icc: n.options[OPT.icc] !== 'false',
      masquerade: n.options[OPT.masquerade] !== 'false',
    }));
  const ports: FwPort[] = [];
  const publishing = tx.find('sandboxes', 'ports', []).filter((sb) => sb.state === 'running');
  for (const sb of publishing.sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const gw = electGateway(tx, tx.find('endpoints', 'sandboxId', sb.id).sort((a, b) => a.seq - b.seq));
    const nw = gw && tx.get('networks', gw.networkId);
    if (!gw || !nw || !gw.ipv4) continue;
    for (const p of sb.ports) {
      ports.push({
        id12: sb.id.slice(0, 12),
        bridge: bridgeDevice(nw),
        containerIP: gw.ipv4.split('/')[0] ?? '',
        proto: p.proto,
        hostIP: p.hostIP || nw.options[OPT.hostBinding] || '',
        hostPort: p.hostPort,
        containerPort: p.containerPort,
      });
    }
  }
  return { networks, ports };
}
