// Tier 2: the controller against a fake kernel. Exact `ip` sequences, and a failure injected
// at every line of every operation proving the rollback leaves kernel and store as they were.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Controller } from '../../src/core/controller.js';
import type { FwModel } from '../../src/firewall/firewall.js';
import { MemoryStore } from '../../src/store/memory.js';
import { FakeKernel } from '../helpers/fake-kernel.js';
import type { RunOptions } from '../../src/kernel/runner.js';
import { randomBytes } from 'node:crypto';
import { bridgeNet as net, engineSetup } from '../helpers/engine.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop() ?? '', { recursive: true, force: true });
});

const setup = () => engineSetup(dirs, 'netctl-engine-');

/** A controller whose store already holds the predefined networks (as after any first command). */
async function ready() {
  const t = setup();
  await t.ctl.view(() => 0, true);
  return t;
}

/** The host veth name is random: replace it so sequences can be compared exactly. */
const norm = (s: string) => s.replace(/veth[0-9a-f]{7}/g, 'vethX');

describe('engine: command sequences', () => {
  it('create network: one batch making the bridge, its gateway address, up', async () => {
    const { kernel, ctl } = setup();
    const id = await ctl.createNetwork(net('web', '10.1.0.0/24'));
    const m = kernel.mutating();
    assert.equal(m.length, 1);
    assert.deepEqual(m[0]?.args, ['-batch', '-']);
    const mac = `02:${id.slice(0, 2)}:${id.slice(2, 4)}:${id.slice(4, 6)}:${id.slice(6, 8)}:${id.slice(8, 10)}`;
    assert.equal(
      m[0]?.input,
      `link add name nc-${id.slice(0, 12)} address ${mac} type bridge\n` +
        `addr add 10.1.0.1/24 dev nc-${id.slice(0, 12)}\nlink set nc-${id.slice(0, 12)} up\n`,
    );
  });

  it('sandbox create on a network: two processes, host side then inside the netns', async () => {
    const { kernel, ctl } = setup();
    const id = await ctl.createNetwork(net('web', '10.1.0.0/24'));
    kernel.calls = [];
    await ctl.createSandbox({
      name: 'a',
      net: 'web',
      settings: { IPAMConfig: { IPv4Address: '10.1.0.5' } },
      ports: [],
    });
    const m = kernel.mutating().map((c) => ({ args: c.args, input: norm(c.input ?? '') }));
    const br = `nc-${id.slice(0, 12)}`;
    assert.deepEqual(m, [
      {
        args: ['-batch', '-'],
        input:
          `netns add a\nlink add vethX type veth peer name eth0 address 02:42:0a:01:00:05 netns a\n` +
          `link set vethX addrgenmode none\nlink set vethX master ${br} up\n`,
      },
      {
        args: ['-n', 'a', '-batch', '-'],
        input:
          'link set lo up\nlink set eth0 addrgenmode none\naddr add 10.1.0.5/24 dev eth0\nlink set eth0 up\n' +
          'route replace default via 10.1.0.1 dev eth0\n',
      },
    ]);
  });

  it('connect to a second network adds an interface without moving the default route', async () => {
    const { kernel, ctl } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await ctl.createNetwork(net('db', '10.2.0.0/24'));
    await ctl.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] });
    kernel.calls = [];
    await ctl.connect('db', ['a'], {});
    const inner = kernel.mutating()[1];
    assert.deepEqual(inner?.args, ['-n', 'a', '-batch', '-']);
    assert.equal(inner?.input, 'link set eth1 addrgenmode none\naddr add 10.2.0.2/24 dev eth1\nlink set eth1 up\n');
    assert.deepEqual(kernel.routes.get('a'), ['default via 10.1.0.1 dev eth0']);
  });

  it('a bridge that has 1024 ports (EXFULL) is refused clearly, and nothing is left behind', async () => {
    const { kernel, ctl, store } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await ctl.createSandbox({ name: 'a', net: 'none', settings: {}, ports: [] });
    const before = [kernel.dump(), JSON.stringify(store.snapshot())];
    kernel.failLine = kernel.linesSeen + 2; // link add, addrgenmode, then enslaving fails
    kernel.failMessage = 'Exchange full';
    await assert.rejects(
      ctl.connect('web', ['a'], {}),
      /cannot connect a to web: its bridge has 1024 ports, the most a Linux bridge takes/,
    );
    assert.deepEqual([kernel.dump(), JSON.stringify(store.snapshot())], before);
  });

  it('the container side keeps IPv6 link-local addressing only on networks with IPv6', async () => {
    const { kernel, ctl } = setup();
    await ctl.createNetwork({ ...net('v6', '10.3.0.0/24'), subnets: ['10.3.0.0/24', 'fd00:3::/64'], enableIPv6: true });
    await ctl.createSandbox({ name: 'a', net: 'none', settings: {}, ports: [] });
    kernel.calls = [];
    await ctl.connect('v6', ['a'], {});
    const [host, inner] = kernel.mutating();
    assert.match(host?.input ?? '', /link set veth[0-9a-f]{7} addrgenmode none\n/);
    assert.doesNotMatch(inner?.input ?? '', /addrgenmode/);
    assert.match(inner?.input ?? '', /addr add fd00:3::2\/64 dev eth0 nodad/);
  });

  it('disconnect of the gateway endpoint deletes the veth and moves the default route', async () => {
    const { kernel, ctl } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await ctl.createNetwork(net('db', '10.2.0.0/24'));
    await ctl.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] });
    await ctl.connect('db', ['a'], {});
    kernel.calls = [];
    await ctl.disconnect('web', 'a', false);
    const m = kernel.mutating().map((c) => ({ args: c.args, input: norm(c.input ?? '') }));
    assert.deepEqual(m, [
      { args: ['-force', '-batch', '-'], input: 'link del vethX\n' },
      { args: ['-n', 'a', '-force', '-batch', '-'], input: 'route replace default via 10.2.0.1 dev eth1\n' },
    ]);
    assert.deepEqual(kernel.routes.get('a'), ['default via 10.2.0.1 dev eth1']);
    assert.deepEqual(
      [...kernel.links.values()]
        .filter((l) => l.ns === 'a')
        .map((l) => l.name)
        .sort(),
      ['eth1', 'lo'],
    );
  });

  it('the predefined bridge device is made on first use only', async () => {
    const { kernel, ctl } = setup();
    await ctl.createSandbox({ name: 'a', net: 'bridge', settings: {}, ports: [] });
    await ctl.createSandbox({ name: 'b', net: 'bridge', settings: {}, ports: [] });
    const bridgeAdds = kernel.mutating().filter((c) => (c.input ?? '').includes('type bridge'));
    assert.equal(bridgeAdds.length, 1);
    assert.ok(kernel.links.has('/netctl0'));
  });

  it('a bulk connect to a network not yet made on this host makes its devices once', async () => {
    const { kernel, ctl } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await ctl.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] });
    await ctl.createSandbox({ name: 'b', net: 'web', settings: {}, ports: [] });
    const start = kernel.mutating().length;
    await ctl.connect('bridge', ['a', 'b'], {});
    const adds = kernel
      .mutating()
      .slice(start)
      .filter((c) => (c.input ?? '').includes('type bridge'));
    assert.equal(adds.length, 1);
    assert.ok(kernel.links.has('/netctl0'));
  });

  it('a journal entry left by a killed process is cleaned up by the next command', async () => {
    const { kernel, ctl, store } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    const before = kernel.dump();
    // Simulate a process killed after the intent was persisted and the first batch ran.
    await store.update(async (tx) => {
      tx.put('journal', {
        id: 'j1',
        pid: 999999,
        op: 'connect x',
        started: '',
        cleanup: [{ args: ['link', 'del', 'vethdead001'] }, { args: ['netns', 'del', 'x'] }],
      });
    });
    await kernel.run('ip', ['-batch', '-'], {
      input: 'netns add x\nlink add vethdead001 type veth peer name eth0 netns x\n',
    });
    assert.notEqual(kernel.dump(), before);
    const warnings: string[] = [];
    const ctl2 = new Controller({ store, runner: kernel, netnsDir: '/nonexistent', warn: (m) => warnings.push(m) });
    await ctl2.createNetwork(net('other', '10.9.0.0/24'));
    await ctl2.removeNetworks(['other'], false);
    assert.equal(kernel.dump(), before);
    assert.equal(store.snapshot().journal.length, 0);
    assert.match(warnings[0] ?? '', /interrupted connect x \(pid 999999\)/);
    void ctl;
  });
});

