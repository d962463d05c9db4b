// The CNI protocol's pure parts (cli/cni-protocol.ts): environment, configuration, version
// negotiation, CNI_ARGS, the ADD result and the error object; and the sandbox name of a
// container id.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addResult,
  CniError,
  CODE,
  decode,
  endpointSettings,
  errorResult,
  expectedAddresses,
  negotiate,
  parseArgs,
  parseCommand,
  parseConfig,
  parseEnv,
  versionAtLeast,
  versionResult,
} from '../../src/cli/cni-protocol.js';
import { cniMain } from '../../src/cli/cni.js';
import { cniSandboxName, cniWantedName } from '../../src/core/cni.js';
import { LockTimeoutError } from '../../src/store/lock.js';
import { ConflictError, InvalidArgumentError, NotFoundError, SystemError } from '../../src/lib/errors.js';

const code = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, String(e));
    return e.code;
  }
  assert.fail('no error');
};

describe('CNI environment', () => {
  const env = { CNI_CONTAINERID: 'abc', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0' };

  it('CNI_COMMAND must be one of the six', () => {
    assert.equal(parseCommand({ CNI_COMMAND: 'GC' }), 'GC');
    assert.equal(
      code(() => parseCommand({})),
      CODE.env,
    );
    assert.equal(
      code(() => parseCommand({ CNI_COMMAND: 'add' })),
      CODE.env,
    );
  });

  it('ADD and CHECK need the three attachment variables; DEL may lack CNI_NETNS', () => {
    assert.deepEqual(parseEnv('ADD', env), { containerId: 'abc', ifName: 'eth0', netns: '/var/run/netns/x', args: {} });
    for (const k of Object.keys(env)) {
      const less: Record<string, string> = { ...env };
      delete less[k];
      assert.equal(
        code(() => parseEnv('CHECK', less)),
        CODE.env,
        k,
      );
    }
    assert.deepEqual(parseEnv('DEL', { ...env, CNI_NETNS: '' }), { containerId: 'abc', ifName: 'eth0', args: {} });
  });

  it('refuses hostile values, naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ CNI_CONTAINERID: '-rf' }, /CNI_CONTAINERID/],
      [{ CNI_CONTAINERID: 'a b' }, /CNI_CONTAINERID/],
      [{ CNI_CONTAINERID: 'a'.repeat(257) }, /at most 256/],
      [{ CNI_IFNAME: 'averyveryverylongname' }, /CNI_IFNAME/],
      [{ CNI_IFNAME: 'eth0\n' }, /CNI_IFNAME: .*eth0\\x0a/],
      [{ CNI_NETNS: 'relative/ns' }, /CNI_NETNS/],
      [{ CNI_NETNS: '/run/netns/a b' }, /CNI_NETNS/],
      [{ CNI_ARGS: 'IP' }, /CNI_ARGS/],
      [{ CNI_ARGS: '=x' }, /CNI_ARGS/],
    ];
    for (const [bad, msg] of cases)
      assert.throws(
        () => parseEnv('ADD', { ...env, ...bad }),
        (e: Error) => e instanceof CniError && e.code === CODE.env && msg.test(e.message),
      );
  });

  it('CNI_ARGS: K=V pairs, empty items tolerated, values keep their =', () => {
    assert.deepEqual(parseArgs('IgnoreUnknown=1;;K8S_POD_NAME=web-0;X=a=b'), {
      IgnoreUnknown: '1',
      K8S_POD_NAME: 'web-0',
      X: 'a=b',
    });
    assert.deepEqual(parseArgs(''), {});
  });

  it('IP= and MAC= become endpoint settings; runtimeConfig ips/mac when CNI_ARGS has none', () => {
    assert.deepEqual(endpointSettings({ IP: '10.1.0.5' }, {}), { IPAMConfig: { IPv4Address: '10.1.0.5' } });
    assert.deepEqual(endpointSettings({ IP: '10.1.0.5/24,fd00::5' }, {}), {
      IPAMConfig: { IPv4Address: '10.1.0.5', IPv6Address: 'fd00::5' },
    });
    assert.deepEqual(endpointSettings({}, { ips: ['10.1.0.6/24'], mac: '02:00:00:00:00:01' }), {
      IPAMConfig: { IPv4Address: '10.1.0.6' },
      MacAddress: '02:00:00:00:00:01',
    });
    assert.deepEqual(endpointSettings({ MAC: '02:00:00:00:00:02' }, {}), { MacAddress: '02:00:00:00:00:02' });
    assert.equal(
      code(() => endpointSettings({ IP: '10.1.0.300' }, {})),
      CODE.config,
    );
    assert.equal(
      code(() => endpointSettings({ IP: '10.1.0.5,10.1.0.6' }, {})),
      CODE.config,
    );
  });
});

