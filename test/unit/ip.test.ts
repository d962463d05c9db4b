import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SPECIAL_BLOCKS,
  contains,
  formatIP,
  formatPrefix,
  macFromIPv4,
  overlaps,
  parseCIDR,
  parseIP,
} from '../../src/lib/ip.js';

describe('ip maths', () => {
  it('the special-purpose blocks are written out as their CIDRs parse', () => {
    for (const b of SPECIAL_BLOCKS) assert.deepEqual(b.prefix, parseCIDR(b.cidr)?.prefix, b.cidr);
  });

  it('parses and prints IPv4 and IPv6 canonically', () => {
    const cases: Array<[string, string | null]> = [
      ['10.0.0.1', '10.0.0.1'],
      ['255.255.255.255', '255.255.255.255'],
      ['256.1.1.1', null],
      ['1.2.3', null],
      ['01.2.3.4', null],
      ['1.2.3.4 ', null],
      ['-1.2.3.4', null],
      ['2001:db8::1', '2001:db8::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['::', '::'],
      ['::ffff:1.2.3.4', '::ffff:102:304'],
      ['1::2::3', null],
      ['fe80::1%eth0', null],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ];
    for (const [input, want] of cases) {
      const a = parseIP(input);
      assert.equal(a ? formatIP(a) : null, want, input);
    }
  });

  it('parses CIDRs, masks host bits, tests containment and overlap', () => {
    const c = parseCIDR('10.1.2.3/16');
    assert.ok(c);
    assert.equal(formatPrefix(c.prefix), '10.1.0.0/16');
    assert.equal(parseCIDR('10.1.0.0/33'), null);
    assert.equal(parseCIDR('10.1.0.0'), null);
    const p = (s: string) => parseCIDR(s)?.prefix ?? assert.fail(s);
    assert.ok(overlaps(p('10.0.0.0/8'), p('10.1.0.0/24')));
    assert.ok(!overlaps(p('10.0.0.0/24'), p('10.0.1.0/24')));
    assert.ok(!overlaps(p('10.0.0.0/8'), p('::/0')));
    assert.ok(contains(p('2001:db8::/64'), parseIP('2001:db8::ffff') ?? assert.fail()));
    assert.ok(!contains(p('10.0.0.0/24'), parseIP('10.0.1.0') ?? assert.fail()));
  });

  it('derives Docker MACs from IPv4 addresses', () => {
    assert.equal(macFromIPv4(parseIP('172.17.0.2') ?? assert.fail()), '02:42:ac:11:00:02');
  });
});
