// The bridge driver: a Linux bridge per network, a veth pair per endpoint whose peer is
// created directly inside the sandbox netns (moving a link costs ~20 ms; creating it there
// costs nothing extra), then one `ip -batch` in the sandbox for address, link and routes.
import type { EndpointRecord, KernelCmd, NetworkRecord } from '../core/types.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { parseIP } from '../lib/ip.js';
import { checkIfName } from '../lib/validate.js';
import type { Driver, JoinOptions, Step } from './driver.js';

export const OPT = {
  name: 'com.docker.network.bridge.name',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  mtu: 'com.docker.network.driver.mtu',
  ifPrefix: 'com.docker.network.container_iface_prefix',
} as const;

const bad = (k: string, v: string) => new InvalidArgumentError(`failed to parse ${k} value: ${v}`);

function parseBool(k: string, v: string): string {
  if (/^(1|t|true)$/i.test(v)) return 'true';
  if (/^(0|f|false)$/i.test(v)) return 'false';
  throw bad(k, v);
}

export const bridgeDevice = (nw: NetworkRecord): string => String(nw.driverState['bridge'] ?? '');

/** 02 (locally administered, unicast) followed by the network ID's first five bytes. */
export const bridgeMac = (nw: NetworkRecord): string => `02:${(nw.id.slice(0, 10).match(/../g) ?? []).join(':')}`;

function mtuOf(nw: NetworkRecord): string[] {
  const m = nw.options[OPT.mtu];
  return m ? ['mtu', m] : [];
}

export const bridgeDriver: Driver = {
  name: 'bridge',
  plumbs: true,

  parseOptions(opts) {
    const out = { ...opts };
    for (const [k, v] of Object.entries(opts)) {
      switch (k) {
        case OPT.name:
          checkIfName(v, 'bridge name');
          break;
        case OPT.icc:
        case OPT.masquerade:
          out[k] = parseBool(k, v);
          break;
        case OPT.hostBinding:
          if (!parseIP(v)) throw bad(k, v);
          break;
        case OPT.mtu: {
          if (!/^\d{1,5}$/.test(v) || Number(v) < 68 || Number(v) > 65535) throw bad(k, v);
          out[k] = String(Number(v));
          break;
        }
        case OPT.ifPrefix:
          // eth<N> must still fit in 15 bytes with room for the index.
          if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,10}$/.test(v)) throw bad(k, v);
          break;
      }
    }
    return out;
  },

  initState(nw) {
    return { bridge: nw.options[OPT.name] ?? (nw.predefined ? 'netctl0' : `nc-${nw.id.slice(0, 12)}`) };
  },

  createNetwork(nw) {
    const br = bridgeDevice(nw);
    // A MAC derived from the network ID: a bridge re-created by `restore` keeps it, so the
    // sandboxes' neighbour entries for the gateway stay valid.
    const cmds: string[][] = [['link', 'add', 'name', br, ...mtuOf(nw), 'address', bridgeMac(nw), 'type', 'bridge']];
    for (const pool of nw.ipam.config) {
      const len = pool.Subnet.split('/')[1];
      cmds.push(['addr', 'add', `${pool.Gateway}/${len}`, 'dev', br]);
    }
    cmds.push(['link', 'set', br, 'up']);
    return [{ cmds, undo: [{ args: ['link', 'del', br] }] }];
  },

  deleteNetwork(nw) {
    return [{ args: ['link', 'del', bridgeDevice(nw)] }];
  },

  join(nw, ep, sb, opts: JoinOptions): Step[] {
    const mtu = mtuOf(nw);
    const host: Step = {
      cmds: [
        ['link', 'add', ep.hostIf, ...mtu, 'type', 'veth', 'peer', 'name', ep.ifName, ...mtu, 'address', ep.mac, 'netns', sb.netns],
        // A bridge port needs no IPv6 address of its own (nor the DAD and MLD traffic one brings).
        ['link', 'set', ep.hostIf, 'addrgenmode', 'none'],
        ['link', 'set', ep.hostIf, 'master', bridgeDevice(nw), 'up'],
      ],
      // Deleting either end of a veth pair deletes both.
      undo: [{ args: ['link', 'del', ep.hostIf] }],
    };
    // On an IPv4-only network the container side gets no IPv6 link-local address either (as
    // Docker does): its DAD, router and MLD solicitations are multicast, which the bridge
    // floods to every port, so each connect cost every sandbox of a large network some work.
    const inner: string[][] = nw.enableIPv6 ? [] : [['link', 'set', ep.ifName, 'addrgenmode', 'none']];
    if (ep.ipv4) inner.push(['addr', 'add', ep.ipv4, 'dev', ep.ifName]);
    if (ep.ipv6) inner.push(['addr', 'add', ep.ipv6, 'dev', ep.ifName, 'nodad']);
    inner.push(['link', 'set', ep.ifName, 'up']);
    // replace, not add: a higher-priority endpoint takes the route over from an earlier one.
    if (opts.gateway) inner.push(...defaultRoutes(ep));
    return [host, { ns: sb.netns, cmds: inner, undo: [] }];
  },

  leave(_nw, ep): KernelCmd[] {
    return [{ args: ['link', 'del', ep.hostIf] }];
  },

  setGateway(_nw, ep, sb) {
    return [{ ns: sb.netns, cmds: defaultRoutes(ep), undo: [] }];
  },
};

function defaultRoutes(ep: EndpointRecord): string[][] {
  const out: string[][] = [];
  if (ep.gateway4) out.push(['route', 'replace', 'default', 'via', ep.gateway4, 'dev', ep.ifName]);
  if (ep.gateway6) out.push(['route', 'replace', '::/0', 'via', ep.gateway6, 'dev', ep.ifName]);
  return out;
}

export function ifPrefix(nw: NetworkRecord): string {
  return nw.options[OPT.ifPrefix] ?? 'eth';
}
