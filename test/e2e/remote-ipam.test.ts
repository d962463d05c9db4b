// docs/reference.md §10 IPAM plugins (`--ipam-driver NAME`) on real namespaces: the test plugin hands out the
// pool and the addresses (its own order: gateway .1, endpoints from .200 down, which netctl's
// IPAM would never pick), for a remote network driver and for the built-in bridge. Every call is
// recorded; failures release what the plugin gave.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot } from '../helpers/host.js';
import { PluginServer } from '../helpers/plugin-server.js';

describe('IPAM plugins end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let dir: string;
  let p: PluginServer;
  let A: string, B: string, C: string;

  const run = (...args: string[]) => h.netctlAsync(...args);
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    if (r.code !== 0) throw new Error(`netctl ${args.join(' ')} -> ${r.code}: ${r.err}`);
    return r;
  };
  const inspect = async (name: string) => JSON.parse((await ok('inspect', name)).out)[0];
  /** The plugin's calls, without the activations. */
  const calls = () => p.take().filter((m) => m !== 'Plugin.Activate');

  before(async () => {
    h = new TestHost();
    dir = mkdtempSync(join(tmpdir(), 'netctl-plugins-'));
    process.env['NETCTL_PLUGIN_DIRS'] = dir;
    [A, B, C] = [h.name('a'), h.name('b'), h.name('c')];
    p = new PluginServer(join(dir, 'both.sock'), { hostNs: h.ns, tag: h.tag, pool: '10.79.0.0/24' });
    await p.start();
  });

  after(async () => {
    await run('sandbox', 'rm', '-f', A, B, C);
    await run('rm', '-f', 'ipnet', 'brnet');
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
    delete process.env['NETCTL_PLUGIN_DIRS'];
    assert.deepEqual(h.cleanup(), []);
  });

  it('an IPAM plugin that is not there is refused, and IPv6 from one is refused clearly', async () => {
    assert.match((await run('create', '--ipam-driver', 'nosuch', 'x')).err, /^Error: plugin "nosuch" not found/);
    const r = await run('create', '--ipam-driver', 'both', '--ipv6', '--subnet', 'fd00:1::/64', 'x');
    assert.match(r.err, /^Error: network x \(IPAM driver both\): IPv6 from an IPAM plugin is not supported yet/);
    assert.deepEqual(calls(), []);
  });

  it(
    'create with a remote driver: the pool and gateway come from RequestPool and RequestAddress, ' +
      'before CreateNetwork',
    async () => {
      await ok(
        'create',
        '-d',
        'both',
        '--ipam-driver',
        'both',
        '--subnet',
        '10.78.0.0/24',
        '--ipam-opt',
        'zone=a',
        'ipnet',
      );
      const pool = p.calls.find((c) => c.method === 'IpamDriver.RequestPool')?.body;
      const gw = p.calls.find((c) => c.method === 'IpamDriver.RequestAddress')?.body;
      assert.deepEqual(calls(), [
        'GetCapabilities',
        'GetCapabilities',
        'GetDefaultAddressSpaces',
        'RequestPool',
        'RequestAddress',
        'CreateNetwork',
      ]);
      assert.deepEqual(pool, {
        AddressSpace: 'plugin-local',
        Pool: '10.78.0.0/24',
        SubPool: '',
        Options: { zone: 'a' },
        V6: false,
      });
      assert.deepEqual(gw?.['Options'], { RequestAddressType: 'com.docker.network.gateway' });
      const nw = await inspect('ipnet');
      assert.equal(nw.IPAM.Driver, 'both');
      assert.deepEqual(
        nw.IPAM.Config.map((c: { Subnet: string; Gateway: string }) => [c.Subnet, c.Gateway]),
        [['10.78.0.0/24', '10.78.0.1']],
      );
    },
  );

  it('connect: RequestAddress, then CreateEndpoint with that address; two sandboxes talk', async () => {
    await ok('sandbox', 'create', A, '--net', 'ipnet');
    // The plugin gives no Gateway: no default route through it, so no external connectivity either.
    assert.deepEqual(calls(), ['RequestAddress', 'CreateEndpoint', 'Join']);
    assert.equal(
      h.routes(A).find((r) => r.dst === 'default'),
      undefined,
    );
    await ok('sandbox', 'create', B, '--net', 'ipnet', '--ip', '10.78.0.50');
    const ce = p.calls.find((c) => c.method === 'NetworkDriver.CreateEndpoint')?.body as {
      Interface: { Address: string };
    };
    const ra = p.calls.find((c) => c.method === 'IpamDriver.RequestAddress')?.body;
    calls();
    assert.equal(ra?.['Address'], '10.78.0.50');
    assert.equal(ce.Interface.Address, '10.78.0.50/24');
    assert.deepEqual(h.addrs(A)['eth0'], ['10.78.0.200/24']);
    assert.deepEqual(h.addrs(B)['eth0'], ['10.78.0.50/24']);
    assert.ok(h.ping(A, '10.78.0.50'));
  });

  it(
    'Err at CreateEndpoint: ReleaseAddress gives the address back; ' + 'Err at RequestAddress: nothing to undo',
    async () => {
      const store = h.storeText();
      for (const [at, seen] of [
        ['CreateEndpoint', ['RequestAddress', 'CreateEndpoint', 'ReleaseAddress']],
        ['Join', ['RequestAddress', 'CreateEndpoint', 'Join', 'DeleteEndpoint', 'ReleaseAddress']],
        ['RequestAddress', ['RequestAddress']],
      ] as const) {
        p.failOn.add(at);
        const r = await run('sandbox', 'create', C, '--net', 'ipnet');
        p.failOn.clear();
        assert.equal(r.err.trim(), `Error: remote driver both: injected failure at ${at}`);
        assert.deepEqual(calls(), seen);
        assert.equal(h.storeText(), store);
        assert.ok(!h.netnsExists(C));
      }
      // .200 went back to the plugin each time: C gets .199 only because A holds .200.
      await ok('sandbox', 'create', C, '--net', 'ipnet');
      assert.deepEqual(h.addrs(C)['eth0'], ['10.78.0.199/24']);
      calls();
    },
  );

  it(
    'stop releases the address and start asks for it again; ' + 'disconnect and rm release everything in order',
    async () => {
      await ok('sandbox', 'stop', C);
      assert.deepEqual(calls(), ['Leave', 'DeleteEndpoint', 'ReleaseAddress']);
      await ok('sandbox', 'start', C);
      const ra = p.calls.find((c) => c.method === 'IpamDriver.RequestAddress')?.body;
      assert.equal(ra?.['Address'], '10.78.0.199');
      calls();
      await ok('sandbox', 'rm', A, B, C);
      calls();
      await ok('rm', 'ipnet');
      assert.deepEqual(calls(), ['DeleteNetwork', 'ReleaseAddress', 'ReleasePool']);
    },
  );

  it(
    'the built-in bridge with an IPAM plugin: ' + "the plugin's pool on the bridge, its addresses in the sandboxes",
    async () => {
      await ok('create', '--ipam-driver', 'both', 'brnet');
      assert.deepEqual(calls(), ['GetCapabilities', 'GetDefaultAddressSpaces', 'RequestPool', 'RequestAddress']);
      await ok('sandbox', 'create', A, '--net', 'brnet');
      await ok('sandbox', 'create', B, '--net', 'brnet');
      assert.deepEqual(calls(), ['RequestAddress', 'RequestAddress']);
      assert.deepEqual(h.addrs(A)['eth0'], ['10.79.0.200/24']);
      assert.deepEqual(h.addrs(B)['eth0'], ['10.79.0.199/24']);
      assert.equal(h.routes(A).find((r) => r.dst === 'default')?.gateway, '10.79.0.1');
      assert.ok(h.ping(A, '10.79.0.199'));
      assert.ok(h.ping(A, '10.79.0.1'), 'the bridge carries the gateway the plugin gave');
      await ok('sandbox', 'rm', A, B);
      assert.deepEqual(calls(), ['ReleaseAddress', 'ReleaseAddress']);
      await ok('rm', 'brnet');
      assert.deepEqual(calls(), ['ReleaseAddress', 'ReleasePool']);
    },
  );
});
