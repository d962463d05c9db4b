// Pure address management: validates pool requests (docs/reference.md §7 messages) and allocates
// addresses. Allocation is "first free in the range": the lowest address that is not the
// network or broadcast address of the subnet or of its ip-range, the gateway, an aux
// address, or held by a live endpoint.
import { bareIP, type IpamPool } from '../model/records.js';
import { ConflictError, InvalidArgumentError } from '../lib/errors.js';
import { printable } from '../lib/validate.js';
import {
  type Addr,
  type Family,
  type Prefix,
  bits,
  contains,
  containsPrefix,
  formatIP,
  formatPrefix,
  ipv4Value,
  lastAddr,
  overlaps,
  parseCIDR,
  parseIP,
  specialBlock,
} from '../lib/ip.js';

export interface PoolRequest {
  subnets: string[];
  gateways: string[];
  ipRanges: string[];
  auxAddresses: Record<string, string>;
  /** --ipam-opt; `link-local=true` lets a subnet lie in 169.254.0.0/16. */
  ipamOptions?: Record<string, string>;
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
  if (!c)
    throw new InvalidArgumentError(
      `invalid subnet ${printable(s)}: expected an address and a prefix length, e.g. 10.1.0.0/16`,
    );
  if (c.addr.value !== c.prefix.base) {
    throw new InvalidArgumentError(`invalid subnet ${s}: it should be ${formatPrefix(c.prefix)}`);
  }
  return c.prefix;
}

/** `--ipam-opt link-local=true|false` (default false). */
export function linkLocalAllowed(opts: Record<string, string> | undefined): boolean {
  const v = opts?.['link-local'];
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new InvalidArgumentError(`invalid ipam-opt link-local=${printable(v)}: expected true or false`);
}

const LINK_LOCAL_HINT = 'a link-local subnet (169.254.0.0/16) needs --ipam-opt link-local=true';

/** Refuses a prefix in or around a special-purpose block, naming the block. */
function checkSpecial(what: string, p: Prefix, allowLinkLocal: boolean): void {
  const block = specialBlock(p, allowLinkLocal);
  if (!block) return;
  const hint =
    !allowLinkLocal && block.startsWith('169.254.') && specialBlock(p, true) === null ? LINK_LOCAL_HINT : undefined;
  throw new InvalidArgumentError(`invalid ${what}: it overlaps the special-purpose block ${block}`, hint);
}

