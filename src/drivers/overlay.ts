// The overlay driver (docs/reference.md §10): a network of global scope whose endpoints on different hosts
// share one L2 segment over VXLAN. On each host that has an endpoint, a bridge `ov-<id>` with a
// VXLAN port `vx-<id>` (UDP 4789, the network's VNI, learning off, ARP proxy); endpoints are
// veths on that bridge, as with the bridge driver. The bridge has no address: the host has no
// route into an overlay, so isolation from every other network is by construction, not rules.
//
// Remote endpoints reach the VXLAN device as permanent FDB entries (MAC -> the VTEP of the
// peer's host) and neighbour entries (IP -> MAC, which the proxy answers ARP from), as
// libnetwork's peerAdd and flannel do. The network record, VNI and peers live in the cluster
// store; `driverState` here holds this host's part: the VTEP address, the MTU, what is programmed.
import { randomBytes } from '../lib/random.js';
import { InvalidArgumentError } from '../lib/errors.js';
import {
  bridgeAdd,
  fdbDel,
  fdbPermanent,
  linkDel,
  linkMaster,
  linkUp,
  neighDel,
  neighPermanent,
  noAddrGen,
  resolverRule,
  vethAdd,
  vxlanAdd,
} from '../kernel/ops.js';
import type { NetworkRecord, Step } from '../model/records.js';
import { ipJson } from '../kernel/ip.js';
import { containerIf, OPT, parseBool } from './common.js';
import type { Driver, Leftover, PeerEntry } from './driver.js';
import { checkResolverOnly, hasResolverRule, resolverOnly, resolverOnlyCmds } from './resolver-only.js';

export const VNI_OPT = 'com.docker.network.driver.overlay.vxlanid_list';
/** VXLAN over IPv4 adds 50 bytes: outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

const bridgeOf = (nw: NetworkRecord): string => `ov-${nw.id.slice(0, 12)}`;
const vxlanOf = (nw: NetworkRecord): string => `vx-${nw.id.slice(0, 12)}`;
const mtuOf = (nw: NetworkRecord): string => String(nw.driverState['mtu'] ?? 1450);
const OURS = /^(ov|vx)-[0-9a-f]{12}$/;

/** The bridge MAC, from the network ID as the bridge driver's: stable across `restore`. */
const bridgeMac = (nw: NetworkRecord): string => `02:${(nw.id.slice(2, 12).match(/../g) ?? []).join(':')}`;

/** Where this network's resolver answers, unless `netctl.dns=false` (resolver-only.ts). */
const dnsOf = (nw: NetworkRecord) => resolverOnly(nw);

