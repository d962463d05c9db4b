// The cluster store's logic (cluster/cluster.ts) against an in-memory etcd with etcd's
// transaction semantics: unique names and VNIs under concurrent creates, compare-and-swap
// address claims that never hand out an address twice, release, rm refused by a racing
// connect, node rm.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from '../../src/overlay/cluster.js';
import type { NetworkRecord } from '../../src/model/records.js';
import { FakeEtcd } from '../helpers/fake-etcd.js';

const net = (id: string, name: string, subnet = '10.9.0.0/29'): NetworkRecord => ({
  id: id.padEnd(64, '0'),
  name,
  driver: 'overlay',
  created: '2026-12-02T00:00:00Z',
  scope: 'global',
  enableIPv6: false,
  internal: false,
  attachable: false,
  ipam: { driver: 'default', options: {}, config: [{ Subnet: subnet, Gateway: subnet.replace(/0\/\d+$/, '1') }] },
  userSubnets: true,
  options: {},
  labels: {},
  predefined: false,
  driverState: {},
});

const host = (etcd: FakeEtcd, n: number) =>
  new Cluster('etcd://fake:2379', { name: `host${n}`, addr: `192.0.2.${n}` }, etcd.client());

describe('cluster store', () => {
  it('creates a network once: a second create with a stale read or the same name fails', async () => {
    const etcd = new FakeEtcd();
    const [a, b] = [host(etcd, 1), host(etcd, 2)];
    const sa = await a.snapshot();
    const sb = await b.snapshot();
    assert.equal(await a.createNetwork(net('aa', 'web'), 4096, sa), true);
    // b read before a wrote: its comparison on the generation fails, nothing is written.
    assert.equal(await b.createNetwork(net('bb', 'web'), 4097, sb), false);
    const now = await b.snapshot();
    assert.deepEqual(
      now.networks.map((n) => n.name),
      ['web'],
    );
    assert.equal(await b.createNetwork(net('cc', 'web'), 4097, now), false, 'name taken');
    assert.equal(await b.createNetwork(net('dd', 'db'), 4096, now), false, 'VNI taken');
    assert.equal(await b.createNetwork(net('ee', 'db'), 4097, now), true);
  });

  it('claims the lowest free address and never the same one twice, even when another host races', async () => {
    const etcd = new FakeEtcd();
    const a = host(etcd, 1);
    const nw = net('aa', 'web');
    assert.ok(await a.createNetwork(nw, 4096, await a.snapshot()));
    const snap = await a.snapshot();
    // Host b takes .2 between a's read and a's transaction: a must move on to .3.
    etcd.beforeTxn = () => {
      etcd.txn({ compare: [], put: [{ key: `/netctl/v1/ipam/${nw.id}/10.9.0.2`, value: 'eb' }], del: [] });
    };
    const p = await a.claim(
      { network: nw.id, endpoint: 'ea', sandbox: 'sa', container: 'ca' },
      snap.used.get(nw.id) ?? new Map(),
    );
    const after = await a.snapshot();
    const held = [...(after.used.get(nw.id) ?? new Map()).entries()].sort();
    assert.deepEqual(held, [
      ['10.9.0.2', 'eb'],
      ['10.9.0.3', 'ea'],
    ]);
    assert.equal(p.ipv4, '10.9.0.3/29');
    assert.equal(p.mac, '02:42:0a:09:00:03');
    assert.equal(p.vtep, '192.0.2.1');
  });

  it('refuses an asked address that is held, and runs out cleanly', async () => {
    const etcd = new FakeEtcd();
    const a = host(etcd, 1);
    const nw = net('aa', 'web');
    await a.createNetwork(nw, 4096, await a.snapshot());
    await a.claim({ network: nw.id, endpoint: 'e1', sandbox: 's', container: 'c1', ipv4: '10.9.0.5' });
    await assert.rejects(
      a.claim({ network: nw.id, endpoint: 'e2', sandbox: 's', container: 'c2', ipv4: '10.9.0.5' }),
      /Address already in use: 10\.9\.0\.5/,
    );
    for (let i = 0; i < 4; i++) await a.claim({ network: nw.id, endpoint: `x${i}`, sandbox: 's', container: `x${i}` });
    await assert.rejects(
      a.claim({ network: nw.id, endpoint: 'x9', sandbox: 's', container: 'x9' }),
      /no available IPv4 addresses/,
    );
  });

  it('release gives the address back, and is idempotent', async () => {
    const etcd = new FakeEtcd();
    const a = host(etcd, 1);
    const nw = net('aa', 'web');
    await a.createNetwork(nw, 4096, await a.snapshot());
    await a.claim({ network: nw.id, endpoint: 'e1', sandbox: 's', container: 'c1' });
    await a.release(nw.id, 'e1');
    await a.release(nw.id, 'e1');
    const s = await a.snapshot();
    assert.equal(s.peers.length, 0);
    assert.equal(s.used.get(nw.id), undefined);
    assert.equal(
      (await a.claim({ network: nw.id, endpoint: 'e2', sandbox: 's', container: 'c2' })).ipv4,
      '10.9.0.2/29',
    );
  });

  it('rm fails its comparison when an endpoint arrived after the read', async () => {
    const etcd = new FakeEtcd();
    const [a, b] = [host(etcd, 1), host(etcd, 2)];
    const nw = net('aa', 'web');
    await a.createNetwork(nw, 4096, await a.snapshot());
    const snap = await a.snapshot();
    await b.claim({ network: nw.id, endpoint: 'eb', sandbox: 'sb', container: 'cb' });
    assert.equal(await a.deleteNetwork({ ...nw, driverState: { vni: 4096 } }, snap), false);
    await b.release(nw.id, 'eb');
    assert.equal(await a.deleteNetwork({ ...nw, driverState: { vni: 4096 } }, await a.snapshot()), true);
    const s = await a.snapshot();
    assert.equal(s.networks.length, 0);
    assert.ok(
      ![...etcd.data.keys()].some((k) => k.includes(nw.id) || k.includes('/names/') || k.includes('/vni/')),
      [...etcd.data.keys()].join(' '),
    );
  });

  it("node rm deletes a host's endpoints and frees their addresses", async () => {
    const etcd = new FakeEtcd();
    const [a, b] = [host(etcd, 1), host(etcd, 2)];
    const nw = net('aa', 'web');
    await a.createNetwork(nw, 4096, await a.snapshot());
    await a.claim({ network: nw.id, endpoint: 'ea', sandbox: 'sa', container: 'ca' });
    await b.claim({ network: nw.id, endpoint: 'eb', sandbox: 'sb', container: 'cb' });
    const snap = await a.snapshot();
    const node = snap.nodes.find((n) => n.name === 'host2');
    assert.ok(node);
    const gone = await a.removeNode(node, snap);
    assert.deepEqual(
      gone.map((p) => p.container),
      ['cb'],
    );
    const s = await a.snapshot();
    assert.deepEqual(
      s.peers.map((p) => p.container),
      ['ca'],
    );
    assert.deepEqual([...(s.used.get(nw.id) ?? new Map()).keys()], ['10.9.0.2']);
    assert.deepEqual(
      s.nodes.map((n) => n.name),
      ['host1'],
    );
  });

  it('an unreachable store rejects with the SPEC message', async () => {
    const etcd = new FakeEtcd();
    etcd.down = true;
    await assert.rejects(
      host(etcd, 1).snapshot(),
      /^Error: cluster store etcd:\/\/fake:2379: unreachable$|cluster store etcd:\/\/fake:2379: unreachable/,
    );
  });
});
