// The container side: stopped-sandbox connect/start, none mode, adoption, exec, eth<N> numbering.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { BIN, TestHost, isRoot } from '../helpers/host.js';

describe('sandboxes end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;

  before(() => {
    h = new TestHost();
    h.ok('create', '--subnet', '10.232.1.0/24', 'web');
    h.ok('create', '--subnet', '10.232.2.0/24', 'db');
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  it('the default bridge network is made on first use with device netctl0', () => {
    const s = h.name('dflt');
    h.ok('sandbox', 'create', s);
    const br = h.links().find((l) => l.ifname === 'netctl0');
    assert.ok(br, 'netctl0 exists');
    const [nw] = JSON.parse(h.ok('inspect', 'bridge')) as Array<{
      IPAM: { Config: Array<{ Subnet: string; Gateway: string }> };
    }>;
    const gw = nw?.IPAM.Config[0]?.Gateway ?? '';
    assert.match(
      nw?.IPAM.Config[0]?.Subnet ?? '',
      /^172\.17\.0\.0\/16$/,
      'first free default pool in an empty namespace',
    );
    assert.ok(h.ping(s, gw), 'sandbox reaches the bridge gateway');
    h.ok('sandbox', 'rm', s);
  });

  it('stop keeps the settings and deletes the netns; start rebuilds it; eth<N> is never reused', () => {
    const s = h.name('life');
    h.ok('sandbox', 'create', s, '--net', 'web', '--ip', '10.232.1.20');
    h.ok('sandbox', 'stop', s);
    assert.equal(h.netnsExists(s), false, 'netns deleted on stop');
    assert.equal(Object.keys(h.store().endpoints).length, 0, 'endpoints released');
    // Connecting a stopped sandbox only records the settings.
    h.ok('connect', 'db', s, '--ip', '10.232.2.30');
    assert.equal(h.netnsExists(s), false);
    const [rec] = JSON.parse(h.ok('sandbox', 'inspect', s)) as Array<{
      State: string;
      NetworkSettings: { Networks: Record<string, { IPAMConfig: { IPv4Address: string } }> };
    }>;
    assert.equal(rec?.State, 'stopped');
    assert.deepEqual(Object.keys(rec?.NetworkSettings.Networks ?? {}), ['web', 'db']);
    assert.equal(rec?.NetworkSettings.Networks['db']?.IPAMConfig.IPv4Address, '10.232.2.30');
    h.ok('sandbox', 'start', s);
    assert.deepEqual(h.addrs(s), { lo: ['127.0.0.1/8'], eth1: ['10.232.1.20/24'], eth2: ['10.232.2.30/24'] });
    assert.equal(h.routes(s).find((r) => r.dst === 'default')?.gateway, '10.232.1.1');
    assert.ok(h.ping(s, '10.232.2.1'));
    h.ok('sandbox', 'rm', s);
    assert.equal(h.netnsExists(s), false);
  });

  it('start fails clearly when a recorded address was taken meanwhile, and leaves nothing', () => {
    const s = h.name('clash');
    const t = h.name('thief');
    h.ok('sandbox', 'create', s, '--net', 'web', '--ip', '10.232.1.40');
    h.ok('sandbox', 'stop', s);
    // The address it had is kept; one only recorded while it was stopped is not.
    const kept = h.netctl('sandbox', 'create', t, '--net', 'web', '--ip', '10.232.1.40');
    assert.match(kept.err, /Address already in use: 10\.232\.1\.40 \(reserved by stopped container .*clash\)/);
    h.ok('disconnect', 'web', s);
    h.ok('connect', 'web', s, '--ip', '10.232.1.40');
    h.ok('sandbox', 'create', t, '--net', 'web', '--ip', '10.232.1.40');
    const linksBefore = h
      .links()
      .map((l) => l.ifname)
      .sort();
    const r = h.netctl('sandbox', 'start', s);
    assert.equal(r.code, 1);
    assert.match(r.err, /Address already in use: 10\.232\.1\.40 \(held by container .*thief\)/);
    assert.equal(h.netnsExists(s), false, 'no netns left by the failed start');
    assert.deepEqual(
      h
        .links()
        .map((l) => l.ifname)
        .sort(),
      linksBefore,
      'no veth left',
    );
    h.ok('sandbox', 'rm', s, t);
  });

  it('the MTU option reaches the bridge and both ends of the veth', () => {
    const id = h.ok('create', '--subnet', '10.232.5.0/24', '-o', 'com.docker.network.driver.mtu=1400', 'small').trim();
    const s = h.name('mtu');
    h.ok('sandbox', 'create', s, '--net', 'small');
    const br = h.links().find((l) => l.ifname === `nc-${id.slice(0, 12)}`);
    const veth = h.links().find((l) => l.master === br?.ifname);
    assert.deepEqual([br?.mtu, veth?.mtu, h.links(s).find((l) => l.ifname === 'eth0')?.mtu], [1400, 1400, 1400]);
    h.ok('sandbox', 'rm', s);
    h.ok('rm', 'small');
  });

  it('a none sandbox has only lo, and a later connect gives it a NIC (as pouch)', () => {
    const s = h.name('none');
    h.ok('sandbox', 'create', s, '--net', 'none');
    assert.deepEqual(
      h.links(s).map((l) => l.ifname),
      ['lo'],
    );
    assert.deepEqual(h.routes(s), []);
    h.ok('connect', 'web', s);
    assert.deepEqual(Object.keys(h.addrs(s)).sort(), ['eth0', 'lo']);
    assert.ok(h.ping(s, '10.232.1.1'));
    h.ok('sandbox', 'rm', s);
  });

  it('adopts a namespace made by ip netns add, and leaves it in place on rm', () => {
    const s = h.name('foreign');
    h.foreignNetns(s);
    h.ok('connect', 'web', s, '--ip', '10.232.1.77');
    assert.deepEqual(h.addrs(s)['eth0'], ['10.232.1.77/24']);
    const peer = h.name('peer');
    h.ok('sandbox', 'create', peer, '--net', 'web');
    assert.ok(h.ping(peer, '10.232.1.77'), 'traffic reaches the adopted namespace');
    h.ok('sandbox', 'rm', s, peer);
    assert.equal(h.netnsExists(s), true, 'adopted netns kept');
    assert.deepEqual(
      h.links(s).map((l) => l.ifname),
      ['lo'],
      'netctl interfaces gone from it',
    );
  });

  it('sandbox create refuses a netns it does not own', () => {
    const s = h.name('taken');
    h.foreignNetns(s);
    const r = h.netctl('sandbox', 'create', s);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`netns ${s} already exists`));
    assert.match(r.err, /hint: .*sandbox attach/);
  });

  it('sandbox attach adopts a netns by PID or by its path, and rm leaves the namespace alive', async () => {
    const proc = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    const byPid = h.name('bypid');
    try {
      h.ok('sandbox', 'attach', byPid, '--pid', String(proc.pid));
      assert.ok(h.netnsExists(byPid), 'named under /var/run/netns');
      h.ok('connect', 'web', byPid, '--ip', '10.232.1.66');
      const inProc = JSON.parse(
        h.run('nsenter', [`--net=/proc/${proc.pid}/ns/net`, 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']).out,
      ) as Array<{ addr_info: Array<{ local: string }> }>;
      assert.equal(inProc[0]?.addr_info[0]?.local, '10.232.1.66', 'the process sees the address');
      h.ok('sandbox', 'rm', byPid);
      assert.equal(h.netnsExists(byPid), false, 'the name netctl made is gone');
      assert.equal(proc.exitCode, null, 'the process and its namespace live on');
      assert.deepEqual(
        JSON.parse(h.run('nsenter', [`--net=/proc/${proc.pid}/ns/net`, 'ip', '-j', 'link', 'show']).out).map(
          (l: { ifname: string }) => l.ifname,
        ),
        ['lo'],
      );
    } finally {
      proc.kill();
    }
    const byPath = h.name('bypath');
    h.foreignNetns(byPath);
    assert.match(
      h.netctl('sandbox', 'create', byPath).err,
      new RegExp(`hint: .*netctl sandbox attach ${byPath} --netns /var/run/netns/${byPath}`),
    );
    h.ok('sandbox', 'attach', byPath, '--netns', `/var/run/netns/${byPath}`);
    h.ok('connect', 'web', byPath);
    h.ok('sandbox', 'rm', byPath);
    assert.ok(h.netnsExists(byPath), 'a name netctl did not make stays');
    assert.equal(h.netctl('sandbox', 'attach', h.name('nobody'), '--pid', '999999999').code, 1);
  });

  it("the host's own network namespace is never a sandbox: init's, or the one netctl runs in", () => {
    const x = h.name('hostns');
    for (const [args, ref] of [
      [['--pid', '1'], 'pid:1'],
      [['--netns', '/proc/1/ns/net'], 'netns:/proc/1/ns/net'],
      [['--netns', '/proc/self/ns/net'], 'netns:/proc/self/ns/net'],
    ] as const) {
      const r = h.netctl('sandbox', 'attach', x, ...args);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err, `Error: ${ref} is the host's own network namespace (use --net host)\n`);
    }
    assert.equal(h.netnsExists(x), false, 'no name bound');
    assert.doesNotMatch(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), new RegExp(x));
  });

  it('works when run through `ip netns exec` (a private slave mount namespace per call)', () => {
    const viaExec = (...args: string[]) => h.run('ip', ['netns', 'exec', h.ns, BIN, '--root', h.root, ...args]);
    const [a, b] = [h.name('ipx-a'), h.name('ipx-b')];
    assert.equal(viaExec('sandbox', 'create', a, '--net', 'web', '--ip', '10.232.1.81').code, 0);
    assert.equal(viaExec('sandbox', 'create', b, '--net', 'web', '--ip', '10.232.1.82').code, 0);
    // The namespaces outlive the calls that made them and are reachable from outside.
    assert.ok(h.ping(a, '10.232.1.82'));
    assert.equal(viaExec('doctor').code, 0);
    assert.equal(viaExec('sandbox', 'rm', a, b).code, 0);
    assert.equal(h.netnsExists(a), false);
    // A wrapper between `ip netns exec` and netctl (timeout, a shell) shares its private namespace.
    const [c, d] = [h.name('ipx-c'), h.name('ipx-d')];
    const wrapped = (wrapper: string[], ...args: string[]) =>
      h.run('ip', ['netns', 'exec', h.ns, ...wrapper, BIN, '--root', h.root, ...args]);
    const shell = ['sh', '-c', '"$0" "$@"; exit $?'];
    assert.equal(wrapped(['timeout', '30'], 'sandbox', 'create', c, '--net', 'web', '--ip', '10.232.1.83').code, 0);
    assert.equal(wrapped(shell, 'sandbox', 'create', d, '--net', 'web', '--ip', '10.232.1.84').code, 0);
    assert.ok(h.netnsExists(c) && h.netnsExists(d), 'the names are seen outside the calls that made them');
    assert.ok(h.ping(c, '10.232.1.84'));
    assert.equal(wrapped(['timeout', '30'], 'sandbox', 'rm', c, d).code, 0);
    assert.equal(h.netnsExists(c) || h.netnsExists(d), false);
  });

  it('exec runs inside the sandbox and passes the exit status through', () => {
    const s = h.name('exec');
    h.ok('sandbox', 'create', s, '--net', 'db', '--ip', '10.232.2.99');
    const r = h.netctl('exec', s, '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    assert.equal(r.code, 0);
    assert.match(r.out, /10\.232\.2\.99\/24/);
    assert.equal(h.netctl('exec', s, '--', 'sh', '-c', 'exit 7').code, 7);
    // bin/netctl's shebang starts node without NODE_EXTRA_CA_CERTS; the command still gets it.
    const env = h.run('nsenter', [
      `--net=/var/run/netns/${h.ns}`,
      'env',
      'NODE_EXTRA_CA_CERTS=/tmp/netctl-test-ca.pem',
      BIN,
      '--root',
      h.root,
      'exec',
      s,
      '--',
      'sh',
      '-c',
      'echo "$NODE_EXTRA_CA_CERTS|${NETCTL_SAVED_CA-unset}"',
    ]);
    assert.equal(env.out, '/tmp/netctl-test-ca.pem|unset\n', env.err);
    h.ok('sandbox', 'rm', s);
  });

  it('sandbox ls and inspect describe what exists', () => {
    const s = h.name('ls');
    h.ok('sandbox', 'create', s, '--net', 'web', '--alias', 'api');
    h.ok('connect', 'db', s);
    const lines = h.ok('sandbox', 'ls').trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^SANDBOX ID {5}NAME +MODE +STATE +NETWORKS$/);
    assert.match(lines.find((l) => l.includes(s)) ?? '', /running +web,db$/);
    const [v] = JSON.parse(h.ok('sandbox', 'inspect', s)) as Array<{
      NetworkSettings: {
        Networks: Record<string, { Aliases: string[]; IPAddress: string; Gateway: string; MacAddress: string }>;
      };
    }>;
    const web = v?.NetworkSettings.Networks['web'];
    assert.deepEqual(web?.Aliases, ['api']);
    assert.equal(web?.Gateway, '10.232.1.1');
    assert.equal(h.links(s).find((l) => l.ifname === 'eth0')?.address, web?.MacAddress);
    assert.deepEqual(h.addrs(s)['eth0'], [`${web?.IPAddress}/24`]);
    h.ok('sandbox', 'rm', s);
  });

  it('bulk connect: many containers in one call, all or nothing; bulk rm', () => {
    const names = Array.from({ length: 12 }, (_, i) => h.name(`bulk${i}`));
    for (const n of names) h.foreignNetns(n);
    const linksBefore = h
      .links()
      .map((l) => l.ifname)
      .sort();
    const bad = h.netctl('connect', 'web', ...names, h.name('missing'));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /No such container: .*missing/);
    assert.deepEqual(
      h
        .links()
        .map((l) => l.ifname)
        .sort(),
      linksBefore,
      'nothing half done',
    );
    const flags = h.netctl('connect', '--ip', '10.232.1.200', 'web', ...names.slice(0, 2));
    assert.equal(flags.code, 125);
    assert.match(flags.err, /apply to one container/);
    h.ok('connect', 'web', ...names);
    const ips = names.map((n) => h.addrs(n)['eth0']?.[0] ?? '');
    assert.equal(new Set(ips).size, names.length);
    assert.ok(h.ping(names[0] ?? '', (ips[11] ?? '').split('/')[0] ?? ''), 'first reaches last');
    assert.equal(h.ok('sandbox', 'rm', ...names), names.map((n) => `${n}\n`).join(''));
    assert.deepEqual(
      h
        .links()
        .map((l) => l.ifname)
        .sort(),
      linksBefore,
      'every veth gone',
    );
    for (const n of names)
      assert.deepEqual(
        h.links(n).map((l) => l.ifname),
        ['lo'],
      );
  });

  it('concurrent connects never hand out the same address', async () => {
    const names = Array.from({ length: 8 }, (_, i) => h.name(`par${i}`));
    for (const n of names) h.foreignNetns(n);
    const results = await Promise.all(names.map((n) => h.netctlAsync('connect', 'db', n)));
    assert.deepEqual(
      results.map((r) => r.code),
      names.map(() => 0),
      results.map((r) => r.err).join(''),
    );
    const ips = names.map((n) => h.addrs(n)['eth0']?.[0]);
    assert.equal(new Set(ips).size, names.length, `distinct: ${ips.join(' ')}`);
    h.ok('sandbox', 'rm', ...names);
  });
});
