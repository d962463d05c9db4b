// IPAM by property (issue 18): CIDR arithmetic against a reference written with plain BigInt
// shifts, the special-purpose blocks against their own list, and allocation against a brute
// force search of the subnet: never the network, broadcast, gateway, an aux or a taken address,
// always the lowest free one, also after releases.
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NetctlError } from '../../src/lib/errors.js';
import {
  type Addr,
  type Family,
  type Prefix,
  contains,
  containsPrefix,
  formatIP,
  formatPrefix,
  overlaps,
  parseCIDR,
  parseIP,
  specialBlock,
} from '../../src/lib/ip.js';
import { allocate, buildPools, release } from '../../src/ipam/ipam.js';
import { check, fromVocab } from '../helpers/prop.js';

const W = (f: Family) => (f === 4 ? 32 : 128);
const value = (f: Family) => fc.bigInt({ min: 0n, max: (1n << BigInt(W(f))) - 1n });
/** Host bits cleared by shifting, not by the mask the code uses. */
const net = (f: Family, v: bigint, len: number) => (v >> BigInt(W(f) - len)) << BigInt(W(f) - len);
const prefixArb = fc
  .constantFrom<Family>(4, 6)
  .chain((f) =>
    fc
      .tuple(value(f), fc.integer({ min: 0, max: W(f) }))
      .map(([v, len]): Prefix => ({ family: f, base: net(f, v, len), len })),
  );
const refIn = (p: Prefix, a: Addr) => p.family === a.family && net(p.family, a.value, p.len) === p.base;

describe('CIDR arithmetic agrees with a BigInt reference', () => {
  it('contains, containsPrefix, overlaps; format and parse round-trip', () => {
    check(
      fc.property(prefixArb, prefixArb, value(4), value(6), (p, q, v4, v6) => {
        for (const a of [
          { family: 4 as const, value: v4 },
          { family: 6 as const, value: v6 },
          { family: p.family, value: p.base },
        ]) {
          assert.equal(contains(p, a), refIn(p, a));
          assert.deepEqual(parseIP(formatIP(a)), a);
        }
        const qInP = p.family === q.family && q.len >= p.len && net(p.family, q.base, p.len) === p.base;
        const pInQ = p.family === q.family && p.len >= q.len && net(q.family, p.base, q.len) === q.base;
        assert.equal(containsPrefix(p, q), qInP);
        assert.equal(overlaps(p, q), qInP || pInQ); // prefixes nest or are disjoint
        assert.deepEqual(parseCIDR(formatPrefix(p))?.prefix, p);
      }),
      4000,
    );
  });

  it('parseIP accepts exactly what node:net accepts (no zones)', () => {
    const vocab = ['1', '0', '255', '256', '01', '.', ':', '::', 'ff', 'FFFF', 'g', '1.2.3.4', '%', ' ', '12345', 'a'];
    const input = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fromVocab(vocab, 12));
    check(
      fc.property(input, (s) => {
        const want = s.includes('%') ? 0 : isIP(s);
        const got = parseIP(s);
        assert.equal(got === null ? 0 : got.family, want, s);
      }),
      4000,
    );
  });

  it('special-purpose blocks: refused exactly when the prefix meets one of the listed blocks', () => {
    const blocks: Array<[Family, string, number]> = [
      [4, '0.0.0.0', 8],
      [4, '127.0.0.0', 8],
      [4, '169.254.0.0', 16],
      [4, '224.0.0.0', 4],
      [4, '240.0.0.0', 4],
      [6, '::', 128],
      [6, '::1', 128],
      [6, 'fe80::', 10],
      [6, 'ff00::', 8],
    ];
    const ref = blocks.map(([f, ip, len]) => ({ family: f, base: parseIP(ip)?.value ?? 0n, len }));
    // Near the blocks as well as anywhere: a random base rarely lands in fe80::/10.
    const near = fc
      .tuple(fc.constantFrom(...ref), fc.bigInt({ min: 0n, max: (1n << 20n) - 1n }), fc.integer({ min: 0, max: 128 }))
      .map(([b, off, len]): Prefix => {
        const l = Math.min(len, W(b.family));
        return { family: b.family, base: net(b.family, b.base + off, l), len: l };
      });
    check(
      fc.property(fc.oneof(prefixArb, near), fc.boolean(), (p, ll) => {
        const meets = ref.filter(
          (b) =>
            b.family === p.family &&
            (refIn(b, { family: p.family, value: p.base }) || refIn(p, { family: b.family, value: b.base })),
        );
        const allowed = meets.filter((b) => !(ll && b.len === 16 && b.base === ref[2]?.base && p.len >= 16));
        assert.equal(specialBlock(p, ll) !== null, allowed.length > 0, formatPrefix(p));
        // and buildPools refuses it with the block named
        if (allowed.length > 0) {
          assert.throws(
            () =>
              buildPools(
                {
                  subnets: [formatPrefix(p)],
                  gateways: [],
                  ipRanges: [],
                  auxAddresses: {},
                  ipamOptions: { 'link-local': String(ll) },
                },
                [],
              ),
            (e: Error) => e instanceof NetctlError && /special-purpose block/.test(e.message),
          );
        }
      }),
      4000,
    );
  });
});