/** The network or broadcast address of an IPv4 subnet (both usable on a /31 or /32), as a word. */
function edgeName(s: Prefix, a: Addr): string | null {
  if (s.family !== 4 || !edge(s, a.value)) return null;
  return a.value === s.base ? 'network' : 'broadcast';
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
  const allowLL = linkLocalAllowed(req.ipamOptions);
  const subnets = req.subnets.map((x) => {
    const p = parseSubnet(x);
    checkSpecial(`subnet ${x}`, p, allowLL);
    return p;
  });
  subnets.forEach((s, i) => {
    subnets.slice(0, i).forEach((o) => {
      if (overlaps(s, o))
        throw new ConflictError(
          `invalid subnet ${formatPrefix(s)}: Pool overlaps with other one on this address space (${formatPrefix(o)})`,
        );
    });
    const hit = taken.find((t) => overlaps(t.prefix, s));
    if (hit) {
      throw new ConflictError(
        `Pool overlaps with other one on this address space: ${formatPrefix(s)} overlaps ${formatPrefix(hit.prefix)} ` +
          `of ${hit.owner}`,
      );
    }
  });

  const gwBySubnet = new Map<Prefix, Addr>();
  for (const g of req.gateways) {
    const a = parseIP(g);
    if (!a) throw new InvalidArgumentError(`invalid gateway address ${printable(g)}`);
    checkSpecial(`gateway ${g}`, hostPrefix(a), allowLL);
    const s = matchSubnet(subnets, a);
    if (!s) throw new InvalidArgumentError(`no matching subnet for gateway ${g}`);
    const e = edgeName(s, a);
    if (e) throw new InvalidArgumentError(`invalid gateway ${g}: it is the ${e} address of subnet ${formatPrefix(s)}`);
    if (gwBySubnet.has(s))
      throw new InvalidArgumentError(`cannot configure multiple gateways for subnet ${formatPrefix(s)}`);
    gwBySubnet.set(s, a);
  }
  const rangeBySubnet = new Map<Prefix, Prefix>();
  for (const r of req.ipRanges) {
    const c = parseCIDR(r);
    if (!c) throw new InvalidArgumentError(`invalid ip-range ${printable(r)}`);
    checkSpecial(`ip-range ${r}`, c.prefix, allowLL);
    const s = subnets.find((x) => containsPrefix(x, c.prefix));
    if (!s) throw new InvalidArgumentError(`no matching subnet for range ${r}`);
    if (rangeBySubnet.has(s))
      throw new InvalidArgumentError(`cannot configure multiple ranges on the same subnet ${formatPrefix(s)}`);
    rangeBySubnet.set(s, c.prefix);
  }
  const auxBySubnet = new Map<Prefix, Record<string, string>>();
  for (const [name, ip] of Object.entries(req.auxAddresses)) {
    const a = parseIP(ip);
    if (!a) throw new InvalidArgumentError(`invalid aux-address ${printable(name)}=${printable(ip)}`);
    checkSpecial(`aux-address ${name}=${ip}`, hostPrefix(a), allowLL);
    const s = matchSubnet(subnets, a);
    if (!s) throw new InvalidArgumentError(`no matching subnet for aux-address ${ip}`);
    const e = edgeName(s, a);
    if (e)
      throw new InvalidArgumentError(
        `invalid aux-address ${name}=${ip}: it is the ${e} address of subnet ${formatPrefix(s)}`,
      );
    auxBySubnet.set(s, { ...auxBySubnet.get(s), [name]: formatIP(a) });
  }

  return subnets.map((s) => {
    const range = rangeBySubnet.get(s);
    const aux = auxBySubnet.get(s) ?? {};
    let gw = gwBySubnet.get(s);
    if (!gw) {
      const auxSet = new Set(Object.values(aux));
      const value = firstFree(s, range, (v) => auxSet.has(formatIP({ family: s.family, value: v })));
      if (value === null)
        throw new InvalidArgumentError(`no available address for a gateway in ${formatPrefix(range ?? s)}`);
      gw = { family: s.family, value };
    }
    const pool: IpamPool = { Subnet: formatPrefix(s), Gateway: formatIP(gw) };
    if (range) pool.IPRange = formatPrefix(range);
    if (Object.keys(aux).length) pool.AuxiliaryAddresses = aux;
    return pool;
  });
}

/** Network and (IPv4) broadcast addresses of a prefix: never handed out, nor those of an ip-range. */
const hostPrefix = (a: Addr): Prefix => ({ family: a.family, base: a.value, len: bits(a.family) });

function edge(p: Prefix, v: bigint): boolean {
  if (p.len >= bits(p.family) - 1) return false; // /31, /32: point-to-point, all usable
  return v === p.base || (p.family === 4 && v === lastAddr(p));
}

/**
 * Lowest address of `range` (default: the subnet), from `from` on, that is no edge and not taken; at most `tries`
 * looked at.
 */
function firstFree(
  s: Prefix,
  range: Prefix | undefined,
  taken: (v: bigint) => boolean,
  from?: bigint,
  tries = Infinity,
): bigint | null {
  const r = range ?? s;
  const last = lastAddr(r);
  for (let v = from !== undefined && from > r.base ? from : r.base; v <= last && tries-- > 0; v++) {
    if (!taken(v) && !edge(s, v) && !edge(r, v)) return v;
  }
  return null;
}

/**
 * The first IPv4 default-pool prefix that overlaps nothing taken (routes and other networks).
 * A candidate that is taken skips to the end of what holds it, so a big pool behind a big
 * route costs one step, not one per candidate.
 */
export function pickDefaultPool(pools: DefaultPool[], taken: TakenPrefix[]): Prefix {
  for (const p of pools) {
    const pool = parseCIDR(p.base)?.prefix;
    if (!pool || pool.family !== 4 || !Number.isInteger(p.size) || p.size < pool.len || p.size > bits(4)) continue;
    const last = lastAddr(pool);
    for (let b = pool.base; b <= last;) {
      const cand: Prefix = { family: 4, base: b, len: p.size };
      const hit = taken.find((t) => overlaps(t.prefix, cand));
      if (!hit) return cand;
      const end = lastAddr(hit.prefix) > lastAddr(cand) ? lastAddr(hit.prefix) : lastAddr(cand);
      b = end + 1n;
    }
  }
  throw new ConflictError(
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
  );
}

