// Tier 2: an overlay connect against the fake kernel and an in-memory etcd. The address claim
// is a journaled step: a kernel failure after it gives the address back; an etcd that goes
// away before the release leaves the release journaled, and the next command sends it; an etcd
// unreachable from the start changes nothing at all.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Cluster } from '../../src/overlay/cluster.js';
import { GlobalScope } from '../../src/overlay/scope.js';
import { Controller } from '../../src/core/controller.js';
import { MemoryStore } from '../../src/store/memory.js';
import { bridgeNet } from '../helpers/engine.js';
import { FakeEtcd } from '../helpers/fake-etcd.js';
import { FakeKernel } from '../helpers/fake-kernel.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'netctl-overlay-'));
  dirs.push(dir);
  const kernel = new FakeKernel(dir);
  kernel.modelAddrs = true;
  kernel.modelFdb = true;
  kernel.addLink('', 'ul0');
  kernel.links.get('/ul0')?.addrs.push('192.0.2.1/24');
  const etcd = new FakeEtcd();
  const store = new MemoryStore();
  let n = 0;
  const warnings: string[] = [];
  const ctl = new Controller({
    store,
    runner: kernel,
    netnsDir: dir,
    id: () => (n++).toString(16).padStart(2, '0').repeat(32),
    now: () => new Date('2026-01-01T00:00:00Z'),
    scope: new GlobalScope(
      async () => new Cluster('etcd://fake:2379', { name: 'host1', addr: '192.0.2.1' }, etcd.client()),
    ),
    warn: (m) => warnings.push(m),
  });
  return { kernel, etcd, store, ctl, warnings };
}

const claims = (etcd: FakeEtcd) =>
  [...etcd.data.keys()].filter((k) => k.includes('/ipam/') || k.includes('/endpoints/')).sort();

describe('overlay engine', () => {
  it(
    'connect: the claim goes out after the journal intent, then bridge, VXLAN, veth; ' + 'the endpoint is published',
    async () => {
      const { kernel, etcd, store, ctl } = setup();
      await ctl.createNetwork({ ...bridgeNet('ov', '10.9.0.0/24'), driver: 'overlay', internal: true });
      await ctl.createSandbox({ name: 'web', net: 'none', settings: {}, ports: [] });
      const before = store.history.length;
      await ctl.connect('ov', ['web'], {});
      assert.equal(claims(etcd).length, 2, claims(etcd).join(' '));
      // The intent with the Release undo was written before the claim: its last intent names it.
      const intents = store.history.slice(before).filter((s) => s.journal.length);
      assert.ok(
        intents.some((s) => s.journal.some((j) => j.cleanup.some((c) => c.call?.method === 'Release'))),
        'Release journaled',
      );
      const links = [...kernel.links.values()].map((l) => `${l.ns}/${l.name}:${l.kind}`);
      assert.ok(
        links.some((l) => /^\/ov-[0-9a-f]{12}:bridge$/.test(l)),
        links.join(' '),
      );
      assert.ok(
        links.some((l) => /^\/vx-[0-9a-f]{12}:vxlan$/.test(l)),
        links.join(' '),
      );
      assert.ok(links.includes('web/eth0:veth'), links.join(' '));
      const vx =
        kernel.calls.flatMap((c) => (c.input ?? c.args.join(' ')).split('\n')).find((l) => l.includes('type vxlan')) ??
        '';
      assert.match(vx, /mtu 1450 type vxlan id 4096 local 192\.0\.2\.1 dstport 4789 nolearning proxy/);
      assert.equal(store.snapshot().journal.length, 0);
    },
  );

  it('a kernel failure after the claim releases it and leaves kernel and store as they were', async () => {
    const { kernel, etcd, store, ctl } = setup();
    await ctl.createNetwork({ ...bridgeNet('ov', '10.9.0.0/24'), driver: 'overlay', internal: true });
    await ctl.createSandbox({ name: 'web', net: 'none', settings: {}, ports: [] });
    const k0 = kernel.dump();
    const recs = () => {
      const s = store.snapshot();
      return JSON.stringify({ e: s.endpoints, s: s.sandboxes, j: s.journal });
    };
    const s0 = recs();
    // Every line of the connect after the claim, one at a time.
    for (let line = 0; ; line++) {
      kernel.failLine = kernel.linesSeen + line;
      const err = await ctl.connect('ov', ['web'], {}).then(
        () => null,
        (e: Error) => e,
      );
      kernel.failLine = undefined;
      if (!err) break;
      assert.match(err.message, /injected failure/);
      assert.deepEqual(claims(etcd), [], `line ${line}: the claim was released`);
      assert.equal(kernel.dump(), k0, `line ${line}: kernel as before`);
      assert.equal(recs(), s0, `line ${line}: store as before`);
      assert.ok(line < 20, 'the connect eventually succeeds');
    }
    assert.equal(claims(etcd).length, 2);
  });

  it('etcd gone before the release: the release stays journaled and the next command sends it', async () => {
    const { kernel, etcd, store, ctl, warnings } = setup();
    await ctl.createNetwork({ ...bridgeNet('ov', '10.9.0.0/24'), driver: 'overlay', internal: true });
    await ctl.createSandbox({ name: 'web', net: 'none', settings: {}, ports: [] });
    // The claim succeeds, the veth fails, and etcd is gone when the rollback releases.
    const hook = (req: { del: Array<{ key: string }> }) => {
      if (req.del.some((d) => d.key.includes('/endpoints/'))) etcd.down = true;
      else etcd.beforeTxn = hook; // not the release yet (the node record, the claim): wait for it
    };
    etcd.beforeTxn = hook;
    kernel.failLine = kernel.linesSeen + 9; // the veth, after the network's 9 lines
    await assert.rejects(ctl.connect('ov', ['web'], {}));
    kernel.failLine = undefined;
    assert.equal(claims(etcd).length, 2, 'claimed, not released');
    assert.ok(
      store.snapshot().journal.some((j) => j.cleanup.some((c) => c.call?.method === 'Release')),
      'the release is journaled',
    );
    assert.ok(
      warnings.some((w) => /Release left for a later command/.test(w)),
      warnings.join('\n'),
    );
    etcd.down = false;
    await ctl.createSandbox({ name: 'db', net: 'none', settings: {}, ports: [] }); // any command
    assert.deepEqual(claims(etcd), [], 'released by the next command');
    assert.equal(store.snapshot().journal.length, 0);
  });

  it('etcd unreachable: connect fails with the SPEC message and runs no kernel command', async () => {
    const { kernel, etcd, store, ctl } = setup();
    await ctl.createNetwork({ ...bridgeNet('ov', '10.9.0.0/24'), driver: 'overlay', internal: true });
    await ctl.createSandbox({ name: 'web', net: 'none', settings: {}, ports: [] });
    etcd.down = true;
    const calls = kernel.mutating().length;
    const s0 = JSON.stringify(store.snapshot());
    await assert.rejects(
      ctl.connect('ov', ['web'], {}),
      /^Error: cluster store etcd:\/\/fake:2379: unreachable$|cluster store etcd:\/\/fake:2379: unreachable/,
    );
    assert.equal(kernel.mutating().length, calls);
    assert.equal(JSON.stringify(store.snapshot()), s0);
  });
});
