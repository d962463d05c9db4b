// inspect's JSON: plain JSON.stringify output, except that a bigint (an IPv6 subnet's free
// addresses, past 2^53) prints as the exact integer, as Go prints a uint64.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonText } from '../../src/cli/views.js';

describe('jsonText', () => {
  const doc = { Name: 'n1', Containers: { a: { IPv4Address: '10.0.0.2/24' } }, List: [1, 'x', null, true], Empty: {} };

  it('is JSON.stringify for a document without bigints, indented or not', () => {
    assert.equal(jsonText(doc), JSON.stringify(doc));
    assert.equal(jsonText([doc], 4), JSON.stringify([doc], null, 4));
  });

  it('prints a bigint as the exact integer, wherever it is', () => {
    const big = (1n << 64n) - 1n;
    const text = jsonText(
      [{ ...doc, Status: { IPAM: { Subnets: { 'fd00::/64': { IPsInUse: 3, DynamicIPsAvailable: big } } } } }],
      4,
    );
    assert.match(text, /"DynamicIPsAvailable": 18446744073709551615\n/);
    assert.equal(
      text.replace('18446744073709551615', '0'),
      JSON.stringify(
        [{ ...doc, Status: { IPAM: { Subnets: { 'fd00::/64': { IPsInUse: 3, DynamicIPsAvailable: 0 } } } } }],
        null,
        4,
      ),
    );
    assert.equal(jsonText({ v: 5n }), '{"v":5}');
  });

  it('a string or a key that looks like a marked bigint stays a string', () => {
    assert.equal(jsonText({ s: '\u00001', '\u00002': 'k', v: 1n }), '{"s":"\\u00001","\\u00002":"k","v":1}');
  });

  it('other errors of JSON.stringify still throw', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.throws(() => jsonText(cyclic), /circular/);
  });
});
