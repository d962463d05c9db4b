// Tier 1/2: the driver registry, the contract every driver keeps with the core, the macvlan
// driver's options and create-time checks, and macvlan through the controller against the
// fake kernel (exact `ip` text, rollback at every line, the parent never touched).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { Controller } from '../../src/core/controller.js';
import type { Driver } from '../../src/drivers/driver.js';
import { allDrivers, driverFor, driverNames, PREDEFINED } from '../../src/drivers/index.js';
import { macvlanDriver } from '../../src/drivers/macvlan.js';
import { firewallModel } from '../../src/firewall/model.js';
import { ipBatch, ipCleanup, type KernelView, type LinkInfo } from '../../src/kernel/ip.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../src/lib/errors.js';
import { checkIfName } from '../../src/lib/validate.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord, Step } from '../../src/model/records.js';
import type { NetworkCreate } from '../../src/model/requests.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { ReadTxn } from '../../src/store/store.js';
import { FakeKernel } from '../helpers/fake-kernel.js';
import { bridgeNet, engineSetup } from '../helpers/engine.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop() ?? '', { recursive: true, force: true });
});

// ---------------------------------------------------------------- fixtures

const ID_WEB = 'aa'.repeat(32);
const ID_MV = 'bb'.repeat(32);

function network(over: Partial<NetworkRecord> & { id: string; name: string; driver: string }): NetworkRecord {
  return {
    created: '2026-01-01T00:00:00.000Z',
    scope: 'local',
    enableIPv6: false,
    internal: false,
    attachable: false,
    ipam: { driver: 'default', options: {}, config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }] },
    userSubnets: true,
    options: {},
    labels: {},
    predefined: false,
    driverState: {},
    ...over,
  };
}

function sandbox(over: Partial<SandboxRecord> & { id: string; name: string }): SandboxRecord {
  return {
    created: '2026-01-01T00:00:00.000Z',
    mode: 'network',
    state: 'running',
    netns: over.name,
    ownsNetns: true,
    nextIf: 1,
    networks: {},
    hostname: over.name,
    ports: [],
    ...over,
  };
}

function endpoint(
  over: Partial<EndpointRecord> & { id: string; networkId: string; sandboxId: string },
): EndpointRecord {
  return {
    ifName: 'eth0',
    hostIf: '',
    mac: '02:42:0a:01:00:05',
    ipv4: '10.1.0.5/24',
    ipv6: '',
    gateway4: '10.1.0.1',
    gateway6: '',
    seq: 0,
    gwPriority: 0,
    ...over,
  };
}

/** A record of this driver as `create` makes it (options parsed, driver state initialised). */
function recordFor(d: Driver, options: Record<string, string> = {}): NetworkRecord {
  const nw = network({ id: ID_WEB, name: `t-${d.name}`, driver: d.name });
  nw.options = d.parseOptions(d.name === 'macvlan' ? { parent: 'up0', ...options } : options, nw.name);
  // A global network's mirror also holds this host's part (cluster/global.ts prepares it).
  nw.driverState = { ...d.initState(nw), ...(d.global ? { vni: 4096, local: '192.0.2.1', mtu: 1450 } : {}) };
  return nw;
}

const errorOf = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected a throw');
};

// ---------------------------------------------------------------- 1. the registry

describe('drivers: registry', () => {
  it('lists bridge, host, null, macvlan and overlay, each under its own name', () => {
    assert.deepEqual([...driverNames()].sort(), ['bridge', 'host', 'macvlan', 'null', 'overlay']);
    assert.deepEqual(
      allDrivers().map((d) => d.name),
      driverNames(),
    );
    for (const n of driverNames()) assert.equal(driverFor(n).name, n);
  });

  it('predefined networks: bridge, host and none, each of a registered driver', () => {
    assert.deepEqual(PREDEFINED, [
      { name: 'bridge', driver: 'bridge' },
      { name: 'host', driver: 'host' },
      { name: 'none', driver: 'null' },
    ]);
    for (const p of PREDEFINED) assert.equal(driverFor(p.driver).name, p.driver);
  });
});

// ---------------------------------------------------------------- 2. the contract

/** A fake kernel with what a driver's plans may rely on: the sandbox netns and the macvlan parent. */
function contractKernel(): FakeKernel {
  const k = new FakeKernel();
  k.netns.add('sb');
  k.addLink('sb', 'lo', 'loopback');
  k.addLink('', 'up0');
  return k;
}

const creates = (c: string[]) => (c[0] === 'link' || c[0] === 'netns') && c[1] === 'add';

