// The pure parts of src/overlay/etcd.ts: the cluster-store URL, the unreachable error, the lazy
// connect and prefixEnd. The client against a real etcd is test/integration/etcd-client.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/lib/errors.js';
import { connectEtcd, prefixEnd } from '../../src/overlay/etcd.js';
import { rangeBody, rangeResult, txnBody } from '../../src/overlay/gateway.js';
import { ClusterUnreachable } from '../../src/overlay/store-errors.js';
import { parseClusterUrl } from '../../src/overlay/store-url.js';

describe('parseClusterUrl', () => {
  it('accepts etcd://HOST:PORT lists, IPv6 in brackets', () => {
    assert.deepEqual(parseClusterUrl('etcd://192.0.2.100:2379'), ['192.0.2.100:2379']);
    assert.deepEqual(parseClusterUrl('etcd://h1:2379,h2.example.com:22379'), ['h1:2379', 'h2.example.com:22379']);
    assert.deepEqual(parseClusterUrl('etcd://[2001:db8::1]:2379,[::1]:1'), ['[2001:db8::1]:2379', '[::1]:1']);
    assert.deepEqual(parseClusterUrl('etcd://[::ffff:192.0.2.1]:2379'), ['[::ffff:192.0.2.1]:2379']);
  });

  for (const bad of [
    '',
    'etcd://',
    'http://h:2379',
    'etcd:/h:2379',
    'h:2379',
    'etcd://h',
    'etcd://h:',
    'etcd://:2379',
    'etcd://h:0',
    'etcd://h:65536',
    'etcd://h:2379,',
    'etcd://h:2379,,h2:1',
    'etcd://2001:db8::1:2379',
    'etcd://[2001:db8::1]',
    'etcd://[nothex]:1',
    'etcd://h:2379/',
    'etcd://u@h:2379',
    'etcd://h h:1',
    'etcd://-h:1',
    'etcd://h:23a',
  ]) {
    it(`refuses ${JSON.stringify(bad)}, naming it`, () => {
      assert.throws(
        () => parseClusterUrl(bad),
        (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`"${bad}"`),
      );
    });
  }

  it('ClusterUnreachable is a SystemError with the exact message; connectEtcd loads nothing', () => {
    const e = new ClusterUnreachable('etcd://192.0.2.100:2379');
    assert.equal(e.message, 'cluster store etcd://192.0.2.100:2379: unreachable');
    assert.equal(e.exitCode, 1);
    const c = connectEtcd('etcd://192.0.2.100:2379', ['192.0.2.100:2379']);
    c.close();
    assert.throws(() => connectEtcd('etcd://', []), InvalidArgumentError);
  });

  it('prefixEnd is etcd\'s "prefix + 1"', () => {
    assert.deepEqual(prefixEnd(Buffer.from('/a/')), Buffer.from('/a0'));
    assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from('b'));
    assert.deepEqual(prefixEnd(Buffer.from([0xff])), Buffer.from([0]));
    assert.deepEqual(prefixEnd(Buffer.alloc(0)), Buffer.from([0]));
  });

  it("the gateway's JSON: base64 keys, revisions as strings, etcd's enum names, defaults left out", () => {
    assert.deepEqual(rangeBody('/a/'), { key: 'L2Ev', range_end: 'L2Ew' });
    assert.deepEqual(
      txnBody({
        compare: [
          { key: '/k', target: 'create', op: '==', value: 0 },
          { key: '/g', target: 'mod', op: '<', value: 12 },
          { key: '/v', target: 'value', op: '!=', value: 'x' },
        ],
        put: [{ key: '/k', value: '1' }],
        del: [{ key: '/p/', prefix: true }, { key: '/d' }],
      }),
      {
        compare: [
          { key: 'L2s=', result: 'EQUAL', target: 'CREATE', create_revision: '0' },
          { key: 'L2c=', result: 'LESS', target: 'MOD', mod_revision: '12' },
          { key: 'L3Y=', result: 'NOT_EQUAL', target: 'VALUE', value: 'eA==' },
        ],
        success: [
          { request_put: { key: 'L2s=', value: 'MQ==' } },
          { request_delete_range: { key: 'L3Av', range_end: 'L3Aw' } },
          { request_delete_range: { key: 'L2Q=' } },
        ],
      },
    );
    assert.throws(
      () => txnBody({ compare: [{ key: '/k', target: 'mod', op: '==', value: '1.5' }], put: [], del: [] }),
      (e: unknown) => e instanceof InvalidArgumentError && /\/k: revision 1\.5 is not an integer/.test(e.message),
    );
    // etcd leaves out an empty value, a zero revision and an empty kvs list.
    assert.deepEqual(rangeResult({ header: { revision: '7' }, kvs: [{ key: 'L2s=', mod_revision: '3' }] }), {
      rev: 7,
      kvs: [{ key: '/k', value: '', createRev: 0, modRev: 3 }],
    });
    assert.deepEqual(rangeResult({ header: { revision: '9' } }), { rev: 9, kvs: [] });
  });
});
