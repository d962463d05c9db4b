// The bridge driver: a Linux bridge per network, a veth pair per endpoint whose peer is
// created directly inside the sandbox netns (moving a link costs ~20 ms; creating it there
// costs nothing extra). The core then configures the peer inside the sandbox.
import { randomBytes } from '../lib/random.js';
import { ConflictError, InvalidArgumentError } from '../lib/errors.js';
import { parseIP } from '../lib/ip.js';
import { checkIfName } from '../lib/validate.js';
import {
  addrAdd,
  addrReplace,
  bridgeAdd,
  linkDel,
  linkMaster,
  linkUp,
  noAddrGen,
  resolverRule,
  vethAdd,
} from '../kernel/ops.js';
import { checkResolverOnly, resolverOnly, resolverOnlyCmds } from './resolver-only.js';
import {
  GATEWAY_MODES,
  gatewayCidr,
  type GatewayMode,
  type IpamPool,
  type NetworkRecord,
  type Step,
} from '../model/records.js';
import { bad, containerIf, OPT, parseBool, parseCommonOption } from './common.js';
import type { Driver, Leftover } from './driver.js';
import { bridgeUpdate } from './bridge-update.js';

export { OPT };

export const bridgeDevice = (nw: NetworkRecord): string => String(nw.driverState['bridge'] ?? '');

/** 02 (locally administered, unicast) followed by the network ID's first five bytes. */
const bridgeMac = (nw: NetworkRecord): string => `02:${(nw.id.slice(0, 10).match(/../g) ?? []).join(':')}`;

const OURS = /^nc-[0-9a-f]{12}$/;

/** Docker 28's gateway mode of one family (default nat). */
export const gatewayMode = (nw: NetworkRecord, f: 4 | 6): GatewayMode =>
  (nw.options[f === 4 ? OPT.gatewayMode4 : OPT.gatewayMode6] ?? 'nat') as GatewayMode;

/** An IPv6 gateway skips duplicate address detection: tentative, it would not answer for its first second. */
const v6 = (p: IpamPool): boolean => p.Subnet.includes(':');

/** The gateway addresses the bridge carries: none for a family in `isolated` mode. */
const bridgeAddrs = (nw: NetworkRecord): IpamPool[] =>
  nw.ipam.config.filter((p) => gatewayMode(nw, p.Subnet.includes(':') ? 6 : 4) !== 'isolated');

