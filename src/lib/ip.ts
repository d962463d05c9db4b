// Family-agnostic IP arithmetic on bigint. Pure: no I/O, so IPAM and validation are unit-testable.

export type Family = 4 | 6;

export interface Addr {
  family: Family;
  value: bigint;
}

export interface Prefix {
  family: Family;
  /** Network address (host bits zero). */
  base: bigint;
  len: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export const bits = (f: Family): number => BITS[f];

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseIPv4(s: string): Addr | null {
  return V4.test(s) ? { family: 4, value: ipv4Value(s) } : null;
}

/** A dotted quad's value as a plain number (no BigInt: a view counts every address in use), or null. */
export function ipv4Number(s: string): number | null {
  if (!V4.test(s)) return null;
  const [a = 0, b = 0, c = 0, d = 0] = s.split('.').map(Number);
  return a * 16777216 + b * 65536 + c * 256 + d;
}

/** The value of a dotted quad known to be well formed (one BigInt: IPAM reads every address in use). */
export function ipv4Value(s: string): bigint {
  const [a = 0, b = 0, c = 0, d = 0] = s.split('.').map(Number);
  return BigInt(a * 16777216 + b * 65536 + c * 256 + d);
}

export function parseIPv6(s: string): Addr | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length > 45) return null;
  let tail4: bigint | null = null;
  let str = s;
  // An embedded dotted quad (::ffff:1.2.3.4) counts as the last two groups.
  const lastColon = str.lastIndexOf(':');
  if (str.includes('.')) {
    const v4 = parseIPv4(str.slice(lastColon + 1));
    if (!v4) return null;
    tail4 = v4.value;
    str = str.slice(0, lastColon + 1) + '0:0';
  }
  const halves = str.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tail4 !== null) v = (v & ~0xffffffffn) | tail4;
  return { family: 6, value: v };
}

export function parseIP(s: string): Addr | null {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

export function formatIP(a: Addr): string {
  if (a.family === 4) {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>=2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const mask = (f: Family, len: number): bigint => {
  const b = BigInt(bits(f));
  return ((1n << b) - 1n) ^ ((1n << (b - BigInt(len))) - 1n);
};

/** Parses "addr/len"; `prefix` is the masked network, `addr` what was written (callers decide if host bits matter). */
export function parseCIDR(s: string): { addr: Addr; prefix: Prefix } | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const addr = parseIP(s.slice(0, slash));
  const lenStr = s.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(lenStr)) return null;
  const len = Number(lenStr);
  if (len > bits(addr.family)) return null;
  return { addr, prefix: { family: addr.family, base: addr.value & mask(addr.family, len), len } };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIP({ family: p.family, value: p.base })}/${p.len}`;
}

export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(bits(p.family) - p.len);
}

export function lastAddr(p: Prefix): bigint {
  return p.base + prefixSize(p) - 1n;
}

export function contains(p: Prefix, a: Addr): boolean {
  return p.family === a.family && a.value >= p.base && a.value <= lastAddr(p);
}

export function containsPrefix(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    outer.len <= inner.len &&
    inner.base >= outer.base &&
    lastAddr(inner) <= lastAddr(outer)
  );
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.base <= lastAddr(b) && b.base <= lastAddr(a);
}

/** Splits `pool` into consecutive prefixes of length `size` (Docker's default-address-pools). */
export function* subdivide(pool: Prefix, size: number): Generator<Prefix> {
  if (size < pool.len) return;
  const step = 1n << BigInt(bits(pool.family) - size);
  for (let b = pool.base; b <= lastAddr(pool); b += step) yield { family: pool.family, base: b, len: size };
}

export const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Docker's generated MAC: 02:42 followed by the four IPv4 bytes. */
/** A locally administered MAC from an IPv6 address's last four bytes (`salt` varies the third byte). */
export function macFromIPv6(a: Addr, salt = 0): string {
  const bytes = [24n, 16n, 8n, 0n].map((sh) =>
    Number((a.value >> sh) & 0xffn)
      .toString(16)
      .padStart(2, '0'),
  );
  return `02:${(0x42 ^ (salt & 0xff)).toString(16).padStart(2, '0')}:${bytes.join(':')}`;
}

export function macFromIPv4(a: Addr): string {
  const bytes = [24n, 16n, 8n, 0n].map((sh) =>
    Number((a.value >> sh) & 0xffn)
      .toString(16)
      .padStart(2, '0'),
  );
  return `02:42:${bytes.join(':')}`;
}

/**
 * Special-purpose blocks (RFC 6890) that cannot carry a container network: putting one of
 * them on a bridge fights the host's own use of it (the loopback's local route, multicast,
 * the kernel's per-link fe80::/64). `linkLocal` marks 169.254.0.0/16, which a user may ask for.
 */
export const SPECIAL_BLOCKS: ReadonlyArray<{ cidr: string; what: string; prefix: Prefix; linkLocal?: true }> = [
  // Prefixes written out, not parsed: the IPv6 parser's first run cost `connect --ip` ~0.7 ms (a test holds them to the
  // CIDRs).
  { cidr: '0.0.0.0/8', what: '"this network"', prefix: { family: 4, base: 0n, len: 8 } },
  { cidr: '127.0.0.0/8', what: 'loopback', prefix: { family: 4, base: 0x7f000000n, len: 8 } },
  { cidr: '169.254.0.0/16', what: 'link-local', linkLocal: true, prefix: { family: 4, base: 0xa9fe0000n, len: 16 } },
  { cidr: '224.0.0.0/4', what: 'multicast', prefix: { family: 4, base: 0xe0000000n, len: 4 } },
  { cidr: '240.0.0.0/4', what: 'reserved', prefix: { family: 4, base: 0xf0000000n, len: 4 } },
  { cidr: '::/128', what: 'unspecified', prefix: { family: 6, base: 0n, len: 128 } },
  { cidr: '::1/128', what: 'loopback', prefix: { family: 6, base: 1n, len: 128 } },
  { cidr: 'fe80::/10', what: 'link-local', prefix: { family: 6, base: 0xfe80n << 112n, len: 10 } },
  { cidr: 'ff00::/8', what: 'multicast', prefix: { family: 6, base: 0xff00n << 112n, len: 8 } },
];

const specials = () => SPECIAL_BLOCKS;

/**
 * The special-purpose block `p` lies in or contains, as "127.0.0.0/8 (loopback)", or null.
 * With `allowLinkLocal`, a prefix inside 169.254.0.0/16 passes (one that contains it does not).
 */
export function specialBlock(p: Prefix, allowLinkLocal = false): string | null {
  for (const b of specials()) {
    if (!overlaps(b.prefix, p)) continue;
    if (allowLinkLocal && b.linkLocal && containsPrefix(b.prefix, p)) continue;
    return `${b.cidr} (${b.what})`;
  }
  return null;
}

/** The same for one address. */
export const specialAddress = (a: Addr, allowLinkLocal = false): string | null =>
  specialBlock({ family: a.family, base: a.value, len: bits(a.family) }, allowLinkLocal);
