// A remote driver (docs/reference.md §10): a driver name that is not built in is a plugin speaking
// libnetwork's remote API. Like every driver it only plans: its steps are plugin calls whose
// undo is another call (journaled as data), and Join's answer turns into the `ip` step that
// moves the plugin's interface into the sandbox. The core then configures it as for any
// driver (addresses, link up, routes). Calls follow libnetwork's order: CreateNetwork;
// CreateEndpoint, Join, ProgramExternalConnectivity; RevokeExternalConnectivity, Leave,
// DeleteEndpoint; DeleteNetwork.
import { parseSubnet } from '../ipam/ipam.js';
import { linkDel, linkMoveInto, NETNS_DIR } from '../kernel/ops.js';
import { ForbiddenError, SystemError } from '../lib/errors.js';
import { parseIP } from '../lib/ip.js';
import { checkIfName } from '../lib/validate.js';
import {
  gatewayCidr,
  type EndpointRecord,
  type KernelCmd,
  type NetworkRecord,
  type PluginCall,
  type Step,
} from '../model/records.js';
import { containerIf, parseCommonOption } from './common.js';
import type { Driver } from './driver.js';

/** Docker's key for the `-o` options a plugin gets. */
export const GENERIC = 'com.docker.network.generic';

const call = (plugin: string, method: string, body: Record<string, unknown>): PluginCall => ({
  plugin,
  kind: 'NetworkDriver',
  method: `NetworkDriver.${method}`,
  body,
});

const ipamData = (nw: NetworkRecord, family: 4 | 6) =>
  nw.ipam.config
    .filter((p) => (p.Subnet.includes(':') ? 6 : 4) === family)
    .map((p) => ({
      AddressSpace: 'LocalDefault',
      Pool: p.Subnet,
      Gateway: gatewayCidr(p),
      AuxAddresses: p.AuxiliaryAddresses ?? {},
    }));

const ids = (nw: NetworkRecord, ep: EndpointRecord) => ({ NetworkID: nw.id, EndpointID: ep.id });

/** One string field of a plugin's answer ('' when absent); anything else there is the plugin's error. */
function field(name: string, o: unknown, key: string, method: string): string {
  const v = o && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string')
    throw new SystemError(`remote driver ${name}: ${method} answered a ${key} that is not a string`);
  return v;
}

/** Join's answer: the interface to move in (and its name there), the gateway, the static routes. */
function takeJoin(
  name: string,
  answer: Record<string, unknown>,
  ep: EndpointRecord,
  dflt: string,
  n: number,
  netns: string,
): Step[] {
  const iface = answer['InterfaceName'];
  const src = field(name, iface, 'SrcName', 'Join');
  if (!src) throw new SystemError(`remote driver ${name}: Join answered no InterfaceName.SrcName`);
  checkIfName(src, `interface name from remote driver ${name}`);
  const prefix = field(name, iface, 'DstPrefix', 'Join') || 'eth';
  if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,10}$/.test(prefix))
    throw new SystemError(`remote driver ${name}: Join answered an unusable DstPrefix ${JSON.stringify(prefix)}`);
  // A name the user asked for (--driver-opt …ifname) wins over the plugin's prefix.
  if (ep.ifName === dflt) ep.ifName = `${prefix}${n}`;
  // As libnetwork: the default route goes where the driver says, and nowhere when it says nothing.
  for (const [key, fam] of [
    ['Gateway', 4],
    ['GatewayIPv6', 6],
  ] as const) {
    const gw = field(name, answer, key, 'Join');
    if (gw && parseIP(gw)?.family !== fam)
      throw new SystemError(`remote driver ${name}: Join answered an invalid ${key} ${JSON.stringify(gw)}`);
    ep[fam === 4 ? 'gateway4' : 'gateway6'] = gw;
  }
  const routes = Array.isArray(answer['StaticRoutes']) ? (answer['StaticRoutes'] as unknown[]) : [];
  ep.routes = routes.map((r) => {
    const dst = field(name, r, 'Destination', 'Join');
    const via = field(name, r, 'NextHop', 'Join');
    const connected = (r as Record<string, unknown>)['RouteType'] === 1;
    try {
      parseSubnet(dst);
    } catch {
      throw new SystemError(
        `remote driver ${name}: Join answered a static route to ${JSON.stringify(dst)}, which is not a CIDR`,
      );
    }
    if (!connected && !parseIP(via))
      throw new SystemError(`remote driver ${name}: Join answered a static route to ${dst} with no valid NextHop`);
    return connected ? { dst } : { dst, via };
  });
  if (ep.routes.length === 0) delete ep.routes;
  return [{ cmds: [linkMoveInto(src, netns, ep.ifName, ep.mac)], undo: [{ ns: netns, args: linkDel(ep.ifName) }] }];
}