/**
 * default-address-pools from config.json, checked as --subnet is: a CIDR without host bits,
 * outside every special-purpose block, split into prefixes that leave room for a gateway and
 * an address. IPv6 pools pass the same checks; netctl's default pools are IPv4, so they are unused.
 */
export function checkDefaultPools(v: unknown, file: string): DefaultPool[] {
  const bad = (m: string): never => {
    throw new InvalidArgumentError(`invalid default-address-pools in ${file}: ${m}`);
  };
  if (!Array.isArray(v)) bad('expected a list of {"base": CIDR, "size": N}');
  return (v as unknown[]).map((x, i) => {
    const o = x as Partial<DefaultPool> | null;
    if (!o || typeof o !== 'object' || typeof o.base !== 'string' || typeof o.size !== 'number') {
      return bad(`pool ${i}: expected {"base": CIDR, "size": N}`);
    }
    let p: Prefix;
    try {
      p = parseSubnet(o.base);
      checkSpecial(`base ${o.base}`, p, false);
    } catch (e) {
      return bad(`pool ${i}: ${(e as Error).message}`);
    }
    const max = bits(p.family) - 2;
    if (!Number.isInteger(o.size) || o.size < p.len || o.size > max) {
      bad(`pool ${i}: size ${o.size} must be an integer from ${p.len} (the base's length) to ${max}`);
    }
    return { base: o.base, size: o.size };
  });
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
    if (!a || a.family !== family)
      throw new InvalidArgumentError(`invalid ${familyName(family)} address: ${requested}`);
    if (!ctx.userSubnets) {
      throw new InvalidArgumentError(
        'user specified IP address is supported only when connecting to networks with user configured subnets',
      );
    }
    const hit = pools.find((p) => contains(p.subnet, a));
    if (!hit)
      throw new InvalidArgumentError(
        `Invalid address ${requested}: It does not belong to any of this network's subnets`,
      );
    const canon = formatIP(a);
    const e = edgeName(hit.subnet, a);
    if (e)
      throw new InvalidArgumentError(
        `Invalid address ${canon}: it is the ${e} address of subnet ${hit.pool.Subnet} on network ${ctx.network}`,
      );
    const holder =
      ctx.inUse.get(canon) ??
      (canon === hit.pool.Gateway ? 'the gateway' : undefined) ??
      (Object.values(hit.pool.AuxiliaryAddresses ?? {}).includes(canon) ? 'an aux-address' : undefined) ??
      (edge(hit.subnet, a.value) ? 'the subnet' : undefined);
    // A stopped container's kept address comes worded by the caller ("reserved by stopped container C").
    if (holder)
      throw new ConflictError(
        `Address already in use: ${canon} (${/^reserved /.test(holder) ? holder : `held by ${holder}`}) on network ` +
          `${ctx.network}`,
      );
    if (ctx.next?.[hit.pool.Subnet] === canon) ctx.next[hit.pool.Subnet] = formatIP({ family, value: a.value + 1n });
    return `${canon}/${hit.subnet.len}`;
  }
  if (pools.length === 0) return null;
  let taken: Set<bigint> | undefined;
  for (const { pool, subnet } of pools) {
    const range = pool.IPRange ? parseCIDR(pool.IPRange)?.prefix : undefined;
    const reserved = new Set(
      [pool.Gateway, ...Object.values(pool.AuxiliaryAddresses ?? {})].map((r) => parseIP(r)?.value),
    );
    const mark = parseIP(ctx.next?.[pool.Subnet] ?? '');
    // From the mark, a few addresses asked about one by one (each a search in the store);
    let v = mark
      ? firstFree(
          subnet,
          range,
          (x) => reserved.has(x) || ctx.inUse.get(formatIP({ family, value: x })) !== undefined,
          mark.value,
          PROBES,
        )
      : null;
    // else every address in use, read once and compared as numbers.
    v ??= firstFree(subnet, range, (x) => reserved.has(x) || (taken ??= heldValues(ctx, family)).has(x));
    if (v === null) continue;
    if (ctx.next) ctx.next[pool.Subnet] = formatIP({ family, value: v + 1n });
    return `${formatIP({ family, value: v })}/${subnet.len}`;
  }
  const subnets = pools.map((p) => p.pool.Subnet).join(', ');
  throw new ConflictError(
    `no available ${familyName(family)} addresses on this network's address pools: ${ctx.network} (${subnets})`,
  );
}