describe('drivers: the contract the core relies on', () => {
  for (const d of allDrivers()) {
    if (!d.plumbs) {
      it(`${d.name}: no devices, no plans, one network only`, () => {
        const nw = recordFor(d);
        const sb = sandbox({ id: 'cc'.repeat(32), name: 'sb' });
        const ep = endpoint({
          id: 'dd'.repeat(32),
          networkId: nw.id,
          sandboxId: sb.id,
          ifName: '',
          mac: '',
          ipv4: '',
          gateway4: '',
        });
        assert.equal(d.singleton, true);
        assert.deepEqual(d.endpointNames(nw, 3), { ifName: '', hostIf: '' });
        assert.deepEqual(d.createNetwork(nw), []);
        assert.deepEqual(d.deleteNetwork(nw), []);
        assert.deepEqual(d.join(nw, ep, { ...sb, networks: {} }), []);
        assert.deepEqual(d.leave(nw, ep, sb), []);
        assert.equal(d.firewall, undefined);
      });
      continue;
    }

    it(`${d.name}: endpoint names end in the index and are valid interface names`, () => {
      const nw = recordFor(d);
      assert.notEqual(d.singleton, true);
      for (const n of [0, 3, 12]) {
        const { ifName, hostIf } = d.endpointNames(nw, n);
        assert.ok(ifName.length > 0);
        assert.ok(ifName.endsWith(String(n)), ifName);
        checkIfName(ifName);
        if (hostIf) checkIfName(hostIf);
      }
      const prefixed = recordFor(d, { 'com.docker.network.container_iface_prefix': 'lan' });
      assert.equal(d.endpointNames(prefixed, 3).ifName, 'lan3');
    });

    it(
      `${d.name}: join makes exactly ifName inside the sandbox, ` + 'every step undoes itself, leave removes it',
      async () => {
        const k = contractKernel();
        const nw = recordFor(d);
        const sb = sandbox({ id: 'cc'.repeat(32), name: 'sb', netns: 'sb' });
        const names = d.endpointNames(nw, 3);
        const ep = endpoint({
          id: 'dd'.repeat(32),
          networkId: nw.id,
          sandboxId: sb.id,
          ...names,
          mac: '02:42:0a:01:00:05',
        });

        // Each step alone, then its undo: back where it started.
        const runUndone = async (steps: Step[]) => {
          for (const st of steps) {
            const made = st.cmds.filter(creates);
            if (made.length)
              assert.ok(st.undo.length > 0, `a step making a device has an undo: ${JSON.stringify(st.cmds)}`);
            const before = k.dump();
            await ipBatch(k, st.ns, st.cmds);
            if (made.length) assert.notEqual(k.dump(), before);
            assert.deepEqual(await ipCleanup(k, st.undo), []);
            if (made.length) assert.equal(k.dump(), before, `undo of ${JSON.stringify(st.cmds)}`);
            await ipBatch(k, st.ns, st.cmds); // and again, to build on
          }
        };

        const empty = k.dump();
        await runUndone(d.createNetwork(nw));
        const withNetwork = k.dump();
        const inSb = () =>
          [...k.links.values()]
            .filter((l) => l.ns === 'sb')
            .map((l) => l.name)
            .sort();
        assert.deepEqual(inSb(), ['lo']);

        const steps = d.join(nw, ep, sb);
        assert.ok(steps.length > 0);
        // The argv says where the device goes: `netns sb` on the creating line, or a step inside sb.
        const placing = steps.filter(
          (st) =>
            st.ns === 'sb' ||
            st.cmds.some((c) => creates(c) && c.includes(ep.ifName) && c[c.indexOf('netns') + 1] === 'sb'),
        );
        assert.ok(placing.length > 0, JSON.stringify(steps));
        await runUndone(steps);
        assert.deepEqual(inSb(), ['lo', ep.ifName].sort());
        const dev = [...k.links.values()].find((l) => l.ns === 'sb' && l.name === ep.ifName);
        assert.equal(dev?.up, false, 'join makes the device; the core configures it');
        assert.deepEqual(dev?.addrs, []);

        const leave = d.leave(nw, ep, sb);
        assert.ok(leave.length > 0);
        assert.deepEqual(await ipCleanup(k, leave), []);
        assert.equal(k.dump(), withNetwork, 'leave removes what join made, and only that');
        assert.deepEqual(await ipCleanup(k, leave), [], 'leave twice: already gone is fine');

        const del = d.deleteNetwork(nw);
        assert.deepEqual(await ipCleanup(k, del), []);
        assert.equal(k.dump(), empty);
        if (d.name === 'macvlan') assert.deepEqual(del, [], 'macvlan never touches the parent');
        assert.ok(k.links.has('/up0'));
      },
    );
  }

  it('macvlan: the creating line names the parent, the mode, the MAC and the sandbox', () => {
    const nw = recordFor(macvlanDriver, { macvlan_mode: 'private', 'com.docker.network.driver.mtu': '1400' });
    const sb = sandbox({ id: 'cc'.repeat(32), name: 'sb', netns: 'sb' });
    const ep = endpoint({
      id: 'dd'.repeat(32),
      networkId: nw.id,
      sandboxId: sb.id,
      ...macvlanDriver.endpointNames(nw, 3),
    });
    assert.deepEqual(macvlanDriver.join(nw, ep, sb), [
      {
        cmds: [
          [
            'link',
            'add',
            'link',
            'up0',
            'name',
            'eth3',
            'mtu',
            '1400',
            'address',
            '02:42:0a:01:00:05',
            'netns',
            'sb',
            'type',
            'macvlan',
            'mode',
            'private',
          ],
        ],
        undo: [{ ns: 'sb', args: ['link', 'del', 'eth3'] }],
      },
    ]);
    assert.deepEqual(macvlanDriver.leave(nw, ep, sb), [{ ns: 'sb', args: ['link', 'del', 'eth3'] }]);
    assert.deepEqual(macvlanDriver.createNetwork(nw), []);
    assert.deepEqual(macvlanDriver.initState(nw), {});
    assert.equal(macvlanDriver.firewall, undefined);
  });
});

