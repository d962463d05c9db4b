// Pure address management: validates pool requests (SPEC §7 messages) and allocates
// addresses. Allocation is "first free in the range": the lowest address that is not the
// network or broadcast address of the subnet or of its ip-range, the gateway, an aux
// address, or held by a live endpoint.
import { bareIP, type IpamPool } from '../model/records.js';
import { ConflictError, InvalidArgumentError } from '../lib/errors.js';
import {
  type Addr, type Family, type Prefix,
  bits, contains, containsPrefix, formatIP, formatPrefix, ipv4Value, lastAddr, overlaps, parseCIDR, parseIP, subdivide,
} from '../lib/ip.js';

export interface PoolRequest {
  subnets: string[];
  gateways: string[];
  ipRanges: string[];
  auxAddresses: Record<string, string>;
}

export interface TakenPrefix {
  prefix: Prefix;
  /** Who holds it: a network name or a route's device, for the error message. */
  owner: string;
}

export interface DefaultPool {
  base: string;
  size: number;
}

/** Docker's default-address-pools. */
export const DEFAULT_POOLS: DefaultPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

export function parseSubnet(s: string): Prefix {
  const c = parseCIDR(s);
  if (!c) throw new InvalidArgumentError(`invalid subnet ${s}: expected an address and a prefix length, e.g. 10.1.0.0/16`);
  if (c.addr.value !== c.prefix.base) {
    throw new InvalidArgumentError(`invalid subnet ${s}: it should be ${formatPrefix(c.prefix)}`);
  }
  return c.prefix;
}

function matchSubnet(subnets: Prefix[], a: Addr): Prefix | undefined {
  return subnets.find((s) => contains(s, a));
}

/**
 * Turns create flags into IPAM pools, validating them in Docker's order and wording.
 * `taken` are the subnets of existing networks: a requested subnet may not overlap one.
 */
export function buildPools(req: PoolRequest, taken: TakenPrefix[]): IpamPool[] {
  if (req.subnets.length === 0 && (req.gateways.length > 0 || req.ipRanges.length > 0)) {
    throw new InvalidArgumentError('every ip-range or gateway must have a corresponding subnet');
  }
  const subnets = req.subnets.map(parseSubnet);
  subnets.forEach((s, i) => {
    subnets.slice(0, i).forEach((o) => {
      if (overlaps(s, o)) throw new ConflictError(`invalid subnet ${formatPrefix(s)}: Pool overlaps with other one on this address space (${formatPrefix(o)})`);
    });
    const hit = taken.find((t) => overlaps(t.prefix, s));
    if (hit) {
      throw new ConflictError(`Pool overlaps with other one on this address space: ${formatPrefix(s)} overlaps ${formatPrefix(hit.prefix)} of ${hit.owner}`);
    }
  });

  const gwBySubnet = new Map<Prefix, Addr>();
  for (const g of req.gateways) {
    const a = parseIP(g);
    if (!a) throw new InvalidArgumentError(`invalid gateway address ${g}`);
    const s = matchSubnet(subnets, a);
    if (!s) throw new InvalidArgumentError(`no matching subnet for gateway ${g}`);
    if (gwBySubnet.has(s)) throw new InvalidArgumentError(`cannot configure multiple gateways for subnet ${formatPrefix(s)}`);
    gwBySubnet.set(s, a);
  }
  const rangeBySubnet = new Map<Prefix, Prefix>();
  for (const r of req.ipRanges) {
    const c = parseCIDR(r);
    if (!c) throw new InvalidArgumentError(`invalid ip-range ${r}`);
    const s = subnets.find((x) => containsPrefix(x, c.prefix));
    if (!s) throw new InvalidArgumentError(`no matching subnet for range ${r}`);
    if (rangeBySubnet.has(s)) throw new InvalidArgumentError(`cannot configure multiple ranges on the same subnet ${formatPrefix(s)}`);
    rangeBySubnet.set(s, c.prefix);
  }
  const auxBySubnet = new Map<Prefix, Record<string, string>>();
  for (const [name, ip] of Object.entries(req.auxAddresses)) {
    const a = parseIP(ip);
    if (!a) throw new InvalidArgumentError(`invalid aux-address ${name}=${ip}`);
    const s = matchSubnet(subnets, a);
    if (!s) throw new InvalidArgumentError(`no matching subnet for aux-address ${ip}`);
    auxBySubnet.set(s, { ...auxBySubnet.get(s), [name]: formatIP(a) });
  }

  return subnets.map((s) => {
    const range = rangeBySubnet.get(s);
    const aux = auxBySubnet.get(s) ?? {};
    let gw = gwBySubnet.get(s);
    if (!gw) {
      const auxSet = new Set(Object.values(aux));
      const value = firstFree(s, range, (v) => auxSet.has(formatIP({ family: s.family, value: v })));
      if (value === null) throw new InvalidArgumentError(`no available address for a gateway in ${formatPrefix(range ?? s)}`);
      gw = { family: s.family, value };
    }
    const pool: IpamPool = { Subnet: formatPrefix(s), Gateway: formatIP(gw) };
    if (range) pool.IPRange = formatPrefix(range);
    if (Object.keys(aux).length) pool.AuxiliaryAddresses = aux;
    return pool;
  });
}