export const overlayDriver: Driver = {
  name: 'overlay',
  plumbs: true,
  global: true,

  parseOptions(opts, name) {
    const out = { ...opts };
    for (const [k, v] of Object.entries(opts)) {
      if (k === VNI_OPT) {
        if (!/^\d{1,8}$/.test(v) || Number(v) < 1 || Number(v) > 16777215) {
          throw new InvalidArgumentError(
            `network ${name}: ${VNI_OPT} must be one VXLAN id from 1 to 16777215, not ${JSON.stringify(v)}`,
          );
        }
        out[k] = String(Number(v));
      } else if (k === OPT.dns) {
        out[k] = parseBool(k, v);
      } else if (k === OPT.ifPrefix) {
        if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,10}$/.test(v))
          throw new InvalidArgumentError(`failed to parse ${k} value: ${v}`);
      } else {
        // MTU follows the underlay; encryption (IPsec) is not something netctl does.
        throw new InvalidArgumentError(`network ${name}: option ${k} is not supported by the overlay driver`);
      }
    }
    return out;
  },

  initState: () => ({}),

  /**
   * The subnet's gateway address, on this host's bridge: every host has it, and a sandbox asks
   * its own host (ARP stays on the host: the VXLAN device answers from its neighbour entries and
   * floods nothing). IPv4 only.
   */
  dnsOnly(nw) {
    const dns = dnsOf(nw);
    return dns && { bridge: bridgeOf(nw), addr: dns.addr };
  },

  resolverAddresses: (nw) => {
    const dns = dnsOf(nw);
    return dns ? [dns.addr] : [];
  },

  /**
   * This host's part of the network, made when its first endpoint joins. With a resolver, the
   * gateway address sits on the bridge as a /32, and only packets from it (the resolver's
   * answers) find a route into the network: the host keeps no route into an overlay, so
   * nothing is forwarded into it from elsewhere (isolation stays as without the address).
   */
  createNetwork(nw) {
    const br = bridgeOf(nw);
    const vx = vxlanOf(nw);
    const mtu = mtuOf(nw);
    const local = String(nw.driverState['local'] ?? '');
    const dns = dnsOf(nw);
    return [
      {
        cmds: [
          bridgeAdd(br, bridgeMac(nw), mtu),
          noAddrGen(br),
          vxlanAdd(vx, Number(nw.driverState['vni']), local, mtu),
          noAddrGen(vx),
          linkMaster(vx, br),
          linkUp(br),
          ...(dns ? resolverOnlyCmds(dns, br) : []),
        ],
        undo: [...(dns ? [{ args: resolverRule('del', dns.addr) }] : []), { args: linkDel(vx) }, { args: linkDel(br) }],
      },
    ];
  },

  deleteNetwork(nw) {
    const dns = dnsOf(nw);
    return [
      ...(dns ? [{ args: resolverRule('del', dns.addr) }] : []),
      { args: linkDel(vxlanOf(nw)) },
      { args: linkDel(bridgeOf(nw)) },
    ];
  },

  endpointNames(nw, n) {
    return { ifName: containerIf(nw, n), hostIf: `veth${randomBytes(4).toString('hex').slice(0, 7)}` };
  },

  join(nw, ep, sb) {
    return [
      {
        cmds: [
          vethAdd(ep.hostIf, ep.ifName, ep.mac, sb.netns, mtuOf(nw)),
          noAddrGen(ep.hostIf),
          linkMaster(ep.hostIf, bridgeOf(nw)),
        ],
        undo: [{ args: linkDel(ep.hostIf) }],
      },
    ];
  },

  leave(_nw, ep) {
    return [{ args: linkDel(ep.hostIf) }];
  },

  /** Entries for remote endpoints: what `want` has and `had` lacks is added, the rest removed. */
  peers(nw, want, had) {
    const vx = vxlanOf(nw);
    const key = (p: PeerEntry) => `${p.ip} ${p.mac} ${p.vtep}`;
    const wanted = new Set(want.map(key));
    const kept = new Set(had.map(key));
    const cmds: string[][] = [];
    // A MAC's FDB entry stays while any of its addresses (IPv4, IPv6) is still wanted there.
    const fdbKept = new Set(want.map((p) => `${p.mac} ${p.vtep}`));
    const fdbGone = new Set<string>();
    for (const p of had) {
      if (wanted.has(key(p))) continue;
      // A half entry (an FDB entry without its neighbour, or the other way round) is deleted as it is.
      if (p.ip) cmds.push(neighDel(p.ip, vx));
      const fdb = `${p.mac} ${p.vtep}`;
      if (p.vtep && !fdbKept.has(fdb) && !fdbGone.has(fdb)) {
        fdbGone.add(fdb);
        cmds.push(fdbDel(p.mac, vx, p.vtep));
      }
    }
    for (const p of want) {
      if (kept.has(key(p))) continue;
      cmds.push(fdbPermanent(p.mac, vx, p.vtep), neighPermanent(p.ip, p.mac, vx));
    }
    return cmds;
  },

  /**
   * The permanent FDB and neighbour entries of the VXLAN device; an entry missing its other half comes with an empty
   * side.
   */
  async readPeers(kernel, nw) {
    const dev = vxlanOf(nw);
    const [fdb, neigh] = await Promise.all([
      kernel.runner
        .run('bridge', ['-j', 'fdb', 'show', 'dev', dev])
        .then((r) => (r.exitCode === 0 ? (JSON.parse(r.stdout || '[]') as Array<{ mac: string; dst?: string }>) : [])),
      ipJson<Array<{ dst: string; lladdr?: string }>>(kernel.runner, undefined, ['neigh', 'show', 'dev', dev]).catch(
        () => [],
      ),
    ]);
    // A MAC may have two neighbour entries (its IPv4 and its IPv6 address).
    const ipsOf = new Map<string, string[]>();
    for (const n of neigh) if (n.lladdr) ipsOf.set(n.lladdr, [...(ipsOf.get(n.lladdr) ?? []), n.dst]);
    const out: PeerEntry[] = [];
    for (const f of fdb) {
      if (!f.dst || f.mac === '00:00:00:00:00:00') continue;
      for (const ip of ipsOf.get(f.mac) ?? ['']) out.push({ ip, mac: f.mac, vtep: f.dst });
      ipsOf.delete(f.mac);
    }
    for (const [mac, ips] of ipsOf) for (const ip of ips) out.push({ ip, mac, vtep: '' });
    return out;
  },

  async checkNetwork({ kernel }, nw) {
    const links = await kernel.links();
    const br = links.get(bridgeOf(nw));
    const vx = links.get(vxlanOf(nw));
    if (!br || !vx) {
      const missing = [!br ? `bridge ${bridgeOf(nw)}` : '', !vx ? `vxlan ${vxlanOf(nw)}` : ''].filter(Boolean);
      // The resolver's rule outlives the devices: made again, it would exist twice.
      const dns = dnsOf(nw);
      const rule = dns && (await hasResolverRule(kernel, dns.addr));
      return {
        drift: missing.map((m) => `${m} is missing`),
        // Made again whole: a bridge without its VXLAN port (or the other way round) is deleted first.
        repair: [
          {
            cmds: [
              ...(br ? [linkDel(bridgeOf(nw))] : []),
              ...(vx ? [linkDel(vxlanOf(nw))] : []),
              ...(rule && dns ? [resolverRule('del', dns.addr)] : []),
            ],
            undo: [],
          },
          ...this.createNetwork(nw),
        ],
        repaired: [`overlay devices of network ${nw.name}`],
      };
    }
    const drift: string[] = [];
    if (vx.master !== bridgeOf(nw)) drift.push(`vxlan ${vxlanOf(nw)} is not attached to ${bridgeOf(nw)}`);
    if (!(br.flags ?? []).includes('UP')) drift.push(`bridge ${bridgeOf(nw)} is down`);
    const repair: Step[] = drift.length
      ? [{ cmds: [linkMaster(vxlanOf(nw), bridgeOf(nw)), linkUp(bridgeOf(nw))], undo: [] }]
      : [];
    const dns = dnsOf(nw);
    if (dns) {
      const c = await checkResolverOnly(kernel, dns, bridgeOf(nw));
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
    if (host.master === bridgeOf(nw)) return { drift: [], repair: [], repaired: [], missing: false };
    return {
      drift: [`veth ${ep.hostIf} is not attached to ${bridgeOf(nw)}`],
      repair: [{ cmds: [linkMaster(ep.hostIf, bridgeOf(nw))], undo: [] }],
      repaired: [`${ep.hostIf} re-attached to ${bridgeOf(nw)}`],
      missing: false,
    };
  },

  async leftovers({ tx, kernel }) {
    const mine = new Set(
      tx
        .list('networks')
        .filter((n) => n.driver === 'overlay' && n.driverState['ready'])
        .flatMap((n) => [bridgeOf(n), vxlanOf(n)]),
    );
    const out: Leftover[] = [];
    for (const name of (await kernel.links()).keys()) {
      if (OURS.test(name) && !mine.has(name))
        out.push({ dev: name, what: `overlay device ${name} (no network has it here)` });
    }
    return out;
  },

  shownOptions(nw) {
    return { [VNI_OPT]: String(nw.driverState['vni'] ?? '') };
  },
};