describe('fake kernel: macvlan children', () => {
  const add = (parent: string, ns: string) => [
    'link',
    'add',
    'link',
    parent,
    'name',
    'mv0',
    'address',
    '02:42:00:00:00:01',
    'netns',
    ns,
    'type',
    'macvlan',
    'mode',
    'bridge',
  ];

  it('fails like the kernel without the parent or the netns, and makes nothing', async () => {
    const k = contractKernel();
    const before = k.dump();
    const noParent = await k.run('ip', add('ghost0', 'sb'));
    assert.equal(noParent.exitCode, 1);
    assert.match(noParent.stderr, /Cannot find device "ghost0"/);
    const noNetns = await k.run('ip', add('up0', 'ghost'));
    assert.equal(noNetns.exitCode, 1);
    assert.match(noNetns.stderr, /Invalid netns value "ghost"/);
    // The parent is looked up where the command runs: not in the target netns.
    k.addLink('sb', 'inner0');
    assert.equal((await k.run('ip', add('inner0', 'sb'))).exitCode, 1);
    k.links.delete('sb/inner0');
    assert.equal(k.dump(), before);
  });

  it('the child lives in the netns, goes with `link del` there or with its parent', async () => {
    const k = contractKernel();
    assert.equal((await k.run('ip', add('up0', 'sb'))).exitCode, 0);
    assert.equal(k.links.get('sb/mv0')?.parent, '/up0');
    assert.equal((await k.run('ip', add('up0', 'sb'))).exitCode, 1, 'File exists');
    assert.equal((await k.run('ip', ['link', 'del', 'mv0'])).exitCode, 1, 'not in the host namespace');
    assert.equal((await k.run('ip', ['-n', 'sb', 'link', 'del', 'mv0'])).exitCode, 0);
    assert.equal(k.links.has('sb/mv0'), false);
    assert.ok(k.links.has('/up0'));
    await k.run('ip', add('up0', 'sb'));
    await k.run('ip', ['link', 'del', 'up0']);
    assert.equal(k.links.has('sb/mv0'), false);
  });
});

// ---------------------------------------------------------------- 3. macvlan options