/** Network and (IPv4) broadcast addresses of a prefix: never handed out, nor those of an ip-range. */
function edge(p: Prefix, v: bigint): boolean {
  if (p.len >= bits(p.family) - 1) return false; // /31, /32: point-to-point, all usable
  return v === p.base || (p.family === 4 && v === lastAddr(p));
}

/** Lowest address of `range` (default: the subnet), from `from` on, that is no edge and not taken; at most `tries` looked at. */
function firstFree(s: Prefix, range: Prefix | undefined, taken: (v: bigint) => boolean, from?: bigint, tries = Infinity): bigint | null {
  const r = range ?? s;
  const last = lastAddr(r);
  for (let v = from !== undefined && from > r.base ? from : r.base; v <= last && tries-- > 0; v++) {
    if (!taken(v) && !edge(s, v) && !edge(r, v)) return v;
  }
  return null;
}

/** The first default-pool prefix that overlaps nothing taken (routes and other networks). */
export function pickDefaultPool(pools: DefaultPool[], taken: TakenPrefix[]): Prefix {
  for (const p of pools) {
    const base = parseCIDR(p.base);
    if (!base) continue;
    for (const cand of subdivide(base.prefix, p.size)) {
      if (!taken.some((t) => overlaps(t.prefix, cand))) return cand;
    }
  }
  throw new ConflictError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

export function defaultPool(pools: DefaultPool[], taken: TakenPrefix[]): IpamPool {
  const p = pickDefaultPool(pools, taken);
  const gw = firstFree(p, undefined, () => false) ?? p.base;
  return { Subnet: formatPrefix(p), Gateway: formatIP({ family: p.family, value: gw }) };
}

export interface AllocationContext {
  /** Network name, for messages. */
  network: string;
  pools: IpamPool[];
  /** Addresses held by live endpoints, as strings of the canonical form, with their holder. */
  inUse: { get(ip: string): string | undefined; keys(): Iterable<string> };
  /** Whether the subnets came from the user (Docker permits --ip only then). */
  userSubnets: boolean;
  /**
   * Per subnet, an address below which every address is held: where the search for a free
   * one starts (libnetwork keeps a bitmap per pool; netctl keeps this mark in the network
   * record). allocate() moves it past what it hands out; release() brings it back down.
   */
  next?: Record<string, string>;
}

/** Candidates looked at from the mark before falling back to reading every address in use. */
const PROBES = 4;

const familyName = (f: Family) => (f === 4 ? 'IPv4' : 'IPv6');

/** The addresses in use of one family, as numbers (they come from the store: canonical already). */
function heldValues(ctx: AllocationContext, family: Family): Set<bigint> {
  const out = new Set<bigint>();
  for (const ip of ctx.inUse.keys()) {
    const a: Addr | null = family === 4 && !ip.includes(':') ? { family: 4, value: ipv4Value(ip) } : parseIP(ip);
    if (a?.family === family) out.add(a.value);
  }
  return out;
}

/** Lowers the mark of the subnet holding `address` (addr/len) when it falls below; true if it did. */
export function release(next: Record<string, string> | undefined, pools: IpamPool[], address: string): boolean {
  const a = parseIP(bareIP(address));
  if (!a || !next) return false;
  for (const p of pools) {
    const mark = parseIP(next[p.Subnet] ?? '');
    if (mark && mark.family === a.family && contains(parseSubnet(p.Subnet), a) && a.value < mark.value) {
      next[p.Subnet] = formatIP(a);
      return true;
    }
  }
  return false;
}

/** Returns "addr/len" for a new endpoint, honouring a requested address. */
export function allocate(ctx: AllocationContext, family: Family, requested?: string): string | null {
  const pools = ctx.pools
    .map((p) => ({ pool: p, subnet: parseSubnet(p.Subnet) }))
    .filter((p) => p.subnet.family === family);
  if (requested !== undefined) {
    const a = parseIP(requested);
    if (!a || a.family !== family) throw new InvalidArgumentError(`invalid ${familyName(family)} address: ${requested}`);
    if (!ctx.userSubnets) {
      throw new InvalidArgumentError('user specified IP address is supported only when connecting to networks with user configured subnets');
    }
    const hit = pools.find((p) => contains(p.subnet, a));
    if (!hit) throw new InvalidArgumentError(`Invalid address ${requested}: It does not belong to any of this network's subnets`);
    const canon = formatIP(a);
    const holder = ctx.inUse.get(canon) ??
      (canon === hit.pool.Gateway ? 'the gateway' : undefined) ??
      (Object.values(hit.pool.AuxiliaryAddresses ?? {}).includes(canon) ? 'an aux-address' : undefined) ??
      (edge(hit.subnet, a.value) ? 'the subnet' : undefined);
    // A stopped container's kept address comes worded by the caller ("reserved by stopped container C").
    if (holder) throw new ConflictError(`Address already in use: ${canon} (${/^reserved /.test(holder) ? holder : `held by ${holder}`}) on network ${ctx.network}`);
    if (ctx.next?.[hit.pool.Subnet] === canon) ctx.next[hit.pool.Subnet] = formatIP({ family, value: a.value + 1n });
    return `${canon}/${hit.subnet.len}`;
  }
  if (pools.length === 0) return null;
  let taken: Set<bigint> | undefined;
  for (const { pool, subnet } of pools) {
    const range = pool.IPRange ? parseCIDR(pool.IPRange)?.prefix : undefined;
    const reserved = new Set([pool.Gateway, ...Object.values(pool.AuxiliaryAddresses ?? {})].map((r) => parseIP(r)?.value));
    const mark = parseIP(ctx.next?.[pool.Subnet] ?? '');
    // From the mark, a few addresses asked about one by one (each a search in the store);
    let v = mark ? firstFree(subnet, range, (x) => reserved.has(x) || ctx.inUse.get(formatIP({ family, value: x })) !== undefined, mark.value, PROBES) : null;
    // else every address in use, read once and compared as numbers.
    v ??= firstFree(subnet, range, (x) => reserved.has(x) || (taken ??= heldValues(ctx, family)).has(x));
    if (v === null) continue;
    if (ctx.next) ctx.next[pool.Subnet] = formatIP({ family, value: v + 1n });
    return `${formatIP({ family, value: v })}/${subnet.len}`;
  }
  const subnets = pools.map((p) => p.pool.Subnet).join(', ');
  throw new ConflictError(`no available ${familyName(family)} addresses on this network's address pools: ${ctx.network} (${subnets})`);
}
