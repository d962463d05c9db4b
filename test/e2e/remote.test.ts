// docs/reference.md §10 remote drivers on real namespaces: a plugin server (test/helpers/plugin-server.ts)
// on a unix socket in a temp directory named by NETCTL_PLUGIN_DIRS; it makes its bridge and
// veths in the test host namespace. Proved by the calls it records, by the kernel (`ip -j`,
// ping) and by the store; every failure must leave the store, the links and the plugin's own
// state as they were.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot } from '../helpers/host.js';
import { PluginServer } from '../helpers/plugin-server.js';

describe('remote network drivers end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let dir: string;
  let p: PluginServer;
  let A: string, B: string;
  const NET = 'plugnet';

  /** netctl, asynchronously: the plugin answers from this process's event loop. */
  const run = (...args: string[]) => h.netctlAsync(...args);
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    if (r.code !== 0) throw new Error(`netctl ${args.join(' ')} -> ${r.code}: ${r.err}`);
    return r;
  };
  const hostLinks = () =>
    h
      .links()
      .map((l) => l.ifname)
      .filter((n) => n !== 'lo')
      .sort();

  before(async () => {
    h = new TestHost();
    dir = mkdtempSync(join(tmpdir(), 'netctl-plugins-'));
    process.env['NETCTL_PLUGIN_DIRS'] = `${dir}/none:${dir}`;
    [A, B] = [h.name('a'), h.name('b')];
    p = new PluginServer(join(dir, 'testnet.sock'), {
      hostNs: h.ns,
      tag: h.tag,
      gateway: { ip: '10.77.0.1', prefix: 24 },
    });
    await p.start();
  });

  after(async () => {
    await run('sandbox', 'rm', '-f', A, B);
    await run('rm', NET);
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
    delete process.env['NETCTL_PLUGIN_DIRS'];
    assert.deepEqual(h.cleanup(), []);
  });

  it('an unknown driver with no plugin is refused, naming it', async () => {
    const r = await run('create', '-d', 'nosuch', 'x');
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: plugin "nosuch" not found/);
    assert.equal(Object.keys(h.store().networks).filter((k) => h.store().networks[k]?.name === 'x').length, 0);
  });

  it('create: Activate, GetCapabilities, CreateNetwork with -o as com.docker.network.generic', async () => {
    await ok('create', '-d', 'testnet', '--subnet', '10.77.0.0/24', '--gateway', '10.77.0.1', '-o', 'color=blue', NET);
    const create = p.calls.find((c) => c.method === 'NetworkDriver.CreateNetwork');
    assert.deepEqual(p.take(), ['Plugin.Activate', 'GetCapabilities', 'CreateNetwork']);
    assert.equal(p.lastHeaders['content-type'], 'application/vnd.docker.plugins.v1.2+json');
    assert.equal(p.lastHeaders['accept'], 'application/vnd.docker.plugins.v1.2+json');
    const body = create?.body as {
      NetworkID: string;
      Options: Record<string, unknown>;
      IPv4Data: Array<Record<string, unknown>>;
    };
    assert.deepEqual(body.Options['com.docker.network.generic'], { color: 'blue' });
    assert.equal(body.IPv4Data[0]?.['Pool'], '10.77.0.0/24');
    assert.equal(body.IPv4Data[0]?.['Gateway'], '10.77.0.1/24');
    const nw = JSON.parse((await ok('inspect', NET)).out)[0];
    assert.equal(nw.Driver, 'testnet');
    assert.equal(nw.Id, body.NetworkID);
  });

  it(
    'connect: CreateEndpoint, Join, ProgramExternalConnectivity; ' +
      "the plugin's veth becomes eth0 with address and route",
    async () => {
      await ok('sandbox', 'create', A, '--net', NET);
      await ok('sandbox', 'create', B, '--net', NET);
      const calls = p.calls.slice(0, 4);
      assert.deepEqual(p.take(), [
        'Plugin.Activate',
        'CreateEndpoint',
        'Join',
        'ProgramExternalConnectivity',
        'Plugin.Activate',
        'CreateEndpoint',
        'Join',
        'ProgramExternalConnectivity',
      ]);
      const ce = calls[1]?.body as { Interface: { Address: string; MacAddress: string }; EndpointID: string };
      assert.match(ce.Interface.Address, /^10\.77\.0\.\d+\/24$/);
      assert.equal((calls[2]?.body as { SandboxKey: string }).SandboxKey, `/var/run/netns/${A}`);
      const a = h.links(A).find((l) => l.ifname === 'eth0');
      assert.ok(a, 'eth0 in A');
      assert.equal(a.address, ce.Interface.MacAddress);
      assert.deepEqual(h.addrs(A)['eth0'], [ce.Interface.Address]);
      assert.equal(h.routes(A).find((r) => r.dst === 'default')?.gateway, '10.77.0.1');
      const ipB = h.addrs(B)['eth0']?.[0]?.split('/')[0] ?? '';
      assert.ok(h.ping(A, ipB), "A reaches B over the plugin's bridge");
      assert.ok(h.ping(B, '10.77.0.1'), 'B reaches the gateway the plugin gave');
    },
  );

  it('disconnect: RevokeExternalConnectivity, Leave, DeleteEndpoint; connect again works', async () => {
    await ok('disconnect', NET, B);
    assert.deepEqual(p.take(), ['Plugin.Activate', 'RevokeExternalConnectivity', 'Leave', 'DeleteEndpoint']);
    assert.equal(
      h.links(B).find((l) => l.ifname.startsWith('eth')),
      undefined,
    );
    assert.equal(p.held().length, 2, "the bridge and A's veth");
    await ok('connect', NET, B);
    assert.deepEqual(p.take(), ['Plugin.Activate', 'CreateEndpoint', 'Join', 'ProgramExternalConnectivity']);
    assert.ok(
      h.links(B).some((l) => l.ifname === 'eth1'),
      'eth<N> is never reused',
    );
  });

  for (const [at, undone] of [
    ['CreateEndpoint', []],
    ['Join', ['DeleteEndpoint']],
    ['ProgramExternalConnectivity', ['Leave', 'DeleteEndpoint']],
  ] as const) {
    it(`Err at ${at}: the error names the driver, earlier calls are undone in order, nothing leaks`, async () => {
      await ok('disconnect', NET, B);
      p.take();
      const store = h.storeText();
      const links = hostLinks();
      const held = p.held();
      p.failOn.add(at);
      const r = await run('connect', NET, B);
      p.failOn.clear();
      assert.equal(r.code, 1);
      assert.equal(r.err.trim().split('\n')[0], `Error: remote driver testnet: injected failure at ${at}`);
      const upTo = ['CreateEndpoint', 'Join', 'ProgramExternalConnectivity'];
      assert.deepEqual(p.take(), ['Plugin.Activate', ...upTo.slice(0, upTo.indexOf(at) + 1), ...undone]);
      assert.equal(h.storeText(), store);
      assert.deepEqual(hostLinks(), links);
      assert.deepEqual(p.held(), held);
      assert.deepEqual(
        h.links(B).map((l) => l.ifname),
        ['lo'],
      );
      await ok('connect', NET, B);
      p.take();
    });
  }

  it('Err at CreateNetwork or GetCapabilities: no network, nothing left', async () => {
    for (const at of ['GetCapabilities', 'CreateNetwork']) {
      p.failOn.add(at);
      const r = await run('create', '-d', 'testnet', 'failing');
      p.failOn.clear();
      assert.match(r.err, new RegExp(`^Error: remote driver testnet: injected failure at ${at}`));
      assert.ok(!Object.values(h.store().networks).some((n) => n.name === 'failing'));
      assert.ok(!p.take().includes('DeleteNetwork'), 'a refused create is not undone');
    }
  });

  it('a global-scope plugin is refused: it needs a cluster store', async () => {
    const g = new PluginServer(join(dir, 'globalnet.sock'), { hostNs: h.ns, tag: `${h.tag}g`, scope: 'global' });
    await g.start();
    try {
      const r = await run('create', '-d', 'globalnet', 'gnet');
      assert.equal(r.code, 1);
      assert.match(r.err, /^Error: remote driver globalnet is of global scope: network gnet needs a cluster store/);
      assert.deepEqual(g.take(), ['Plugin.Activate', 'GetCapabilities']);
    } finally {
      await g.stop();
    }
  });

  it('the plugin killed mid-connect: rolled back, and the next command sends the calls it missed', async () => {
    await ok('disconnect', NET, B);
    p.take();
    const store = h.storeText();
    p.dieOn = 'Join';
    const r = await run('connect', NET, B);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: plugin "testnet" unreachable: socket hang up$/m);
    assert.match(r.err, /^warning: NetworkDriver.DeleteEndpoint left for a later command/m);
    assert.deepEqual(p.take(), ['Plugin.Activate', 'CreateEndpoint', 'Join', 'Leave', 'DeleteEndpoint']);
    assert.equal(h.store().journal.length, 1, 'the undo calls it could not send are journaled');
    assert.deepEqual(
      h.links(B).map((l) => l.ifname),
      ['lo'],
    );
    p.revive();
    await ok('connect', NET, B);
    assert.deepEqual(p.take(), [
      'Plugin.Activate',
      'Leave',
      'DeleteEndpoint',
      'CreateEndpoint',
      'Join',
      'ProgramExternalConnectivity',
    ]);
    assert.equal(h.store().journal.length, 0);
    assert.notEqual(h.storeText(), store);
  });

  it('netctl killed right after Join: the next command sends Leave and DeleteEndpoint from the journal', async () => {
    await ok('disconnect', NET, B);
    p.take();
    const links = hostLinks();
    process.env['NETCTL_FAULT'] = 'kill:1'; // the first kernel call: moving the plugin's veth in
    const r = await run('connect', NET, B);
    delete process.env['NETCTL_FAULT'];
    assert.notEqual(r.code, 0);
    assert.deepEqual(p.take(), ['Plugin.Activate', 'CreateEndpoint', 'Join']);
    assert.equal(h.store().journal.length, 1);
    assert.notDeepEqual(hostLinks(), links, "the plugin's veth is still there");
    await ok('connect', NET, B);
    assert.deepEqual(p.take(), [
      'Plugin.Activate',
      'Leave',
      'DeleteEndpoint',
      'CreateEndpoint',
      'Join',
      'ProgramExternalConnectivity',
    ]);
    assert.equal(h.store().journal.length, 0);
    assert.equal(hostLinks().length, links.length + 1, "only the new endpoint's veth was added");
  });

  it('restore replays CreateEndpoint and Join for an endpoint whose interface is gone', async () => {
    const gone = h.links(B).find((l) => l.ifname !== 'lo')?.ifname ?? '';
    const ipB = h.addrs(B)[gone]?.[0];
    assert.match(ipB ?? '', /^10\.77\.0\.\d+\/24$/);
    assert.equal(spawnSync('ip', ['-n', B, 'link', 'del', gone]).status, 0);
    await ok('restore');
    assert.deepEqual(
      p.take().filter((m) => m !== 'Plugin.Activate'),
      ['CreateEndpoint', 'Join', 'ProgramExternalConnectivity'],
    );
    assert.equal(h.addrs(B)[gone]?.[0], ipB);
    assert.ok(h.ping(B, h.addrs(A)['eth0']?.[0]?.split('/')[0] ?? ''));
  });

  it('a plugin gone for good: teardown warns and still removes the endpoint', async () => {
    await p.stop();
    const r = await run('disconnect', NET, B);
    await p.start();
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /plugin "testnet" not found/);
    assert.equal(h.store().journal.length, 0);
    assert.deepEqual(
      h.links(B).map((l) => l.ifname),
      ['lo'],
    );
    // That endpoint stays in the plugin's own state (it never heard the Leave); netctl has forgotten it.
    p.take();
    await ok('connect', NET, B);
    p.take();
  });

  it('rm: DeleteNetwork after the endpoints are gone', async () => {
    await ok('sandbox', 'rm', A, B);
    assert.deepEqual(
      p.take().filter((m) => m !== 'Plugin.Activate'),
      [
        'RevokeExternalConnectivity',
        'Leave',
        'DeleteEndpoint',
        'RevokeExternalConnectivity',
        'Leave',
        'DeleteEndpoint',
      ],
    );
    await ok('rm', NET);
    assert.deepEqual(p.take(), ['Plugin.Activate', 'DeleteNetwork']);
    assert.ok(!h.links().some((l) => l.ifname.startsWith(`${h.tag}b`)), "the plugin's bridge is gone");
  });

  it('.spec and .json discovery (unix:// URLs), and a bad address refused', async () => {
    const q = new PluginServer(join(dir, 'elsewhere.sock'), { hostNs: h.ns, tag: `${h.tag}q` });
    await q.start();
    try {
      writeFileSync(join(dir, 'specnet.spec'), `unix://${q.socket}\n`);
      writeFileSync(join(dir, 'jsonnet.json'), JSON.stringify({ Name: 'jsonnet', Addr: `unix://${q.socket}` }));
      for (const d of ['specnet', 'jsonnet']) {
        await ok('create', '-d', d, `n-${d}`);
        assert.deepEqual(q.take(), ['Plugin.Activate', 'GetCapabilities', 'CreateNetwork']);
        await ok('rm', `n-${d}`);
        assert.deepEqual(q.take(), ['Plugin.Activate', 'DeleteNetwork']);
      }
      writeFileSync(join(dir, 'badnet.spec'), 'https://example.invalid:1\n');
      const r = await run('create', '-d', 'badnet', 'n-bad');
      assert.match(
        r.err,
        /^Error: plugin "badnet": .*badnet\.spec has an unsupported address "https:\/\/example\.invalid:1"/,
      );
    } finally {
      await q.stop();
    }
  });
});