/** In IPv4 `isolated` mode, the resolver still answers, from the gateway as overlays do (resolver-only.ts). */
const isolatedDns = (nw: NetworkRecord) => (gatewayMode(nw, 4) === 'isolated' ? resolverOnly(nw) : undefined);

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
        case OPT.gatewayMode4:
        case OPT.gatewayMode6:
          if (!(GATEWAY_MODES as readonly string[]).includes(v))
            throw new InvalidArgumentError(
              `failed to parse ${k} value: ${v} (nat, nat-unprotected, routed or isolated)`,
            );
          break;
        default: {
          const norm = parseCommonOption(k, v);
          if (norm !== undefined) out[k] = norm;
        }
      }
    }
    return out;
  },

  initState(nw) {
    return { bridge: nw.options[OPT.name] ?? (nw.predefined ? 'netctl0' : `nc-${nw.id.slice(0, 12)}`) };
  },

  /** Never adopt or re-address a bridge netctl did not create (moby#23622). */
  async checkCreate({ tx, kernel }, nw, req) {
    for (const f of [4, 6] as const) {
      if (gatewayMode(nw, f) === 'isolated' && !nw.internal) {
        throw new InvalidArgumentError(
          `network ${nw.name}: gateway mode isolated (${f === 4 ? OPT.gatewayMode4 : OPT.gatewayMode6}) needs ` +
            `--internal`,
        );
      }
    }
    const dev = bridgeDevice(nw);
    const other = tx.list('networks').find((n) => n.driverState['bridge'] === dev);
    if (other) throw new ConflictError(`bridge name ${dev} is already in use by network ${other.name}`);
    if (req.options[OPT.name] !== undefined && (await kernel.links()).has(dev)) {
      throw new ConflictError(
        `bridge name ${dev} is already in use`,
        'netctl never takes over a device it did not create; choose another com.docker.network.bridge.name',
      );
    }
  },

  createNetwork(nw) {
    const br = bridgeDevice(nw);
    // A MAC derived from the network ID: a bridge re-created by `restore` keeps it, so the
    // sandboxes' neighbour entries for the gateway stay valid.
    const dns = isolatedDns(nw);
    const cmds = [
      bridgeAdd(br, bridgeMac(nw), nw.options[OPT.mtu]),
      ...bridgeAddrs(nw).map((p) => addrAdd(gatewayCidr(p), br, v6(p))),
      linkUp(br),
      ...(dns ? resolverOnlyCmds(dns, br) : []),
    ];
    return [{ cmds, undo: [...(dns ? [{ args: resolverRule('del', dns.addr) }] : []), { args: linkDel(br) }] }];
  },

  /**
   * The resolver answers on the bridge's gateways, which only its sandboxes reach directly; in
   * IPv4 isolated mode, on the gateway the bridge carries for it alone.
   */
  resolverAddresses: (nw) => {
    const dns = isolatedDns(nw);
    return [...bridgeAddrs(nw).map((p) => p.Gateway), ...(dns ? [dns.addr] : [])];
  },

  dnsOnly(nw) {
    const dns = isolatedDns(nw);
    return dns && { bridge: bridgeDevice(nw), addr: dns.addr };
  },

  deleteNetwork(nw) {
    const dns = isolatedDns(nw);
    return [...(dns ? [{ args: resolverRule('del', dns.addr) }] : []), { args: linkDel(bridgeDevice(nw)) }];
  },

  endpointNames(nw, n) {
    return { ifName: containerIf(nw, n), hostIf: `veth${randomBytes(4).toString('hex').slice(0, 7)}` };
  },

  join(nw, ep, sb) {
    return [
      {
        cmds: [
          vethAdd(ep.hostIf, ep.ifName, ep.mac, sb.netns, nw.options[OPT.mtu]),
          // A bridge port needs no IPv6 address of its own (nor the DAD and MLD traffic one brings).
          noAddrGen(ep.hostIf),
          linkMaster(ep.hostIf, bridgeDevice(nw)),
        ],
        // Deleting either end of a veth pair deletes both.
        undo: [{ args: linkDel(ep.hostIf) }],
      },
    ];
  },

  leave(_nw, ep) {
    return [{ args: linkDel(ep.hostIf) }];
  },

  async checkNetwork({ kernel }, nw) {
    const br = bridgeDevice(nw);
    const l = (await kernel.links()).get(br);
    if (!l)
      return {
        drift: [`bridge ${br} is missing`],
        repair: this.createNetwork(nw),
        repaired: [`bridge ${br} of network ${nw.name}`],
      };
    if (l.linkinfo?.info_kind !== 'bridge') return { drift: [`${br} is not a bridge`], repair: [], repaired: [] };
    const drift: string[] = [];
    const have = (await kernel.addrs()).get(br) ?? [];
    const lacking = bridgeAddrs(nw).filter((p) => !have.includes(gatewayCidr(p)));
    for (const p of lacking) drift.push(`bridge ${br} lacks its gateway address ${gatewayCidr(p)}`);
    if (!(l.flags ?? []).includes('UP')) drift.push(`bridge ${br} is down`);
    const repair: Step[] = drift.length
      ? [{ cmds: [...lacking.map((p) => addrReplace(gatewayCidr(p), br, v6(p))), linkUp(br)], undo: [] }]
      : [];
    const dns = isolatedDns(nw);
    if (dns) {
      const c = await checkResolverOnly(kernel, dns, br);
      drift.push(...c.drift);
      repair.push(...c.repair);
    }
    return { drift, repair, repaired: [] };
  },

  async checkEndpoint({ kernel }, nw, ep) {
    const host = (await kernel.links()).get(ep.hostIf);
    if (!host)
      return {
        drift: [`veth ${ep.hostIf} (${ep.ifName} on ${nw.name}) is missing`],
        repair: [],
        repaired: [],
        missing: true,
      };
    const br = bridgeDevice(nw);
    if (host.master === br) return { drift: [], repair: [], repaired: [], missing: false };
    return {
      drift: [`veth ${ep.hostIf} is not attached to ${br}`],
      repair: [{ cmds: [linkMaster(ep.hostIf, br)], undo: [] }],
      repaired: [`${ep.hostIf} re-attached to ${br}`],
      missing: false,
    };
  },

  async leftovers({ tx, kernel }) {
    const ours = new Set(tx.list('networks').map(bridgeDevice).filter(Boolean));
    const veths = new Set(tx.list('endpoints').map((e) => e.hostIf));
    const out: Leftover[] = [];
    for (const [name, l] of await kernel.links()) {
      if (OURS.test(name) && !ours.has(name)) out.push({ dev: name, what: `bridge ${name} (no network has it)` });
      else if (l.master && ours.has(l.master) && !veths.has(name))
        out.push({ dev: name, what: `veth ${name} on ${l.master} (no endpoint has it)` });
    }
    return out;
  },

  update: bridgeUpdate,

  // Docker shows these on its docker0 network; netctl's is netctl0.
  shownOptions(nw): Record<string, string> {
    return nw.predefined ? { [OPT.name]: bridgeDevice(nw), 'com.docker.network.bridge.default_bridge': 'true' } : {};
  },

  firewall(nw) {
    return {
      network: {
        bridge: bridgeDevice(nw),
        subnets: nw.ipam.config.map((p) => p.Subnet),
        internal: nw.internal,
        icc: nw.options[OPT.icc] !== 'false',
        masquerade: nw.options[OPT.masquerade] !== 'false',
        mode4: gatewayMode(nw, 4),
        mode6: gatewayMode(nw, 6),
      },
      hostBinding: nw.options[OPT.hostBinding] ?? '',
    };
  },
};