describe('engine: process budget (counted through the Runner)', () => {
  it('connect: 2 processes; bulk connect of 10: 1 + 10; rm of 10: 1', async () => {
    const { kernel, ctl, dir } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    for (let i = 0; i < 11; i++) await kernel.run('ip', ['netns', 'add', `n${i}`]);
    void dir;
    kernel.calls = [];
    await ctl.connect('web', ['n0'], {});
    assert.equal(kernel.calls.length, 2, kernel.calls.map((c) => c.args.join(' ')).join('\n'));
    kernel.calls = [];
    await ctl.connect(
      'web',
      Array.from({ length: 10 }, (_, i) => `n${i + 1}`),
      {},
    );
    assert.equal(kernel.calls.length, 11);
    assert.equal(kernel.calls.filter((c) => !c.args.includes('-n')).length, 1, 'one host-side batch for all veths');
    kernel.calls = [];
    const { results, errors } = await ctl.removeSandboxes(
      Array.from({ length: 10 }, (_, i) => `n${i + 1}`),
      false,
    );
    assert.deepEqual([results.every((r) => r === null), errors], [true, []]);
    assert.equal(kernel.calls.length, 1, 'one teardown batch');
    assert.match(kernel.calls[0]?.input ?? '', /link del group \d+/);
  });

  it('bulk connect is all or nothing, and refuses per-endpoint flags', async () => {
    const { kernel, ctl, store } = setup();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    for (const n of ['a', 'b']) await kernel.run('ip', ['netns', 'add', n]);
    const before = [kernel.dump(), JSON.stringify(store.snapshot())];
    await assert.rejects(ctl.connect('web', ['a', 'b', 'ghost'], {}), /No such container: ghost/);
    assert.deepEqual([kernel.dump(), JSON.stringify(store.snapshot())], before);
    kernel.failLine = kernel.linesSeen + 4; // inside b's namespace batch
    await assert.rejects(ctl.connect('web', ['a', 'b'], {}), /injected failure/);
    kernel.failLine = undefined;
    assert.deepEqual([kernel.dump(), JSON.stringify(store.snapshot())], before);
    await assert.rejects(
      ctl.connect('web', ['a', 'b'], { IPAMConfig: { IPv4Address: '10.1.0.9' } }),
      /apply to one container/,
    );
  });
});

