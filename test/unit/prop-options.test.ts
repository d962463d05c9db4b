// The option converters by property (issue 18): any flag values give the typed request or a
// clean one-line NetctlError; k=v lists keep every key and value; what validateSettings
// accepts is a well-formed address outside the special-purpose blocks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  parseAddHost,
  toEndpointSettings,
  toNetworkCreate,
  type CreateFlags,
  type EndpointFlags,
} from '../../src/cli/options.js';
import { parseFilters } from '../../src/cli/reads.js';
import { validateSettings } from '../../src/core/checks.js';
import { NetctlError } from '../../src/lib/errors.js';
import { MAC_RE, parseIP, specialAddress } from '../../src/lib/ip.js';
import { check, fromVocab } from '../helpers/prop.js';

const kv = fromVocab(
  ['a', 'k', '=', '==', '.', 'com.docker.network.driver.mtu', '1500', ' ', '\n', '"', 'é', '-', ''],
  8,
);
const ipish = fromVocab(
  ['10', '.', '0', '1', '255', '127', '169', '254', '224', ':', '::', 'fe80', 'ff02', '1.2.3.4', '%', '\n'],
  10,
);
const list = (a: fc.Arbitrary<string>) => fc.option(fc.array(a, { maxLength: 5 }), { nil: undefined });

/** The error contract: a NetctlError whose message is one line. */
function clean(e: unknown): void {
  assert.ok(e instanceof NetctlError, `not a NetctlError: ${String(e)}`);
  assert.ok(!/[\n\r]/.test(e.message), `message not one line: ${JSON.stringify(e.message)}`);
}

/** What a k=v list must come to: the text before the first '=' maps to the rest, the last one winning. */
function refKV(items: string[], bare: boolean): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq === 0 || (eq < 0 && !bare)) return null;
    out[eq < 0 ? it : it.slice(0, eq)] = eq < 0 ? '' : it.slice(eq + 1);
  }
  return out;
}

describe('option converters by property', () => {
  it('toNetworkCreate: the request, with every k=v list as the reference parses it, or a clean error', () => {
    const flags = fc.record(
      {
        driver: fc.option(fc.string(), { nil: undefined }),
        subnet: list(ipish),
        gateway: list(ipish),
        ipRange: list(ipish),
        auxAddress: list(kv),
        ipv6: fc.option(fc.boolean(), { nil: undefined }),
        enableIpv6: fc.option(fc.boolean(), { nil: undefined }),
        internal: fc.option(fc.boolean(), { nil: undefined }),
        opt: list(kv),
        label: list(kv),
        ipamDriver: fc.option(fc.string(), { nil: undefined }),
        ipamOpt: list(kv),
      },
      { requiredKeys: [] },
    );
    check(
      fc.property(fc.string(), flags, (name, f) => {
        const want = [
          refKV(f.auxAddress ?? [], false),
          refKV(f.opt ?? [], false),
          refKV(f.label ?? [], true),
          refKV(f.ipamOpt ?? [], false),
        ];
        let got;
        try {
          got = toNetworkCreate(name, f as CreateFlags);
        } catch (e) {
          clean(e);
          assert.ok(want.includes(null), 'refused a good list');
          return;
        }
        assert.deepEqual([got.auxAddresses, got.options, got.labels, got.ipamOptions], want);
        assert.deepEqual([got.subnets, got.gateways, got.ipRanges], [f.subnet ?? [], f.gateway ?? [], f.ipRange ?? []]);
        assert.equal(got.enableIPv6, Boolean(f.ipv6 || f.enableIpv6));
        assert.equal(got.driver, f.driver ?? 'bridge');
      }),
      3000,
    );
  });

  it(
    'toEndpointSettings + validateSettings: accepted addresses are well formed and not special; ' +
      'GwPriority a safe integer',
    () => {
      const flags = fc.record(
        {
          ip: fc.option(fc.oneof(fc.ipV4(), ipish), { nil: undefined }),
          ip6: fc.option(fc.oneof(fc.ipV6(), ipish), { nil: undefined }),
          alias: list(fromVocab(['a', 'web', '-', '.', '_', ' ', ';', '\n'], 6)),
          macAddress: fc.option(fromVocab(['02', ':', '42', 'ff', '01', 'zz', 'a'], 12), { nil: undefined }),
          linkLocalIp: list(ipish),
          driverOpt: list(kv),
          gwPriority: fc.option(
            fc.oneof(fc.integer().map(String), fromVocab(['-', '1', '0', '9', 'e', '.', ' '], 25)),
            {
              nil: undefined,
            },
          ),
        },
        { requiredKeys: [] },
      );
      check(
        fc.property(flags, (f) => {
          let s;
          try {
            s = toEndpointSettings(f as EndpointFlags);
            validateSettings(s);
          } catch (e) {
            clean(e);
            return;
          }
          if (f.gwPriority !== undefined)
            assert.ok(
              Number.isSafeInteger(s.GwPriority) && String(s.GwPriority) === String(BigInt(f.gwPriority)),
              `GwPriority from ${f.gwPriority}`,
            );
          const ip4 = s.IPAMConfig?.IPv4Address;
          if (ip4 !== undefined) {
            const a = parseIP(ip4);
            assert.ok(a?.family === 4 && specialAddress(a, true) === null, ip4);
          }
          const ip6 = s.IPAMConfig?.IPv6Address;
          if (ip6 !== undefined) {
            const a = parseIP(ip6);
            assert.ok(a?.family === 6 && specialAddress(a) === null, ip6);
          }
          if (s.MacAddress !== undefined)
            assert.ok(MAC_RE.test(s.MacAddress) && (parseInt(s.MacAddress.slice(0, 2), 16) & 1) === 0);
          for (const a of s.Aliases ?? []) assert.match(a, /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/);
        }),
        3000,
      );
    },
  );

  it('parseAddHost and parseFilters: a result that puts the text back together, or a clean error', () => {
    check(
      fc.property(
        fromVocab(['h', ':', '::1', '1.2.3.4', '[', ']', 'x'], 6),
        fc.array(kv, { maxLength: 4 }),
        (spec, filters) => {
          try {
            const h = parseAddHost(spec);
            assert.ok(h.name.length > 0 && !h.name.includes(':') && spec.startsWith(`${h.name}:`));
          } catch (e) {
            clean(e);
          }
          try {
            const fs = parseFilters(filters);
            fs.forEach((x, i) => assert.ok((filters[i] ?? '').endsWith(`=${x.value}`)));
          } catch (e) {
            clean(e);
          }
        },
      ),
      3000,
    );
  });
});