/** A small network: a subnet of 4 to 64 addresses, maybe a range, a gateway, aux addresses and endpoints. */
const network = fc.constantFrom<Family>(4, 6).chain((f) => {
  const base = f === 4 ? 0x0a000000n : 0xfd000000000000000000000000000000n;
  return fc
    .record({
      f: fc.constant(f),
      len: fc.integer({ min: W(f) - 6, max: W(f) - 2 }),
      at: fc.bigInt({ min: 0n, max: 1000n }),
      range: fc.option(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.bigInt({ min: 0n, max: 63n })), { nil: undefined }),
      gw: fc.option(fc.bigInt({ min: 0n, max: 63n }), { nil: undefined }),
      aux: fc.array(fc.bigInt({ min: 0n, max: 63n }), { maxLength: 4 }),
      taken: fc.array(fc.bigInt({ min: 0n, max: 63n }), { maxLength: 40 }),
    })
    .map((r) => {
      const size = 1n << BigInt(W(f) - r.len);
      const sub: Prefix = { family: f, base: base + r.at * 64n, len: r.len };
      const ip = (off: bigint) => formatIP({ family: f, value: sub.base + (off % size) });
      const rlen = r.range ? Math.max(r.len, W(f) - r.range[0]) : 0;
      const range = r.range
        ? formatPrefix({ family: f, base: net(f, sub.base + (r.range[1] % size), rlen), len: rlen })
        : undefined;
      return {
        f,
        sub,
        size,
        range,
        gw: r.gw === undefined ? undefined : ip(r.gw),
        aux: Object.fromEntries(r.aux.map((a, i) => [`a${i}`, ip(a)])),
        taken: [...new Set(r.taken.map(ip))],
      };
    });
});

type Net = typeof network extends fc.Arbitrary<infer T> ? T : never;

function poolsOf(n: Net) {
  try {
    return buildPools(
      {
        subnets: [formatPrefix(n.sub)],
        gateways: n.gw ? [n.gw] : [],
        ipRanges: n.range ? [n.range] : [],
        auxAddresses: n.aux,
      },
      [],
    );
  } catch (e) {
    if (!(e instanceof NetctlError)) throw e;
    return null; // a gateway on an edge, an aux on the gateway...: refused cleanly, nothing to allocate from
  }
}