describe('engine: processes started early', () => {
  /** The FakeKernel behind a Runner that notes when a process starts and when it is given its commands. */
  function watched() {
    const t = setup();
    const events: Array<{ what: 'start' | 'act' | 'cancel'; args: string; persisted: number }> = [];
    const runner = {
      run: (file: string, args: string[], opts: RunOptions = {}) => {
        events.push({ what: 'start', args: args.join(' '), persisted: t.store.history.length });
        void Promise.resolve(opts.input).then((i) => {
          const what = i ? 'act' : opts.input instanceof Promise ? 'cancel' : undefined;
          if (what) events.push({ what, args: args.join(' '), persisted: t.store.history.length });
        });
        return t.kernel.run(file, args, opts);
      },
      sysctl: (k: string, v: string) => t.kernel.sysctl(k, v),
    };
    const ctl = new Controller({ store: t.store, runner, netnsDir: t.dir, id: () => randomBytes(32).toString('hex') });
    return { ...t, ctl, events };
  }

  it('connect starts both batches before the journal is written; neither acts before it', async () => {
    const { kernel, ctl, store, events } = watched();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await kernel.run('ip', ['netns', 'add', 'a']);
    events.length = 0;
    const before = store.history.length;
    await ctl.connect('web', ['a'], {});
    const starts = events.filter((e) => e.what === 'start');
    assert.deepEqual(
      starts.map((e) => [e.args, e.persisted]),
      [
        ['-batch -', before],
        ['-n a -batch -', before],
      ],
      'both spawned before any write',
    );
    const intent = store.history[before];
    assert.equal(intent?.journal.length, 1, 'the first write is the journal intent');
    const acts = events.filter((e) => e.what === 'act');
    assert.equal(acts.length, 2);
    for (const a of acts) assert.ok(a.persisted > before, `${a.args} acted after the intent was written`);
    assert.equal(kernel.links.has('a/eth0'), true);
  });

  it('a failed first step cancels the batch started for the next: it never acts, nothing is left', async () => {
    const { kernel, ctl, store, events } = watched();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await kernel.run('ip', ['netns', 'add', 'a']);
    const before = [kernel.dump(), JSON.stringify(store.snapshot().endpoints)];
    events.length = 0;
    kernel.failLine = kernel.linesSeen; // the host batch's first line
    await assert.rejects(ctl.connect('web', ['a'], {}), /injected failure/);
    kernel.failLine = undefined;
    const acted = events.filter((e) => e.what === 'act').map((e) => e.args);
    assert.deepEqual(
      acted.filter((a) => a.startsWith('-n a')),
      [],
      'the sandbox batch was never given commands',
    );
    assert.equal(acted[0], '-batch -', 'the host batch ran (and failed), then its undo');
    assert.deepEqual([kernel.dump(), JSON.stringify(store.snapshot().endpoints)], before);
  });

  it('a journal that cannot be written cancels the batches started early: none acts', async () => {
    const { kernel, ctl, store, events } = watched();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    await kernel.run('ip', ['netns', 'add', 'a']);
    const before = kernel.dump();
    events.length = 0;
    // The store's next intent write fails, as a full disk would make it.
    const update = store.update.bind(store);
    store.update = (fn) =>
      update((tx) => {
        tx.flushJournal = async () => {
          throw new Error('ENOSPC: no space left on device');
        };
        return fn(tx);
      });
    await assert.rejects(ctl.connect('web', ['a'], {}), /ENOSPC/);
    await new Promise((r) => setImmediate(r));
    assert.equal(events.filter((e) => e.what === 'start').length, 2, 'both batches had been started');
    assert.deepEqual(
      events.filter((e) => e.what === 'act'),
      [],
      'neither was given a command',
    );
    assert.equal(
      events.filter((e) => e.what === 'cancel').length,
      2,
      'both were let go (else they wait on stdin, and netctl with them)',
    );
    assert.equal(kernel.dump(), before);
  });

  it('a sandbox whose netns the plan itself makes is not entered early', async () => {
    const { ctl, events } = watched();
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    events.length = 0;
    await ctl.createSandbox({ name: 'b', net: 'web', settings: {}, ports: [] });
    const starts = events.filter((e) => e.what === 'start').map((e) => e.args);
    assert.deepEqual(starts, ['-batch -', '-n b -batch -']);
    const inner = events.findIndex((e) => e.what === 'start' && e.args.startsWith('-n b'));
    const hostActed = events.findIndex((e) => e.what === 'act' && e.args === '-batch -');
    assert.ok(hostActed >= 0 && hostActed < inner, 'the sandbox batch starts only after the host batch made the netns');
  });
});

