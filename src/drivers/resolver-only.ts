// Where a network's resolver answers when the host has no address of its own on the network
// (docs/reference.md §14): overlays, and bridges in gateway_mode_ipv4=isolated. The subnet's
// IPv4 gateway sits on the bridge as a /32, and a rule `from GATEWAY lookup 5353` (table 5353
// holds the subnet) routes only what leaves from that address (the resolver's answers) back
// into the network; the main table keeps no route into it, so nothing else is.
import { addrAdd, addrReplace, resolverRoute, resolverRule, RESOLVER_TABLE } from '../kernel/ops.js';
import type { KernelView } from '../kernel/ip.js';
import type { Argv } from '../kernel/ops.js';
import type { IpamPool, NetworkRecord, Step } from '../model/records.js';
import { OPT } from './common.js';

export interface ResolverOnly {
  addr: string;
  subnet: string;
}

/** The first IPv4 pool's gateway among `pools`, unless `netctl.dns=false`. */
export function resolverOnly(nw: NetworkRecord, pools: IpamPool[] = nw.ipam.config): ResolverOnly | undefined {
  if (nw.options[OPT.dns] === 'false' || nw.predefined) return undefined;
  const pool = pools.find((p) => !p.Subnet.includes(':') && p.Gateway);
  return pool ? { addr: pool.Gateway, subnet: pool.Subnet } : undefined;
}

/** The address, the route and the rule, on bridge `br`. */
export const resolverOnlyCmds = (dns: ResolverOnly, br: string): Argv[] => [
  addrAdd(`${dns.addr}/32`, br),
  resolverRoute(dns.subnet, br),
  resolverRule('add', dns.addr),
];

/** Whether the kernel holds the rule that routes the resolver's answers from `addr`. */
export const hasResolverRule = async (kernel: KernelView, addr: string): Promise<boolean> =>
  (await kernel.rules()).some((r) => r.src === addr && r.table === RESOLVER_TABLE);

/** doctor's and restore's look at the address and the rule on `br`. */
export async function checkResolverOnly(
  kernel: KernelView,
  dns: ResolverOnly,
  br: string,
): Promise<{ drift: string[]; repair: Step[] }> {
  const hasAddr = ((await kernel.addrs(undefined, '-4')).get(br) ?? []).includes(`${dns.addr}/32`);
  const hasRule = await hasResolverRule(kernel, dns.addr);
  if (hasAddr && hasRule) return { drift: [], repair: [] };
  return {
    drift: [`the resolver's address ${dns.addr} on ${br} or its routing rule is missing`],
    repair: [
      {
        cmds: [
          addrReplace(`${dns.addr}/32`, br),
          resolverRoute(dns.subnet, br),
          ...(hasRule ? [] : [resolverRule('add', dns.addr)]),
        ],
        undo: [],
      },
    ],
  };
}