describe('CNI configuration', () => {
  it('decode: 6 for bad JSON, 7 for a non-object', () => {
    assert.equal(
      code(() => decode('{')),
      CODE.decode,
    );
    assert.equal(
      code(() => decode('[1]')),
      CODE.config,
    );
    assert.deepEqual(decode('{"a":1}'), { a: 1 });
  });

  it('network from "network", else "name"; root defaults; objects checked', () => {
    assert.deepEqual(parseConfig({ name: 'web' }), {
      network: 'web',
      root: '/var/lib/netctl',
      runtimeConfig: {},
      raw: { name: 'web' },
    });
    assert.equal(parseConfig({ name: 'k8s', network: 'web', root: '/tmp/r' }).network, 'web');
    assert.equal(parseConfig({ name: 'web', root: '/tmp/r' }).root, '/tmp/r');
    for (const bad of [
      {},
      { name: 1 },
      { name: 'a;b' },
      { name: 'web', root: 'rel' },
      { name: 'web', prevResult: [] },
      { name: 'web', dns: 'x' },
    ]) {
      assert.equal(
        code(() => parseConfig(bad)),
        CODE.config,
        JSON.stringify(bad),
      );
    }
  });

  it('negotiates the highest version both sides support', () => {
    assert.equal(negotiate({ cniVersion: '1.1.0' }), '1.1.0');
    assert.equal(negotiate({ cniVersion: '1.0.0' }), '1.0.0');
    assert.equal(negotiate({ cniVersion: '0.4.0', cniVersions: ['0.3.1', '0.4.0', '1.0.0'] }), '1.0.0');
    assert.equal(negotiate({ cniVersion: '0.4.0' }), '0.4.0', "older runtimes' version (podman 4.3)");
    assert.equal(negotiate({ cniVersion: '1.0.0', cniVersions: ['1.1.0', '1.0.0'] }), '1.1.0');
    assert.equal(
      code(() => negotiate({ cniVersion: '0.3.1' })),
      CODE.incompatible,
    );
    assert.equal(
      code(() => negotiate({})),
      CODE.incompatible,
    );
    assert.ok(
      versionAtLeast('1.1.0', '1.1.0') && versionAtLeast('1.10.0', '1.2.0') && !versionAtLeast('1.0.0', '1.1.0'),
    );
  });

  it('VERSION echoes the input version', () => {
    assert.deepEqual(versionResult('{"cniVersion":"0.4.0"}'), {
      cniVersion: '0.4.0',
      supportedVersions: ['0.4.0', '1.0.0', '1.1.0'],
    });
    assert.equal(versionResult('not json').cniVersion, '1.1.0');
  });
});

describe('CNI results', () => {
  const at = {
    ifName: 'eth0',
    hostIf: 'veth1234567',
    mac: '02:42:0a:00:00:05',
    ipv4: '10.0.0.5/24',
    ipv6: '',
    gateway4: '10.0.0.1',
    gateway6: '',
    gateway: true,
  };

  it('ADD: host and container interfaces, addresses on the container one, its default route, dns', () => {
    assert.deepEqual(addResult('1.1.0', at, '/run/netns/c', { dns: { nameservers: ['10.0.0.1'] } }), {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'veth1234567' }, { name: 'eth0', mac: '02:42:0a:00:00:05', sandbox: '/run/netns/c' }],
      ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
      dns: { nameservers: ['10.0.0.1'] },
    });
  });

  it("0.4.0: every address names its family, as that version's result does", () => {
    const r = addResult('0.4.0', { ...at, ipv6: 'fd00::5/64', gateway6: 'fd00::1' }, '/run/netns/c', {});
    assert.equal(r['cniVersion'], '0.4.0');
    assert.deepEqual(r['ips'], [
      { version: '4', address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 1 },
      { version: '6', address: 'fd00::5/64', gateway: 'fd00::1', interface: 1 },
    ]);
  });

  it('no default route when another endpoint carries it; IPv6 and MTU; no host side for macvlan', () => {
    const r = addResult(
      '1.0.0',
      { ...at, hostIf: '', gateway: false, ipv6: 'fd00::5/64', gateway6: 'fd00::1', mtu: 1400 },
      '/run/netns/c',
      {},
    );
    assert.deepEqual(r['interfaces'], [{ name: 'eth0', mac: at.mac, mtu: 1400, sandbox: '/run/netns/c' }]);
    assert.deepEqual(r['ips'], [
      { address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 0 },
      { address: 'fd00::5/64', gateway: 'fd00::1', interface: 0 },
    ]);
    assert.deepEqual(r['routes'], []);
    assert.deepEqual(r['dns'], {});
  });

  it('a prevResult is kept and extended (indexes shifted)', () => {
    const prev = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'lo', sandbox: '/run/netns/c' }],
      ips: [{ address: '127.0.0.1/8', interface: 0 }],
      routes: [{ dst: '10.9.0.0/16' }],
      dns: { search: ['x'] },
    };
    const r = addResult('1.1.0', at, '/run/netns/c', { prevResult: prev });
    assert.deepEqual((r['interfaces'] as unknown[]).length, 3);
    assert.deepEqual(r['ips'], [prev.ips[0], { address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 2 }]);
    assert.deepEqual(r['routes'], [{ dst: '10.9.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.0.0.1' }]);
    assert.deepEqual(r['dns'], { search: ['x'] });
    assert.deepEqual(prev.ips.length, 1, 'prevResult not mutated');
  });

  it('CHECK expects the addresses prevResult lists for the container interface', () => {
    const prev = addResult('1.1.0', at, '/run/netns/c', {});
    assert.deepEqual(expectedAddresses(prev, 'eth0'), ['10.0.0.5/24']);
    assert.deepEqual(expectedAddresses(prev, 'eth1'), []);
    assert.deepEqual(expectedAddresses(undefined, 'eth0'), []);
  });

  it('errors: netctl classes to codes, STATUS always 50, one line, hint as details', () => {
    assert.deepEqual(errorResult('1.1.0', new NotFoundError('network x not found', 'create it')), {
      cniVersion: '1.1.0',
      code: 101,
      msg: 'network x not found',
      details: 'create it',
    });
    assert.equal(errorResult('1.1.0', new ConflictError('dup'))['code'], 100);
    assert.equal(errorResult('1.1.0', new InvalidArgumentError('bad'))['code'], 7);
    assert.equal(errorResult('1.1.0', new SystemError('ip: boom'))['code'], 102);
    assert.equal(
      errorResult('1.1.0', new LockTimeoutError('timed out after 60s waiting for the netctl lock on /r'))['code'],
      11,
    );
    assert.equal(errorResult('1.1.0', new NotFoundError('network x not found'), 'STATUS')['code'], 50);
    assert.equal(
      errorResult('1.1.0', new CniError(CODE.config, 'bad conf'), 'STATUS')['code'],
      7,
      'a bad configuration stays 7',
    );
    assert.equal(errorResult('1.0.0', new Error('a\n  b'))['msg'], 'a; b');
    assert.equal(errorResult('1.0.0', new Error('x'))['cniVersion'], '1.0.0');
  });
});