describe('engine: firewall', () => {
  class FakeFirewall {
    readonly name = 'fake';
    models: FwModel[] = [];
    fail = false;
    async drift(): Promise<string[]> {
      return [];
    }
    async sync(_prev: FwModel | null, m: FwModel): Promise<void> {
      if (this.fail) throw new Error('iptables-restore: injected failure');
      this.models.push(m);
    }
  }

  it('a failing firewall transaction rolls back the endpoint and the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netctl-engine-'));
    dirs.push(dir);
    const kernel = new FakeKernel(dir);
    const store = new MemoryStore();
    const firewall = new FakeFirewall();
    const ctl = new Controller({ store, runner: kernel, netnsDir: dir, firewall });
    await ctl.createNetwork(net('web', '10.1.0.0/24'));
    assert.deepEqual(
      firewall.models.at(-1)?.networks.map((n) => n.subnets),
      [['10.1.0.0/24']],
    );
    const kernelBefore = kernel.dump();
    const storeBefore = JSON.stringify(store.snapshot());
    firewall.fail = true;
    await assert.rejects(
      ctl.createSandbox({
        name: 'a',
        net: 'web',
        settings: {},
        ports: [{ proto: 'tcp', hostIP: '', hostPort: 8080, containerPort: 80 }],
      }),
      /injected failure/,
    );
    assert.equal(kernel.dump(), kernelBefore);
    // The records are as before; the firewall could not be put back either, so that stays journaled.
    const after = store.snapshot();
    assert.deepEqual(
      after.journal.map((j) => j.firewall),
      [true],
    );
    assert.equal(JSON.stringify({ ...after, journal: [] }), storeBefore);
    firewall.fail = false;
    await ctl.createSandbox({
      name: 'a',
      net: 'web',
      settings: {},
      ports: [{ proto: 'tcp', hostIP: '', hostPort: 8080, containerPort: 80 }],
    });
    assert.deepEqual(
      firewall.models.at(-1)?.ports.map((p) => `${p.hostPort}->${p.containerIP}:${p.containerPort}`),
      ['8080->10.1.0.2:80'],
    );
    await ctl.removeSandboxes(['a'], false);
    assert.deepEqual(firewall.models.at(-1)?.ports, []);
  });
});

