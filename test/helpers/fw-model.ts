// The firewall model the rule and backend unit tests share: a network with a published port,
// and an internal one without inter-container traffic.
import type { FwModel } from '../../src/firewall/firewall.js';

export const web = {
  id12: 'aaaaaaaaaaaa',
  bridge: 'nc-aaaaaaaaaaaa',
  subnets: ['10.1.0.0/24'],
  internal: false,
  icc: true,
  masquerade: true,
  mode4: 'nat' as const,
  mode6: 'nat' as const,
};
export const db = {
  id12: 'bbbbbbbbbbbb',
  bridge: 'br-db',
  subnets: ['10.2.0.0/24'],
  internal: true,
  icc: false,
  masquerade: true,
  mode4: 'nat' as const,
  mode6: 'nat' as const,
};
export const port = {
  id12: 'cccccccccccc',
  bridge: 'nc-aaaaaaaaaaaa',
  containerIP: '10.1.0.5',
  proto: 'tcp' as const,
  hostIP: '',
  hostPort: 8080,
  containerPort: 80,
  family: 4 as const,
  mode: 'nat' as const,
};
export const model: FwModel = { networks: [web, db], ports: [port] };