describe('cniMain without privileges or kernel', () => {
  const runMain = async (env: Record<string, string>, input: string) => {
    let out = '';
    const rc = await cniMain({ out: (s) => (out += s), err: () => undefined }, env, async () => input);
    return { rc, json: JSON.parse(out) as Record<string, unknown> };
  };

  it('answers VERSION and refuses STATUS/GC below 1.1.0 with code 1', async () => {
    assert.deepEqual(await runMain({ CNI_COMMAND: 'VERSION' }, ''), {
      rc: 0,
      json: { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] },
    });
    const r = await runMain({ CNI_COMMAND: 'STATUS' }, '{"cniVersion":"1.0.0","name":"web"}');
    assert.deepEqual([r.rc, r.json['code'], r.json['cniVersion']], [1, 1, '1.0.0']);
  });

  it('an unreadable stdin is code 5', async () => {
    let out = '';
    const rc = await cniMain({ out: (s) => (out += s), err: () => undefined }, { CNI_COMMAND: 'ADD' }, async () => {
      throw new Error('EIO');
    });
    assert.deepEqual([rc, JSON.parse(out).code], [1, 5]);
  });
});

describe('sandbox names of container ids', () => {
  it('cni-<id> when it fits, else 47 characters of it and 12 of its hash', () => {
    assert.equal(cniSandboxName('abc'), 'cni-abc');
    const long = 'f'.repeat(64);
    const n = cniSandboxName(long);
    assert.equal(n.length, 64);
    assert.match(n, /^cni-f{47}-[0-9a-f]{12}$/);
    assert.equal(cniSandboxName(long), n, 'deterministic');
    assert.notEqual(cniSandboxName(`${'f'.repeat(63)}e`), n, 'ids sharing 47 characters differ');
    assert.equal(cniSandboxName('a'.repeat(60)), `cni-${'a'.repeat(60)}`);
    assert.match(cniSandboxName('a'.repeat(61)), /^cni-a{47}-/);
  });
});

describe('sandbox names of pods', () => {
  it('NAMESPACE.NAME, or NAME, from K8S_POD_*; the container id when the pod name is unusable', () => {
    assert.equal(cniWantedName('abc', { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'nginx' }), 'default.nginx');
    assert.equal(cniWantedName('abc', { K8S_POD_NAME: 'pm1' }), 'pm1', 'podman 4.3 passes the container name');
    assert.equal(cniWantedName('abc', {}), 'cni-abc');
    assert.equal(cniWantedName('default-abc', { IgnoreUnknown: '1' }), 'cni-default-abc', 'ctr: NAMESPACE-ID');
    assert.equal(cniWantedName('abc', { K8S_POD_NAME: 'x'.repeat(65) }), 'cni-abc', 'over 64 characters');
    assert.equal(cniWantedName('abc', { K8S_POD_NAME: 'a b' }), 'cni-abc', 'not a sandbox name');
  });
});