describe('engine: failure at every step rolls back', () => {
  type Op = { name: string; prepare: (c: Controller) => Promise<void>; run: (c: Controller) => Promise<unknown> };
  const ops: Op[] = [
    { name: 'create network', prepare: async () => undefined, run: (c) => c.createNetwork(net('web', '10.1.0.0/24')) },
    {
      name: 'sandbox create',
      prepare: async (c) => {
        await c.createNetwork(net('web', '10.1.0.0/24'));
      },
      run: (c) => c.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] }),
    },
    {
      name: 'sandbox create on the default bridge (first use)',
      prepare: async () => undefined,
      run: (c) => c.createSandbox({ name: 'a', net: 'bridge', settings: {}, ports: [] }),
    },
    {
      name: 'connect',
      prepare: async (c) => {
        await c.createNetwork(net('web', '10.1.0.0/24'));
        await c.createNetwork(net('db', '10.2.0.0/24'));
        await c.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] });
      },
      run: (c) => c.connect('db', ['a'], { IPAMConfig: { IPv4Address: '10.2.0.9' } }),
    },
    {
      name: 'sandbox start',
      prepare: async (c) => {
        await c.createNetwork(net('web', '10.1.0.0/24'));
        await c.createNetwork(net('db', '10.2.0.0/24'));
        await c.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] });
        await c.connect('db', ['a'], {});
        await c.stopSandbox('a');
      },
      run: (c) => c.startSandbox('a'),
    },
  ];

  for (const op of ops) {
    it(`${op.name}: every injected failure leaves nothing behind`, async () => {
      // Count the lines a clean run applies.
      const probe = await ready();
      await op.prepare(probe.ctl);
      const start = probe.kernel.linesSeen;
      probe.kernel.failLine = undefined;
      await op.run(probe.ctl);
      const total = countLines(probe.kernel, start);
      assert.ok(total > 0);
      for (let k = 0; k < total; k++) {
        const t = await ready();
        await op.prepare(t.ctl);
        const kernelBefore = t.kernel.dump();
        const storeBefore = JSON.stringify(t.store.snapshot());
        t.kernel.failLine = t.kernel.linesSeen + k;
        await assert.rejects(op.run(t.ctl), /injected failure/, `step ${k} of ${op.name}`);
        t.kernel.failLine = undefined;
        assert.equal(t.kernel.dump(), kernelBefore, `kernel after failure at step ${k} of ${op.name}`);
        assert.equal(JSON.stringify(t.store.snapshot()), storeBefore, `store after failure at step ${k} of ${op.name}`);
      }
    });
  }
});

/** Mutating lines applied since `start` (linesSeen counts them as the fake applies them). */
function countLines(k: FakeKernel, start: number): number {
  return k.linesSeen - start;
}