/** What may be handed out, by brute force over the subnet, lowest first. */
function free(n: Net, gateway: string, held: Set<string>): string[] {
  const out: string[] = [];
  const r = n.range ? parseCIDR(n.range)?.prefix : undefined;
  const last = n.sub.base + n.size - 1n;
  const edges = (p: Prefix) => {
    const end = p.base + (1n << BigInt(W(p.family) - p.len)) - 1n;
    return p.len >= W(p.family) - 1 ? [] : p.family === 4 ? [p.base, end] : [p.base];
  };
  const banned = new Set([...edges(n.sub), ...(r ? edges(r) : [])]);
  for (let v = n.sub.base; v <= last; v++) {
    const s = formatIP({ family: n.f, value: v });
    if (r && !refIn(r, { family: n.f, value: v })) continue;
    if (banned.has(v) || s === gateway || Object.values(n.aux).includes(s) || held.has(s)) continue;
    out.push(s);
  }
  return out;
}

describe('IPAM allocation by property', () => {
  it(
    'hands out the lowest address that is not network, broadcast, gateway, aux or taken; ' +
      'refuses only when none is left',
    () => {
      check(
        fc.property(network, (n) => {
          const pools = poolsOf(n);
          if (!pools) return;
          const pool = pools[0] as NonNullable<typeof pools>[number];
          const inUse = new Map(n.taken.map((t) => [t, 'container x']));
          const expect = free(n, pool.Gateway, new Set(n.taken));
          const got = (() => {
            try {
              return allocate({ network: 'n', pools, inUse, userSubnets: true }, n.f);
            } catch (e) {
              assert.match((e as Error).message, /no available IPv[46] addresses/);
              return null;
            }
          })();
          assert.equal(got === null ? null : got.split('/')[0], expect[0] ?? null);
          if (got) assert.equal(got.split('/')[1], String(n.sub.len));
        }),
        3000,
      );
    },
  );

  it('allocate and release in any order, with the mark, stays the lowest free address', () => {
    const ops = fc.array(fc.oneof(fc.constant<'alloc'>('alloc'), fc.nat(63)), { minLength: 1, maxLength: 60 });
    check(
      fc.property(network, ops, (n, steps) => {
        const pools = poolsOf(n);
        if (!pools) return;
        const pool = pools[0] as NonNullable<typeof pools>[number];
        const inUse = new Map<string, string>();
        const next: Record<string, string> = {};
        for (const op of steps) {
          if (op === 'alloc') {
            const expect = free(n, pool.Gateway, new Set(inUse.keys()))[0] ?? null;
            let got: string | null = null;
            try {
              got = allocate({ network: 'n', pools, inUse, userSubnets: true, next }, n.f);
            } catch (e) {
              if (!(e instanceof NetctlError)) throw e;
            }
            assert.equal(got?.split('/')[0] ?? null, expect);
            if (got) inUse.set(got.split('/')[0] ?? '', 'x');
          } else {
            const held = [...inUse.keys()];
            const ip = held[op % Math.max(1, held.length)];
            if (ip === undefined) continue;
            inUse.delete(ip);
            release(next, pools, `${ip}/${n.sub.len}`);
          }
        }
      }),
      1500,
    );
  });

  it('a requested address is handed out exactly when the search would allow it, else refused cleanly', () => {
    check(
      fc.property(network, fc.bigInt({ min: 0n, max: 127n }), (n, off) => {
        const pools = poolsOf(n);
        if (!pools) return;
        const pool = pools[0] as NonNullable<typeof pools>[number];
        const want = formatIP({ family: n.f, value: n.sub.base + off });
        const inUse = new Map(n.taken.map((t) => [t, 'container x']));
        // --ip ignores the ip-range (as Docker): allowed = in the subnet and not an edge, gateway, aux or taken.
        const ok = free({ ...n, range: undefined }, pool.Gateway, new Set(n.taken)).includes(want);
        try {
          assert.equal(allocate({ network: 'n', pools, inUse, userSubnets: true }, n.f, want), `${want}/${n.sub.len}`);
          assert.ok(ok, `${want} handed out`);
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof NetctlError, String(e));
          assert.ok(!ok, `${want} refused: ${(e as Error).message}`);
        }
      }),
      3000,
    );
  });
});