export function remoteDriver(name: string): Driver {
  return {
    name,
    plumbs: true,

    // The plugin judges its own options; netctl checks only the ones it acts on itself.
    parseOptions(opts) {
      const out = { ...opts };
      for (const [k, v] of Object.entries(opts)) {
        const norm = parseCommonOption(k, v);
        if (norm !== undefined) out[k] = norm;
      }
      return out;
    },

    initState: () => ({}),

    /** The plugin is there and is a network driver of local scope (netctl has no cluster store yet). */
    async checkCreate({ plugins }, nw) {
      if (!plugins) throw new SystemError(`remote driver ${name}: no plugin client`);
      const caps = await plugins.call(call(name, 'GetCapabilities', {}));
      if (caps['Scope'] === 'global') {
        throw new ForbiddenError(
          `remote driver ${name} is of global scope: network ${nw.name} needs a cluster store, which netctl does not ` +
            `have yet`,
        );
      }
    },

    createNetwork(nw) {
      const body = {
        NetworkID: nw.id,
        Options: { [GENERIC]: { ...nw.options }, 'com.docker.network.enable_ipv6': nw.enableIPv6 },
        IPv4Data: ipamData(nw, 4),
        IPv6Data: ipamData(nw, 6),
      };
      return [
        {
          cmds: [],
          call: call(name, 'CreateNetwork', body),
          undo: [{ args: [], call: call(name, 'DeleteNetwork', { NetworkID: nw.id }) }],
        },
      ];
    },

    deleteNetwork: (nw) => [{ args: [], call: call(name, 'DeleteNetwork', { NetworkID: nw.id }) }],

    endpointNames: (nw, n) => ({ ifName: containerIf(nw, n), hostIf: '' }),

    join(nw, ep, sb) {
      const iface = { Address: ep.ipv4, AddressIPv6: ep.ipv6, MacAddress: ep.mac };
      const dflt = containerIf(nw, sb.nextIf);
      const n = sb.nextIf;
      const join = { ...ids(nw, ep), SandboxKey: `${NETNS_DIR}/${sb.netns}`, Options: {} };
      return [
        {
          cmds: [],
          call: call(name, 'CreateEndpoint', { ...ids(nw, ep), Interface: iface, Options: {} }),
          undo: [{ args: [], call: call(name, 'DeleteEndpoint', ids(nw, ep)) }],
        },
        {
          cmds: [],
          undo: [{ args: [], call: call(name, 'Leave', ids(nw, ep)) }],
          call: { ...call(name, 'Join', join), then: (answer) => takeJoin(name, answer, ep, dflt, n, sb.netns) },
        },
      ];
    },

    leave(nw, ep, sb): KernelCmd[] {
      // The interface goes with its sandbox side (a veth's peer with it); then the plugin forgets the endpoint.
      return [
        ...(ep.ifName && sb.netns ? [{ ns: sb.netns, args: linkDel(ep.ifName) }] : []),
        { args: [], call: call(name, 'Leave', ids(nw, ep)) },
        { args: [], call: call(name, 'DeleteEndpoint', ids(nw, ep)) },
      ];
    },

    gateway: (nw, ep) => ({
      program: [
        {
          cmds: [],
          call: call(name, 'ProgramExternalConnectivity', { ...ids(nw, ep), Options: {} }),
          undo: [{ args: [], call: call(name, 'RevokeExternalConnectivity', ids(nw, ep)) }],
        },
      ],
      revoke: [{ args: [], call: call(name, 'RevokeExternalConnectivity', ids(nw, ep)) }],
    }),

    /** The interface lives in the sandbox: missing there means join (the plugin's calls too) runs again. */
    async checkEndpoint({ kernel }, _nw, ep, sb) {
      return { drift: [], repair: [], repaired: [], missing: !(await kernel.links(sb.netns)).has(ep.ifName) };
    },
  };
}