describe('macvlan: options', () => {
  const parse = (o: Record<string, string>) => macvlanDriver.parseOptions(o, 'mv');
  const rejects = (o: Record<string, string>, re: RegExp) => {
    const e = errorOf(() => parse(o));
    assert.ok(e instanceof InvalidArgumentError, `${JSON.stringify(o)}: ${e.constructor.name}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /[\u0000-\u001f\u007f]/, 'one line, control characters escaped');
    return e;
  };

  it('needs a parent', () => {
    rejects({}, /^macvlan network mv needs -o parent=<interface>$/);
    rejects({ macvlan_mode: 'bridge' }, /macvlan network mv needs -o parent=<interface>/);
  });

  it('refuses a parent that is not an interface name', () => {
    for (const p of ['a/b', 'a'.repeat(16), 'a b', 'eth0\nx', 'eth0\u0007', '', '-x', 'a:b'])
      rejects({ parent: p }, /invalid parent interface name/);
    assert.match(rejects({ parent: 'eth0\nx' }, /./).message, /eth0\\x0ax/);
    assert.equal(parse({ parent: 'a'.repeat(15) })['parent'], 'a'.repeat(15));
    assert.equal(parse({ parent: 'enp3s0.100' })['parent'], 'enp3s0.100');
  });

  it('macvlan_mode: one of bridge, private, vepa, passthru; bridge by default', () => {
    rejects({ parent: 'up0', macvlan_mode: 'bogus' }, /macvlan_mode/);
    rejects({ parent: 'up0', macvlan_mode: 'x\ny' }, /macvlan_mode/);
    rejects({ parent: 'up0', macvlan_mode: '' }, /macvlan_mode/);
    assert.deepEqual(parse({ parent: 'up0' }), { parent: 'up0', macvlan_mode: 'bridge' });
    for (const m of ['bridge', 'private', 'vepa', 'passthru'])
      assert.equal(parse({ parent: 'up0', macvlan_mode: m })['macvlan_mode'], m);
  });

  it('the common options: mtu and the interface prefix', () => {
    const e = rejects({ parent: 'up0', 'com.docker.network.driver.mtu': 'abc' }, /./);
    assert.equal(e.message, 'failed to parse com.docker.network.driver.mtu value: abc');
    rejects(
      { parent: 'up0', 'com.docker.network.driver.mtu': '67' },
      /failed to parse com.docker.network.driver.mtu value: 67/,
    );
    assert.equal(
      parse({ parent: 'up0', 'com.docker.network.driver.mtu': '01500' })['com.docker.network.driver.mtu'],
      '1500',
    );
    rejects(
      { parent: 'up0', 'com.docker.network.container_iface_prefix': 'a b' },
      /failed to parse com.docker.network.container_iface_prefix/,
    );
  });

  it('does not change what it was given', () => {
    const o = { parent: 'up0' };
    parse(o);
    assert.deepEqual(o, { parent: 'up0' });
  });
});

// ---------------------------------------------------------------- 4. macvlan create-time checks

describe('macvlan: checkCreate', () => {
  const link = (ifname: string, over: Partial<LinkInfo> = {}): [string, LinkInfo] => [
    ifname,
    { ifname, link_type: 'ether', ...over },
  ];
  const kernelWith = (...links: Array<[string, LinkInfo]>) =>
    ({ links: async () => new Map(links) }) as unknown as KernelView;

  /** A store with a bridge network `web` (nc-aaaaaaaaaaaa) and container `a` on it through vethaaaa001. */
  async function storeWithWeb(): Promise<MemoryStore> {
    const store = new MemoryStore();
    await store.update(async (tx) => {
      tx.put(
        'networks',
        network({
          id: ID_WEB,
          name: 'web',
          driver: 'bridge',
          driverState: { bridge: `nc-${ID_WEB.slice(0, 12)}`, ready: true },
        }),
      );
      tx.put(
        'networks',
        network({
          id: 'ee'.repeat(32),
          name: 'bridge',
          driver: 'bridge',
          predefined: true,
          ipam: { driver: 'default', options: {}, config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] },
          driverState: { bridge: 'netctl0', ready: true },
        }),
      );
      const sb = sandbox({ id: 'cc'.repeat(32), name: 'a', networks: { [ID_WEB]: { name: 'web', settings: {} } } });
      tx.put('sandboxes', sb);
      tx.put(
        'endpoints',
        endpoint({ id: 'dd'.repeat(32), networkId: ID_WEB, sandboxId: sb.id, hostIf: 'vethaaaa001' }),
      );
    });
    return store;
  }

  const check = async (store: MemoryStore, parent: string, kernel: KernelView) => {
    const nw = network({
      id: ID_MV,
      name: 'mv',
      driver: 'macvlan',
      options: macvlanDriver.parseOptions({ parent }, 'mv'),
    });
    const req = { options: { parent } } as unknown as NetworkCreate;
    const run = (tx: ReadTxn) => macvlanDriver.checkCreate?.({ tx, kernel }, nw, req);
    assert.ok(macvlanDriver.checkCreate);
    return store.view(run);
  };

  it('the parent must exist', async () => {
    const store = await storeWithWeb();
    await assert.rejects(
      check(store, 'up0', kernelWith(link('eth9'))),
      (e: Error) => e instanceof NotFoundError && e.message === 'parent interface up0 not found',
    );
  });

  it('not the loopback', async () => {
    const store = await storeWithWeb();
    await assert.rejects(
      check(store, 'lo', kernelWith(link('lo', { link_type: 'loopback' }))),
      (e: Error) => e instanceof InvalidArgumentError && /loopback/.test(e.message),
    );
  });

  it('not the bridge of a network', async () => {
    const store = await storeWithWeb();
    const br = `nc-${ID_WEB.slice(0, 12)}`;
    await assert.rejects(
      check(store, br, kernelWith(link(br, { linkinfo: { info_kind: 'bridge' } }))),
      (e: Error) => e instanceof ConflictError && e.message === `parent interface ${br} is the bridge of network web`,
    );
    await assert.rejects(
      check(store, 'netctl0', kernelWith(link('netctl0', { linkinfo: { info_kind: 'bridge' } }))),
      /is the bridge of network bridge/,
    );
  });

  it('not an endpoint of a container: a recorded host veth, or any port of a netctl bridge', async () => {
    const store = await storeWithWeb();
    const br = `nc-${ID_WEB.slice(0, 12)}`;
    await assert.rejects(
      check(store, 'vethaaaa001', kernelWith(link('vethaaaa001', { master: br }))),
      (e: Error) =>
        e instanceof ConflictError && e.message === 'parent interface vethaaaa001 is an endpoint of container a',
    );
    // Not in the store (yet, or any more), but a port of a netctl bridge all the same.
    await assert.rejects(
      check(store, 'vethbbbb002', kernelWith(link('vethbbbb002', { master: br }))),
      (e: Error) => e instanceof ConflictError && /is a port of the bridge of network/.test(e.message),
    );
    await assert.rejects(
      check(store, 'vethcccc003', kernelWith(link('vethcccc003', { master: 'netctl0' }))),
      /is a port of the bridge of network bridge$/,
    );
  });

  it('a plain uplink passes (a veth, a port of a bridge netctl does not own)', async () => {
    const store = await storeWithWeb();
    await check(store, 'veth0', kernelWith(link('veth0', { linkinfo: { info_kind: 'veth' } })));
    await check(store, 'eth0', kernelWith(link('eth0', { master: 'br-user' })));
    await check(store, 'eth0', kernelWith(link('eth0'), link('vethaaaa001', { master: `nc-${ID_WEB.slice(0, 12)}` })));
  });
});

// ---------------------------------------------------------------- 5. macvlan through the controller

const setup = () => engineSetup(dirs, 'netctl-drivers-');

const mvNet = (name = 'mv', options: Record<string, string> = { parent: 'up0' }): NetworkCreate => ({
  ...bridgeNet(name, '192.168.50.0/24'),
  driver: 'macvlan',
  options,
});

/** A controller whose fake host has the uplink up0 and a macvlan network mv on it. */
async function withMacvlan() {
  const t = setup();
  t.kernel.addLink('', 'up0');
  await t.ctl.createNetwork(mvNet());
  t.kernel.calls = [];
  return t;
}

const up0 = (k: FakeKernel) => JSON.stringify(k.links.get('/up0'));
const touchesUp0 = (k: FakeKernel) => k.mutating().filter((c) => [...c.args, c.input ?? ''].join(' ').includes('up0'));

describe('macvlan: through the controller', () => {
  it('create: no kernel write, the network recorded with its parent and mode', async () => {
    const { kernel, ctl, store } = setup();
    kernel.addLink('', 'up0');
    const before = kernel.dump();
    const id = await ctl.createNetwork(mvNet());
    assert.deepEqual(kernel.mutating(), []);
    assert.equal(kernel.dump(), before);
    const nw = store.snapshot().networks[id];
    assert.equal(nw?.driver, 'macvlan');
    assert.deepEqual(nw?.options, { parent: 'up0', macvlan_mode: 'bridge' });
    assert.deepEqual(nw?.ipam.config, [{ Subnet: '192.168.50.0/24', Gateway: '192.168.50.1' }]);
    assert.equal(nw?.driverState['ready'], true);
    assert.equal(nw?.driverState['bridge'], undefined);
    assert.deepEqual(store.snapshot().journal, []);
  });

  it('create: a parent the host lacks, or its loopback, is refused and nothing is recorded', async () => {
    const { kernel, ctl, store } = setup();
    kernel.addLink('', 'lo', 'loopback');
    await ctl.view(() => 0, true);
    const before = JSON.stringify(store.snapshot());
    await assert.rejects(ctl.createNetwork(mvNet()), /^NotFoundError: parent interface up0 not found$/);
    await assert.rejects(ctl.createNetwork(mvNet('mv', { parent: 'lo' })), /loopback/);
    await assert.rejects(ctl.createNetwork(mvNet('mv', {})), /macvlan network mv needs -o parent=<interface>/);
    assert.equal(JSON.stringify(store.snapshot()), before);
    assert.deepEqual(kernel.mutating(), []);
  });

  it('create: the bridge of another network cannot be the parent', async () => {
    const { kernel, ctl } = setup();
    const id = await ctl.createNetwork(bridgeNet('web', '10.1.0.0/24'));
    const br = `nc-${id.slice(0, 12)}`;
    kernel.calls = [];
    await assert.rejects(
      ctl.createNetwork(mvNet('mv', { parent: br })),
      new RegExp(`parent interface ${br} is the bridge of network web`),
    );
    assert.deepEqual(kernel.mutating(), []);
  });

  it('sandbox create: two processes, the child made inside the netns, then configured there', async () => {
    const { kernel, ctl, store } = await withMacvlan();
    const sbId = await ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] });
    assert.deepEqual(
      kernel.calls.map((c) => ({ args: c.args, input: c.input })),
      [
        {
          args: ['-batch', '-'],
          input:
            'netns add a\nlink add link up0 name eth0 address 02:42:c0:a8:32:02 netns a type macvlan mode bridge\n',
        },
        {
          args: ['-n', 'a', '-batch', '-'],
          input:
            'link set lo up\nlink set eth0 addrgenmode none\naddr add 192.168.50.2/24 dev eth0\n' +
            'link set eth0 up\nroute replace default via 192.168.50.1 dev eth0\n',
        },
      ],
    );
    const eth0 = kernel.links.get('a/eth0');
    assert.deepEqual(
      [eth0?.kind, eth0?.parent, eth0?.mode, eth0?.address, eth0?.up, eth0?.addrs],
      ['macvlan', '/up0', 'bridge', '02:42:c0:a8:32:02', true, ['192.168.50.2/24']],
    );
    assert.deepEqual(kernel.routes.get('a'), ['default via 192.168.50.1 dev eth0']);
    const eps = Object.values(store.snapshot().endpoints);
    assert.deepEqual(
      eps.map((e) => [e.sandboxId, e.ifName, e.hostIf, e.ipv4, e.gateway4]),
      [[sbId, 'eth0', '', '192.168.50.2/24', '192.168.50.1']],
    );
  });

  it('sandbox create with an mtu and another mode: the child carries them', async () => {
    const t = setup();
    t.kernel.addLink('', 'up0');
    await t.ctl.createNetwork(
      mvNet('mv', { parent: 'up0', macvlan_mode: 'vepa', 'com.docker.network.driver.mtu': '1400' }),
    );
    t.kernel.calls = [];
    await t.ctl.createSandbox({
      name: 'a',
      net: 'mv',
      settings: { IPAMConfig: { IPv4Address: '192.168.50.77' } },
      ports: [],
    });
    assert.equal(
      t.kernel.calls[0]?.input,
      'netns add a\nlink add link up0 name eth0 mtu 1400 address 02:42:c0:a8:32:4d netns a type macvlan mode vepa\n',
    );
    assert.equal(t.kernel.links.get('a/eth0')?.mode, 'vepa');
  });

  it('sandbox create: a failure at every line leaves kernel and store as they were', async () => {
    const probe = await withMacvlan();
    const start = probe.kernel.linesSeen;
    await probe.ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] });
    const total = probe.kernel.linesSeen - start;
    assert.equal(total, 7);
    for (let k = 0; k < total; k++) {
      const t = await withMacvlan();
      const kernelBefore = t.kernel.dump();
      const storeBefore = JSON.stringify(t.store.snapshot());
      t.kernel.failLine = t.kernel.linesSeen + k;
      await assert.rejects(
        t.ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] }),
        /injected failure/,
        `line ${k}`,
      );
      t.kernel.failLine = undefined;
      assert.equal(t.kernel.dump(), kernelBefore, `kernel after a failure at line ${k}`);
      assert.equal(JSON.stringify(t.store.snapshot()), storeBefore, `store after a failure at line ${k}`);
      assert.deepEqual(
        touchesUp0(t.kernel).filter((c) => !/link add link up0 /.test(c.input ?? '')),
        [],
        'the rollback never touches the parent',
      );
    }
  });

  it('sandbox create once the parent is gone: the kernel error, and nothing left behind', async () => {
    const t = await withMacvlan();
    t.kernel.links.delete('/up0');
    const kernelBefore = t.kernel.dump();
    const storeBefore = JSON.stringify(t.store.snapshot());
    await assert.rejects(
      t.ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] }),
      /Cannot find device "up0"/,
    );
    assert.equal(t.kernel.dump(), kernelBefore);
    assert.equal(JSON.stringify(t.store.snapshot()), storeBefore);
  });

  it('rm of the sandbox deletes the child in its netns; rm of the network touches nothing', async () => {
    const { kernel, ctl, store } = await withMacvlan();
    const parent = up0(kernel);
    await ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] });
    await ctl.createSandbox({ name: 'b', net: 'mv', settings: {}, ports: [] });
    kernel.calls = [];
    const rmSb = await ctl.removeSandboxes(['a'], false);
    assert.deepEqual(rmSb, { results: [null], errors: [] });
    assert.deepEqual(touchesUp0(kernel), []);
    assert.equal(kernel.netns.has('a'), false);
    assert.ok(kernel.links.has('b/eth0'));
    await ctl.removeSandboxes(['b'], false);
    kernel.calls = [];
    const rmNet = await ctl.removeNetworks(['mv'], false);
    assert.deepEqual(rmNet, { results: [null], errors: [] });
    assert.deepEqual(kernel.mutating(), []);
    assert.deepEqual(
      kernel.calls.filter((c) => [...c.args, c.input ?? ''].join(' ').includes('up0')),
      [],
    );
    assert.equal(up0(kernel), parent, 'the parent is as it was');
    assert.deepEqual(
      Object.values(store.snapshot().networks)
        .map((n) => n.name)
        .sort(),
      ['bridge', 'host', 'none'],
    );
    assert.deepEqual([...kernel.links.keys()], ['/up0']);
  });

  it('connect and disconnect: a second macvlan endpoint as eth1, removed inside the netns', async () => {
    const { kernel, ctl } = await withMacvlan();
    await ctl.createNetwork(bridgeNet('web', '10.1.0.0/24'));
    await ctl.createSandbox({ name: 'a', net: 'web', settings: {}, ports: [] });
    kernel.calls = [];
    await ctl.connect('mv', ['a'], {});
    assert.deepEqual(
      kernel.mutating().map((c) => [c.args.join(' '), c.input]),
      [
        // Started before the journal is written (the netns exists): a batch even for one command.
        ['-batch -', 'link add link up0 name eth1 address 02:42:c0:a8:32:02 netns a type macvlan mode bridge\n'],
        ['-n a -batch -', 'link set eth1 addrgenmode none\naddr add 192.168.50.2/24 dev eth1\nlink set eth1 up\n'],
      ],
    );
    kernel.calls = [];
    await ctl.disconnect('mv', 'a', false);
    assert.deepEqual(
      kernel.mutating().map((c) => [c.args.join(' '), c.input]),
      [['-n a -force -batch -', 'link del eth1\n']],
    );
    assert.equal(kernel.links.has('a/eth1'), false);
    assert.ok(kernel.links.has('/up0'));
  });
});

// ---------------------------------------------------------------- 6. the firewall model

describe('macvlan: no part in the firewall', () => {
  it('only the bridge network has rules, and a sandbox whose gateway is on macvlan publishes nothing', async () => {
    const store = new MemoryStore();
    const br = `nc-${ID_WEB.slice(0, 12)}`;
    const port = { proto: 'tcp' as const, hostIP: '', hostPort: 8080, containerPort: 80 };
    await store.update(async (tx) => {
      tx.put(
        'networks',
        network({ id: ID_WEB, name: 'web', driver: 'bridge', driverState: { bridge: br, ready: true } }),
      );
      tx.put(
        'networks',
        network({
          id: ID_MV,
          name: 'mv',
          driver: 'macvlan',
          options: { parent: 'up0', macvlan_mode: 'bridge' },
          driverState: { ready: true },
          ipam: { driver: 'default', options: {}, config: [{ Subnet: '192.168.50.0/24', Gateway: '192.168.50.1' }] },
        }),
      );
      // m: on mv first (its gateway), then on web. w: on web only, the control.
      tx.put(
        'sandboxes',
        sandbox({
          id: '11'.repeat(32),
          name: 'm',
          ports: [port],
          networks: { [ID_MV]: { name: 'mv', settings: {} }, [ID_WEB]: { name: 'web', settings: {} } },
        }),
      );
      tx.put(
        'endpoints',
        endpoint({
          id: '21'.repeat(32),
          networkId: ID_MV,
          sandboxId: '11'.repeat(32),
          ipv4: '192.168.50.2/24',
          gateway4: '192.168.50.1',
          seq: 0,
        }),
      );
      tx.put(
        'endpoints',
        endpoint({
          id: '22'.repeat(32),
          networkId: ID_WEB,
          sandboxId: '11'.repeat(32),
          ifName: 'eth1',
          hostIf: 'vethaaaa001',
          ipv4: '10.1.0.2/24',
          seq: 1,
        }),
      );
      tx.put(
        'sandboxes',
        sandbox({
          id: '12'.repeat(32),
          name: 'w',
          ports: [{ ...port, hostPort: 8081 }],
          networks: { [ID_WEB]: { name: 'web', settings: {} } },
        }),
      );
      tx.put(
        'endpoints',
        endpoint({
          id: '23'.repeat(32),
          networkId: ID_WEB,
          sandboxId: '12'.repeat(32),
          hostIf: 'vethaaaa002',
          ipv4: '10.1.0.3/24',
        }),
      );
    });
    const m = await store.view(firewallModel);
    assert.deepEqual(m.networks, [
      {
        id12: ID_WEB.slice(0, 12),
        bridge: br,
        subnets: ['10.1.0.0/24'],
        internal: false,
        icc: true,
        masquerade: true,
        mode4: 'nat',
        mode6: 'nat',
      },
    ]);
    assert.deepEqual(m.ports, [
      {
        id12: '12'.repeat(6),
        bridge: br,
        containerIP: '10.1.0.3',
        proto: 'tcp',
        hostIP: '',
        hostPort: 8081,
        containerPort: 80,
        family: 4,
        mode: 'nat',
      },
    ]);
  });

  it(
    'through the controller: a macvlan network and its sandbox never reach the firewall; ' + '-p on it is refused',
    async () => {
      const t = setup();
      const models: Array<ReturnType<typeof firewallModel>> = [];
      const ctl = new Controller({
        store: t.store,
        runner: t.kernel,
        netnsDir: t.dir,
        firewall: {
          name: 'fake',
          drift: async () => [],
          sync: async (_p, m) => {
            models.push(m);
          },
        },
      });
      t.kernel.addLink('', 'up0');
      await ctl.createNetwork(mvNet());
      const before = t.kernel.dump();
      await assert.rejects(
        ctl.createSandbox({
          name: 'a',
          net: 'mv',
          settings: {},
          ports: [{ proto: 'tcp', hostIP: '', hostPort: 8080, containerPort: 80 }],
        }),
        /port publishing needs a network netctl publishes ports on: mv is a macvlan network \(sandbox a\)/,
      );
      assert.equal(t.kernel.dump(), before, 'the refused sandbox left nothing');
      await ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] });
      for (const m of models) assert.deepEqual(m, { networks: [], ports: [] });
      assert.deepEqual(t.kernel.sysctls.get('net.ipv4.ip_forward'), undefined, 'no forwarding switched on for macvlan');
    },
  );
});

// ---------------------------------------------------------------- known bug, kept visible

describe('macvlan: restore', () => {
  // src/core/restore.ts plans a re-join for every missing endpoint and applies all steps in one
  // all-or-nothing apply(); macvlan's checkEndpoint reports `missing` whether or not the parent
  // exists, so one absent uplink makes the whole restore fail and roll back (bridges included).
  it('after a reboot without the uplink, the bridge networks and their sandboxes are still restored', async () => {
    const t = await withMacvlan();
    const web = await t.ctl.createNetwork(bridgeNet('web', '10.1.0.0/24'));
    await t.ctl.createSandbox({ name: 'a', net: 'mv', settings: {}, ports: [] });
    await t.ctl.createSandbox({ name: 'b', net: 'web', settings: {}, ports: [] });
    for (const n of ['a', 'b']) await t.kernel.run('ip', ['netns', 'del', n]);
    for (const k of [...t.kernel.links.keys()]) t.kernel.links.delete(k); // the host came back without up0
    await t.ctl.restore().catch(() => undefined);
    assert.ok(t.kernel.links.has(`/nc-${web.slice(0, 12)}`), 'the bridge of web is back');
    assert.ok(t.kernel.links.has('b/eth0'), 'b is back on web');
  });
});
