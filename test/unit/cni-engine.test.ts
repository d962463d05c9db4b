// Tier 2 for CNI attachments (core/cni.ts): the controller against the fake kernel. The exact
// `ip` lines of an ADD with its own interface name, a failure at every line rolling back kernel
// and store, DEL idempotent, GC leaving netctl's own sandboxes alone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Controller } from '../../src/core/controller.js';
import { MemoryStore } from '../../src/store/memory.js';
import { bridgeNet as net } from '../helpers/engine.js';
import { FakeKernel } from '../helpers/fake-kernel.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop() ?? '', { recursive: true, force: true });
});

/** A controller with network web and a runtime's netns `c1` under the fake netns dir. */
async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'netctl-cni-engine-'));
  dirs.push(dir);
  const kernel = new FakeKernel(dir);
  const store = new MemoryStore();
  let n = 0;
  const ctl = new Controller({
    store,
    runner: kernel,
    netnsDir: dir,
    id: () => (n++).toString(16).padStart(2, '0').repeat(32),
  });
  const id = await ctl.createNetwork(net('web', '10.1.0.0/24'));
  for (const ns of ['c1', 'c2']) await kernel.run('ip', ['netns', 'add', ns]);
  kernel.calls = [];
  const att = (c: string, ifName = 'net0') => ({
    containerId: `ctr-${c}`,
    ifName,
    netns: join(dir, c),
    network: 'web',
  });
  return { kernel, store, ctl, dir, bridge: `nc-${id.slice(0, 12)}`, att };
}

const norm = (s: string) => s.replace(/veth[0-9a-f]{7}/g, 'vethX');
const sandboxNames = (s: MemoryStore) =>
  Object.values(s.snapshot().sandboxes)
    .map((x) => x.name)
    .sort();

describe('engine: CNI attachments', () => {
  it('ADD: two processes, the peer named CNI_IFNAME, the runtime netns used by its name', async () => {
    const { kernel, ctl, store, bridge, att } = await setup();
    const r = await ctl.cniAdd(att('c1'), {});
    assert.equal(r.gateway, true);
    assert.deepEqual([r.ep.ifName, r.ep.ipv4], ['net0', '10.1.0.2/24']);
    assert.deepEqual(
      kernel.mutating().map((c) => ({ args: c.args, input: norm(c.input ?? '') })),
      [
        {
          args: ['-batch', '-'],
          input:
            `link add vethX type veth peer name net0 address 02:42:0a:01:00:02 netns c1\n` +
            `link set vethX addrgenmode none\nlink set vethX master ${bridge} up\n`,
        },
        {
          args: ['-n', 'c1', '-batch', '-'],
          input:
            'link set net0 addrgenmode none\naddr add 10.1.0.2/24 dev net0\nlink set net0 up\n' +
            'route replace default via 10.1.0.1 dev net0\n',
        },
      ],
    );
    const sb = Object.values(store.snapshot().sandboxes).find((s) => s.name === 'cni-ctr-c1');
    assert.deepEqual([sb?.cniContainerId, sb?.netns, sb?.mode, sb?.ownsName], ['ctr-c1', 'c1', 'adopted', undefined]);
  });

  it(
    'ADD twice, a second interface of the same name, a sandbox of that name not made by CNI: ' +
      'refused, nothing changed',
    async () => {
      const { kernel, ctl, store, att } = await setup();
      await ctl.cniAdd(att('c1'), {});
      await ctl.createSandbox({ name: 'cni-ctr-c2', net: 'none', settings: {}, ports: [] });
      const before = [kernel.dump(), JSON.stringify(store.snapshot())];
      await assert.rejects(ctl.cniAdd(att('c1'), {}), /container ctr-c1 already has interface net0/);
      await assert.rejects(
        ctl.cniAdd(att('c2'), {}),
        /container name cni-ctr-c2 is already in use by a sandbox not made by CNI/,
      );
      await assert.rejects(
        ctl.cniAdd({ ...att('c1'), netns: join(kernel.netnsDir ?? '', 'c2') }, {}),
        /attached in another netns/,
      );
      await assert.rejects(ctl.connect('web', ['cni-ctr-c1'], {}), /already exists in network web/);
      assert.deepEqual([kernel.dump(), JSON.stringify(store.snapshot())], before);
    },
  );

  it('ADD: every injected failure leaves kernel and store as they were', async () => {
    const probe = await setup();
    const start = probe.kernel.linesSeen;
    await probe.ctl.cniAdd(probe.att('c1'), {});
    const total = probe.kernel.linesSeen - start;
    assert.ok(total >= 7, `${total} lines`);
    for (let k = 0; k < total; k++) {
      const t = await setup();
      const before = [t.kernel.dump(), JSON.stringify(t.store.snapshot())];
      t.kernel.failLine = t.kernel.linesSeen + k;
      await assert.rejects(t.ctl.cniAdd(t.att('c1'), {}), /injected failure/, `line ${k}`);
      assert.deepEqual([t.kernel.dump(), JSON.stringify(t.store.snapshot())], before, `after a failure at line ${k}`);
    }
  });

  it(
    'DEL removes the endpoint and, with the last one, the sandbox; ' +
      'again, and for a container never added, it succeeds',
    async () => {
      const { kernel, ctl, store, att } = await setup();
      const empty = kernel.dump();
      await ctl.cniAdd(att('c1'), {});
      assert.deepEqual(await ctl.cniDel(att('c1')), []);
      assert.deepEqual(await ctl.cniDel(att('c1')), []);
      assert.deepEqual(await ctl.cniDel(att('nobody')), []);
      assert.equal(kernel.dump(), empty);
      assert.deepEqual(Object.keys(store.snapshot().endpoints), []);
      assert.ok(!sandboxNames(store).includes('cni-ctr-c1'));
    },
  );

  it("GC removes CNI attachments not listed and leaves the listed ones and netctl's own sandboxes", async () => {
    const { ctl, store, att } = await setup();
    await ctl.cniAdd(att('c1'), {});
    await ctl.cniAdd(att('c2', 'eth0'), {});
    await ctl.createSandbox({ name: 'own', net: 'web', settings: {}, ports: [] });
    const r = await ctl.cniGc('web', [{ containerId: 'ctr-c1', ifName: 'net0' }]);
    assert.deepEqual(r, { removed: ['ctr-c2/eth0'], errors: [] });
    assert.deepEqual(sandboxNames(store), ['cni-ctr-c1', 'own']);
    assert.equal(Object.keys(store.snapshot().endpoints).length, 2);
    assert.deepEqual(
      await ctl.cniGc('nope', []),
      { removed: [], errors: [] },
      'a network that is gone has nothing to collect',
    );
  });

  it('STATUS: fine while an address is left, refused for a missing network', async () => {
    const { ctl } = await setup();
    await ctl.cniStatus('web');
    await assert.rejects(ctl.cniStatus('nope'), /network nope not found/);
  });
});
