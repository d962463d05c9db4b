// How full a subnet is, as Docker 29's `Status.IPAM.Subnets` reports it: IPsInUse counts the
// subnet's addresses that are held or reserved (network and broadcast address, gateway, aux
// addresses, endpoints, stopped sandboxes' kept addresses); DynamicIPsAvailable counts what
// allocate() could still hand out from the ip-range (the subnet without one). Both saturate
// at 2^64 - 1 as Docker's uint64 does. Pure: the caller says which addresses are held.
import type { IpamPool } from '../model/records.js';
import { bits, contains, lastAddr, parseCIDR, parseIP, prefixSize, type Prefix } from '../lib/ip.js';
import { parseSubnet } from './ipam.js';

export interface SubnetUsage {
  IPsInUse: bigint;
  DynamicIPsAvailable: bigint;
}

const MAX = (1n << 64n) - 1n;
const sat = (v: bigint): bigint => (v > MAX ? MAX : v < 0n ? 0n : v);

/** Network and (IPv4) broadcast address, which allocate() never hands out (none for /31, /32, /127, /128). */
function edges(p: Prefix): bigint[] {
  if (p.len >= bits(p.family) - 1) return [];
  return p.family === 4 ? [p.base, lastAddr(p)] : [p.base];
}

/** `held`: bare addresses of the network's endpoints and reservations (any subnet; others are ignored). */
export function subnetUsage(pool: IpamPool, held: Iterable<string>): SubnetUsage {
  const s = parseSubnet(pool.Subnet);
  const r = (pool.IPRange ? parseCIDR(pool.IPRange)?.prefix : undefined) ?? s;
  const used = new Set<bigint>(edges(s));
  for (const ip of [pool.Gateway, ...Object.values(pool.AuxiliaryAddresses ?? {}), ...held]) {
    const a = parseIP(ip);
    if (a && contains(s, a)) used.add(a.value);
  }
  const blocked = new Set([...used, ...edges(r)].filter((v) => v >= r.base && v <= lastAddr(r)));
  return { IPsInUse: sat(BigInt(used.size)), DynamicIPsAvailable: sat(prefixSize(r) - BigInt(blocked.size)) };
}
