// IPAM plugins (`--ipam-driver NAME`, libnetwork's ipams/remote API): pools and addresses come
// from the plugin instead of ipam.ts. Like a remote driver's, everything here is a plan of
// plugin calls: each answer fills in the network or endpoint and returns the steps that need
// it, and adds to the undo the release of what the plugin handed out. One IPv4 pool per
// network (more, and IPv6, are refused before anything is asked).
import { SystemError } from '../lib/errors.js';
import { contains, parseIP } from '../lib/ip.js';
import {
  bareIP,
  type EndpointRecord,
  type KernelCmd,
  type NetworkRecord,
  type PluginCall,
  type Step,
} from '../model/records.js';
import { parseSubnet } from './ipam.js';

export const GATEWAY_TYPE = { RequestAddressType: 'com.docker.network.gateway' };

const ipamCall = (plugin: string, method: string, body: Record<string, unknown>): PluginCall => ({
  plugin,
  kind: 'IpamDriver',
  method: `IpamDriver.${method}`,
  body,
});

const str = (o: unknown, key: string): string => {
  const v = o && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' ? v : '';
};

/** `Address` of an answer: a CIDR inside `subnet`. */
function addressIn(plugin: string, answer: Record<string, unknown>, subnet: string, what: string): string {
  const a = str(answer, 'Address');
  const ip = parseIP(bareIP(a));
  const len = a.split('/')[1];
  if (!ip || len === undefined || !contains(parseSubnet(subnet), ip)) {
    throw new SystemError(
      `remote driver ${plugin}: RequestAddress for ${what} answered ${JSON.stringify(a)}, not an address of ${subnet}`,
    );
  }
  return `${bareIP(a)}/${subnet.split('/')[1] ?? ''}`;
}

/**
 * Create: GetCapabilities, GetDefaultAddressSpaces, RequestPool (the --subnet or the plugin's
 * choice), RequestAddress of the gateway unless the pool's Data names it; then `after()`, the
 * network driver's own steps, which may read the pool from `nw.ipam.config`.
 */
export function poolSteps(
  nw: NetworkRecord,
  want: { subnet?: string; ipRange?: string; gateway?: string },
  after: () => Step[],
): Step[] {
  const plugin = nw.ipam.driver;
  const gatewayStep = (poolId: string, subnet: string): Step => ({
    cmds: [],
    undo: [],
    call: {
      ...ipamCall(plugin, 'RequestAddress', { PoolID: poolId, Address: want.gateway ?? '', Options: GATEWAY_TYPE }),
      then: (a, undo) => {
        const gw = bareIP(addressIn(plugin, a, subnet, `the gateway of network ${nw.name}`));
        undo.push({ args: [], call: ipamCall(plugin, 'ReleaseAddress', { PoolID: poolId, Address: gw }) });
        nw.ipam.config = [{ Subnet: subnet, Gateway: gw }];
        nw.ipam.remote = { poolId, gatewayRequested: true };
        return after();
      },
    },
  });
  const poolStep = (space: string): Step => ({
    cmds: [],
    undo: [],
    call: {
      ...ipamCall(plugin, 'RequestPool', {
        AddressSpace: space,
        Pool: want.subnet ?? '',
        SubPool: want.ipRange ?? '',
        Options: { ...nw.ipam.options },
        V6: false,
      }),
      then: (a, undo) => {
        const poolId = str(a, 'PoolID');
        const pool = str(a, 'Pool');
        let sub;
        try {
          sub = parseSubnet(pool);
        } catch {
          sub = undefined;
        }
        if (!poolId || sub?.family !== 4)
          throw new SystemError(
            `remote driver ${plugin}: RequestPool answered pool ${JSON.stringify(pool)} (id ` +
              `${JSON.stringify(poolId)}): an IPv4 CIDR and an id are needed`,
          );
        undo.push({ args: [], call: ipamCall(plugin, 'ReleasePool', { PoolID: poolId }) });
        const given = bareIP(str(a['Data'], 'com.docker.network.gateway'));
        if (!given) return [gatewayStep(poolId, pool)];
        const g = parseIP(given);
        if (!g || !contains(sub, g))
          throw new SystemError(
            `remote driver ${plugin}: RequestPool answered a gateway ${JSON.stringify(given)} outside ${pool}`,
          );
        nw.ipam.config = [{ Subnet: pool, Gateway: given }];
        nw.ipam.remote = { poolId, gatewayRequested: false };
        return after();
      },
    },
  });
  return [
    { cmds: [], undo: [], call: ipamCall(plugin, 'GetCapabilities', {}) },
    {
      cmds: [],
      undo: [],
      call: {
        ...ipamCall(plugin, 'GetDefaultAddressSpaces', {}),
        then: (a) => [poolStep(str(a, 'LocalDefaultAddressSpace') || 'LocalDefault')],
      },
    },
  ];
}

/** rm: the gateway address (if netctl asked for it), then the pool. */
export function poolRelease(nw: NetworkRecord): KernelCmd[] {
  const r = nw.ipam.remote;
  if (!r) return [];
  const gw = nw.ipam.config[0]?.Gateway;
  return [
    ...(r.gatewayRequested && gw
      ? [{ args: [], call: ipamCall(nw.ipam.driver, 'ReleaseAddress', { PoolID: r.poolId, Address: gw }) }]
      : []),
    { args: [], call: ipamCall(nw.ipam.driver, 'ReleasePool', { PoolID: r.poolId }) },
  ];
}

/**
 * Connect: RequestAddress (the asked or kept address, else the plugin's choice), which sets `ep.ipv4`; then `after()`.
 */
export function addressStep(
  nw: NetworkRecord,
  ep: EndpointRecord,
  asked: string | undefined,
  after: () => Step[],
): Step {
  const r = nw.ipam.remote;
  const pool = nw.ipam.config[0];
  if (!r || !pool) throw new SystemError(`network ${nw.name} has no pool from IPAM driver ${nw.ipam.driver}`);
  return {
    cmds: [],
    undo: [],
    call: {
      ...ipamCall(nw.ipam.driver, 'RequestAddress', { PoolID: r.poolId, Address: asked ?? '', Options: {} }),
      then: (a, undo) => {
        ep.ipv4 = addressIn(nw.ipam.driver, a, pool.Subnet, `an endpoint on network ${nw.name}`);
        undo.push(...addressRelease(nw, ep));
        return after();
      },
    },
  };
}

/** Disconnect or stop: the endpoint's address goes back to the plugin. */
export function addressRelease(nw: NetworkRecord, ep: EndpointRecord): KernelCmd[] {
  const r = nw.ipam.remote;
  return r && ep.ipv4
    ? [{ args: [], call: ipamCall(nw.ipam.driver, 'ReleaseAddress', { PoolID: r.poolId, Address: bareIP(ep.ipv4) }) }]
    : [];
}
