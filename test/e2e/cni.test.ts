// docs/reference.md §12: bin/netctl-cni driven as a CNI runtime drives it (CNI_* in the environment, the
// configuration on stdin), inside the test host namespace, against container namespaces the
// test made. Asserted through the kernel (`ip -j`, ping) and netctl's own commands.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

const CNI_BIN = fileURLToPath(new URL('../../../bin/netctl-cni', import.meta.url));
const TUNING = '/usr/lib/cni/tuning';

interface Out {
  code: number;
  out: string;
  err: string;
  json: Record<string, unknown> | null;
}
interface AddResult {
  cniVersion: string;
  interfaces: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips: Array<{ address: string; gateway?: string; interface: number }>;
  routes: Array<{ dst: string; gw?: string }>;
  dns: Record<string, unknown>;
}

describe('netctl as a CNI plugin', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.1.0',
    name: 'web',
    type: 'netctl-cni',
    network: 'web',
    root: h.root,
    ...extra,
  });

  /** One plugin call as a runtime makes it. */
  const cni = (command: string, env: Record<string, string>, input: unknown = conf()): Out => {
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${h.ns}`, CNI_BIN], {
      encoding: 'utf8',
      input: typeof input === 'string' ? input : JSON.stringify(input),
      env: { ...process.env, CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin', ...env },
    });
    let json: Record<string, unknown> | null = null;
    try {
      json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : null;
    } catch {
      /* asserted by the caller */
    }
    return { code: r.status ?? 1, out: r.stdout, err: r.stderr, json };
  };
  const att = (id: string, ns: string, ifName = 'eth0') => ({
    CNI_CONTAINERID: id,
    CNI_NETNS: `/var/run/netns/${ns}`,
    CNI_IFNAME: ifName,
  });
  const add = (
    id: string,
    ns: string,
    ifName = 'eth0',
    extra: Record<string, string> = {},
    input: unknown = conf(),
  ): AddResult => {
    const r = cni('ADD', { ...att(id, ns, ifName), ...extra }, input);
    assert.equal(r.code, 0, `ADD ${id}: ${r.out} ${r.err}`);
    return r.json as unknown as AddResult;
  };
  /** A container netns the "runtime" made (left alone by netctl, checked for leaked links). */
  const container = (x: string): string => {
    const n = h.name(x);
    h.foreignNetns(n);
    return n;
  };
  const ifaces = (ns: string) =>
    h
      .links(ns)
      .map((l) => l.ifname)
      .sort();
  const snapshot = () =>
    JSON.stringify({
      links: h
        .links()
        .map((l) => l.ifname)
        .sort(),
      store: h.storeText(),
      netns: readdirSync('/var/run/netns')
        .filter((n) => n.includes(h.tag))
        .sort(),
    });

  before(() => {
    h = new TestHost();
    h.ok('create', '--subnet', '10.250.1.0/24', 'web');
    h.ok('create', '--subnet', '10.250.2.0/24', 'db');
    h.ok('create', '--subnet', '10.250.3.0/30', 'tiny'); // one address besides the gateway
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
    const bound = readdirSync('/var/run/netns').filter((n) => n.startsWith(`cni-${h.tag}`));
    assert.deepEqual(bound, [], 'no netns name netctl bound is left');
  });

  it('VERSION echoes the asked version and lists 0.4.0, 1.0.0 and 1.1.0', () => {
    const r = cni('VERSION', {}, { cniVersion: '1.0.0' });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.json, { cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    assert.equal(cni('VERSION', {}, '').json?.['cniVersion'], '1.1.0', 'no configuration: the latest');
  });

  it('ADD: the result is what the kernel holds; netctl inspect shows the attachment', () => {
    const c = container('add');
    const id = `${h.tag}-add`;
    const res = add(
      id,
      c,
      'eth0',
      { CNI_ARGS: 'IgnoreUnknown=1;IP=10.250.1.77' },
      conf({ dns: { nameservers: ['10.250.1.1'] } }),
    );
    assert.equal(res.cniVersion, '1.1.0');
    const inner = res.interfaces.find((i) => i.sandbox);
    assert.deepEqual(inner?.sandbox, `/var/run/netns/${c}`);
    assert.equal(inner?.name, 'eth0');
    const link = h.links(c).find((l) => l.ifname === 'eth0');
    assert.equal(link?.address, inner?.mac, 'MAC as reported');
    assert.ok(link?.flags.includes('UP'));
    assert.deepEqual(res.ips, [
      { address: '10.250.1.77/24', gateway: '10.250.1.1', interface: res.interfaces.indexOf(inner as never) },
    ]);
    assert.deepEqual(h.addrs(c)['eth0'], ['10.250.1.77/24'], 'address as reported');
    assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: '10.250.1.1' }]);
    const def = h.routes(c).find((r) => r.dst === 'default');
    assert.deepEqual([def?.gateway, def?.dev], ['10.250.1.1', 'eth0'], 'default route as reported');
    const host = res.interfaces.find((i) => !i.sandbox);
    assert.equal(
      h
        .links()
        .find((l) => l.ifname === host?.name)
        ?.master?.startsWith('nc-'),
      true,
      'host veth on the bridge',
    );
    assert.deepEqual(res.dns, { nameservers: ['10.250.1.1'] });
    assert.ok(h.ping(c, '10.250.1.1'), 'reaches the gateway');
    // netctl's own commands see it: a sandbox named after the container id.
    const [nw] = JSON.parse(h.ok('inspect', 'web')) as Array<{
      Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }>;
    }>;
    const seen = Object.values(nw?.Containers ?? {}).find((x) => x.Name === `cni-${id}`);
    assert.deepEqual(seen && { ip: seen.IPv4Address, mac: seen.MacAddress }, { ip: '10.250.1.77/24', mac: inner?.mac });
    const [sb] = JSON.parse(h.ok('sandbox', 'inspect', `cni-${id}`)) as Array<{
      Mode: string;
      NetNS: string;
      NetworkSettings: { Networks: Record<string, { InterfaceName: string }> };
    }>;
    assert.deepEqual(
      [sb?.Mode, sb?.NetNS, sb?.NetworkSettings.Networks['web']?.InterfaceName],
      ['adopted', `/var/run/netns/${c}`, 'eth0'],
    );
    {
      const d = h.netctl('doctor');
      assert.equal(d.code, 0, d.out + d.err);
      assert.match(d.out, /^no drift: the kernel matches the store$/m, 'doctor finds nothing to report');
      assert.doesNotMatch(d.out, /^drift:/m, 'doctor finds nothing to report');
    }
  });

  it('ADD twice for one (container, ifname) fails and changes nothing; a foreign interface of that name too', () => {
    const c = container('twice');
    const id = `${h.tag}-twice`;
    add(id, c);
    const before = snapshot();
    const r = cni('ADD', att(id, c));
    assert.equal(r.code, 1);
    assert.equal(r.json?.['code'], 100);
    assert.match(String(r.json?.['msg']), /already has interface eth0/);
    assert.equal(snapshot(), before);
    assert.deepEqual(ifaces(c), ['eth0', 'lo']);
    // A netns in which the runtime (or anyone) already made an eth0.
    const d = container('busy');
    run('ip', ['-n', d, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
    h.foreignLinks.add(`${d}/eth0`).add(`${d}/other0`);
    const pre = snapshot();
    const r2 = cni('ADD', att(`${h.tag}-busy`, d));
    assert.equal(r2.code, 1, r2.out);
    assert.deepEqual(
      [r2.json?.['code'], r2.json?.['msg']],
      [100, `an interface eth0 already exists in netns /var/run/netns/${d}`],
    );
    assert.equal(snapshot(), pre, 'nothing half done');
    assert.equal(cni('DEL', att(id, c)).code, 0);
  });

  it("dns in the result: netctl's resolver; the configuration's nameservers become its upstreams", () => {
    const c = container('dns');
    const id = `${h.tag}-dns`;
    const plain = add(id, c);
    assert.deepEqual(plain.dns, { nameservers: ['10.250.1.1'] }, 'no dns configured: the resolver');
    assert.equal(cni('DEL', att(id, c)).code, 0);
    const res = add(id, c, 'eth0', {}, conf({ dns: { nameservers: ['192.0.2.53'], search: ['corp.test'] } }));
    assert.deepEqual(res.dns, { nameservers: ['10.250.1.1'], search: ['corp.test'] }, 'search kept');
    const sb = Object.values(h.store().sandboxes).find((x) => x.name.includes('dns')) as
      { dns?: { servers: string[] } } | undefined;
    assert.deepEqual(sb?.dns?.servers, ['192.0.2.53'], "the configured server is the container's upstream");
    assert.equal(cni('DEL', att(id, c)).code, 0);
  });

  it('DEL twice succeeds, and so does DEL once the netns is gone', () => {
    const c = container('del');
    const id = `${h.tag}-del`;
    const res = add(id, c);
    const hostIf = res.interfaces.find((i) => !i.sandbox)?.name ?? '';
    for (let i = 0; i < 2; i++) {
      const r = cni('DEL', att(id, c));
      assert.deepEqual([r.code, r.out], [0, ''], `DEL #${i + 1}: ${r.out}`);
    }
    assert.deepEqual(ifaces(c), ['lo']);
    assert.equal(
      h.links().some((l) => l.ifname === hostIf),
      false,
      'host veth gone',
    );
    assert.equal(
      Object.values(h.store().sandboxes).some((s) => s.name === `cni-${id}`),
      false,
      'sandbox gone with its last attachment',
    );
    assert.ok(h.netnsExists(c), "the runtime's netns stays");
    // The runtime deleted the netns before calling DEL.
    const g = container('gone');
    add(`${h.tag}-gone`, g);
    run('ip', ['netns', 'del', g]);
    const r = cni('DEL', { CNI_CONTAINERID: `${h.tag}-gone`, CNI_IFNAME: 'eth0' });
    assert.deepEqual([r.code, r.out], [0, ''], r.out);
    assert.equal(cni('DEL', att(`${h.tag}-gone`, g)).code, 0, 'again, with the stale CNI_NETNS');
    {
      const d = h.netctl('doctor');
      assert.equal(d.code, 0, d.out + d.err);
      assert.match(d.out, /^no drift: the kernel matches the store$/m, 'no leftovers');
      assert.doesNotMatch(d.out, /^drift:/m, 'no leftovers');
    }
    assert.equal(cni('DEL', att(`${h.tag}-never`, c)).code, 0, 'DEL of a container never added');
  });

  it('CHECK passes after ADD and fails once the interface is deleted by hand', () => {
    const c = container('check');
    const id = `${h.tag}-check`;
    const res = add(id, c);
    const withPrev = conf({ prevResult: res });
    assert.deepEqual([cni('CHECK', att(id, c), withPrev).code], [0]);
    const lying = conf({ prevResult: { ...res, ips: [{ ...res.ips[0], address: '10.250.1.250/24' }] } });
    assert.match(String(cni('CHECK', att(id, c), lying).json?.['msg']), /10\.250\.1\.250\/24 of the previous result/);
    run('ip', ['-n', c, 'addr', 'flush', 'dev', 'eth0']);
    assert.match(String(cni('CHECK', att(id, c), withPrev).json?.['msg']), /eth0 lacks its address/);
    run('ip', ['-n', c, 'link', 'del', 'eth0']);
    const r = cni('CHECK', att(id, c), withPrev);
    assert.equal(r.code, 1);
    assert.deepEqual(
      [r.json?.['code'], r.json?.['msg']],
      [101, `interface eth0 is missing in netns /var/run/netns/${c}`],
    );
    assert.equal(cni('CHECK', att(`${h.tag}-nobody`, c), withPrev).json?.['code'], 101);
    assert.equal(cni('DEL', att(id, c)).code, 0);
  });

  it('two containers ping each other; concurrent ADDs for different containers are safe', async () => {
    const ids = [0, 1, 2, 3, 4, 5].map((i) => `${h.tag}-par${i}`);
    const nss = ids.map((_, i) => container(`par${i}`));
    const results = await Promise.all(
      ids.map(
        (id, i) =>
          new Promise<Out>((resolve) => {
            const p = spawn('nsenter', [`--net=/var/run/netns/${h.ns}`, CNI_BIN], {
              env: { ...process.env, CNI_COMMAND: 'ADD', ...att(id, nss[i] ?? '') },
            });
            let out = '';
            p.stdout.on('data', (d) => (out += d));
            p.on('close', (code) =>
              resolve({ code: code ?? 1, out, err: '', json: JSON.parse(out || 'null') as Record<string, unknown> }),
            );
            p.stdin.end(JSON.stringify(conf({ network: 'db' })));
          }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.code),
      [0, 0, 0, 0, 0, 0],
      results.map((r) => r.out).join('\n'),
    );
    const ips = results.map((r) => (r.json as unknown as AddResult).ips[0]?.address ?? '');
    assert.equal(new Set(ips).size, 6, `distinct addresses: ${ips.join(' ')}`);
    nss.forEach((ns, i) => assert.deepEqual(h.addrs(ns)['eth0'], [ips[i]]));
    assert.ok(h.ping(nss[0] ?? '', (ips[1] ?? '').split('/')[0] ?? ''), 'container 0 reaches container 1');
    assert.ok(h.ping(nss[1] ?? '', (ips[0] ?? '').split('/')[0] ?? ''), 'and back');
    for (const [i, id] of ids.entries())
      assert.equal(cni('DEL', att(id, nss[i] ?? ''), conf({ network: 'db' })).code, 0);
  });

  it('one container on two networks with its own interface names; a netns given as /proc/PID/ns/net', async () => {
    const c = container('multi');
    const id = `${h.tag}-multi`;
    add(id, c, 'net0');
    const second = add(id, c, 'net1', {}, conf({ network: 'db' }));
    assert.deepEqual(second.routes, [], 'the first attachment keeps the default route');
    assert.deepEqual(ifaces(c), ['lo', 'net0', 'net1']);
    assert.equal(
      cni('ADD', att(id, c, 'net2'), conf({ network: 'db' })).json?.['code'],
      100,
      'one attachment per network',
    );
    assert.equal(cni('DEL', att(id, c, 'net0')).code, 0);
    assert.deepEqual(ifaces(c), ['lo', 'net1'], 'the other attachment stays');
    assert.equal(cni('DEL', att(id, c, 'net1'), conf({ network: 'db' })).code, 0);
    assert.equal(
      Object.values(h.store().sandboxes).some((s) => s.name === `cni-${id}`),
      false,
    );

    const proc = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    const pid = `${h.tag}-pid`;
    try {
      const env = { CNI_CONTAINERID: pid, CNI_NETNS: `/proc/${proc.pid}/ns/net`, CNI_IFNAME: 'eth0' };
      const r = cni('ADD', env);
      assert.equal(r.code, 0, r.out);
      assert.ok(existsSync(`/var/run/netns/cni-${pid}`), 'named under /var/run/netns for ip -n');
      const inner = JSON.parse(
        run('nsenter', [`--net=/proc/${proc.pid}/ns/net`, 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']).out,
      ) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
      assert.equal(
        `${inner[0]?.addr_info[0]?.local}/${inner[0]?.addr_info[0]?.prefixlen}`,
        (r.json as unknown as AddResult).ips[0]?.address,
      );
      assert.equal(cni('CHECK', env).code, 0);
      assert.equal(cni('DEL', env).code, 0);
      assert.equal(existsSync(`/var/run/netns/cni-${pid}`), false, 'the bound name goes with the sandbox');
      assert.equal(proc.exitCode, null, 'the process lives on');
    } finally {
      proc.kill();
    }
    // A container that exits with no DEL (ctr's detached ones) leaves an exited sandbox; an
    // ADD for its ID again (the ID reused) replaces it, addresses and all.
    const gone = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    const again = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    const reused = `${h.tag}-reused`;
    try {
      const env = (p: ChildProcess) => ({
        CNI_CONTAINERID: reused,
        CNI_NETNS: `/proc/${p.pid}/ns/net`,
        CNI_IFNAME: 'eth0',
      });
      const first = cni('ADD', env(gone));
      assert.equal(first.code, 0, first.out);
      gone.kill();
      await new Promise((r) => gone.once('exit', r));
      assert.match(
        h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'),
        new RegExp(`^cni-${reused} exited$`, 'm'),
      );
      const second = cni('ADD', env(again));
      assert.equal(second.code, 0, second.out);
      assert.match(
        h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'),
        new RegExp(`^cni-${reused} running$`, 'm'),
      );
      assert.equal(cni('DEL', env(again)).code, 0);
      assert.doesNotMatch(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), new RegExp(`cni-${reused}`));
    } finally {
      gone.kill();
      again.kill();
    }
    // A runtime's netns file outside /var/run/netns that no process is in yet: named there.
    const pinned = container('pinned');
    const file = join(h.root, 'pinned-netns');
    writeFileSync(file, '');
    assert.equal(run('mount', ['--bind', `/var/run/netns/${pinned}`, file]).code, 0);
    try {
      const env = { CNI_CONTAINERID: `${h.tag}-pinned`, CNI_NETNS: file, CNI_IFNAME: 'eth0' };
      assert.equal(cni('ADD', env).code, 0);
      assert.deepEqual(ifaces(pinned), ['eth0', 'lo']);
      assert.ok(existsSync(`/var/run/netns/cni-${h.tag}-pinned`));
      assert.equal(cni('DEL', env).code, 0);
      assert.equal(existsSync(`/var/run/netns/cni-${h.tag}-pinned`), false);
      assert.deepEqual(ifaces(pinned), ['lo']);
    } finally {
      run('umount', [file]);
    }
  });

  it('a 64-character container id gets a deterministic sandbox name of at most 64 characters', () => {
    const c = container('long');
    const id = `${h.tag}${'0123456789abcdef'.repeat(4)}`.slice(0, 64);
    add(id, c);
    const names = Object.values(h.store().sandboxes)
      .map((s) => s.name)
      .filter((n) => n.startsWith(`cni-${id.slice(0, 47)}-`));
    assert.equal(names.length, 1);
    assert.match(names[0] ?? '', /^cni-[a-z0-9]{47}-[0-9a-f]{12}$/);
    assert.equal(cni('DEL', att(id, c)).code, 0);
    assert.equal(
      Object.values(h.store().sandboxes).some((s) => s.name === names[0]),
      false,
    );
  });

  it('GC removes the CNI attachments not listed as valid, and nothing else', () => {
    const [a, b, c] = ['gca', 'gcb', 'gcc'].map((x) => container(x)) as [string, string, string];
    const own = h.name('gcown');
    h.ok('sandbox', 'create', own, '--net', 'web');
    const ra = add(`${h.tag}-gca`, a);
    add(`${h.tag}-gcb`, b);
    add(`${h.tag}-gcc`, c, 'net5');
    add(`${h.tag}-gca`, a, 'eth1', {}, conf({ network: 'db' })); // on another network: not this GC's business
    const gc = conf({
      'cni.dev/valid-attachments': [
        { containerID: `${h.tag}-gca`, ifname: 'eth0' },
        { containerID: 'elsewhere', ifname: 'eth0' },
      ],
    });
    const r = cni('GC', {}, gc);
    assert.deepEqual([r.code, r.out], [0, ''], r.out);
    assert.deepEqual([ifaces(a), ifaces(b), ifaces(c)], [['eth0', 'eth1', 'lo'], ['lo'], ['lo']]);
    const names = Object.values(h.store().sandboxes).map((s) => s.name);
    assert.ok(names.includes(`cni-${h.tag}-gca`) && names.includes(own));
    assert.ok(!names.includes(`cni-${h.tag}-gcb`) && !names.includes(`cni-${h.tag}-gcc`));
    assert.ok(
      h.ping(a, '10.250.1.1') && h.ping(own, '10.250.1.1'),
      "the valid attachment and netctl's own sandbox still work",
    );
    assert.equal(cni('CHECK', att(`${h.tag}-gca`, a), conf({ prevResult: ra })).code, 0);
    assert.equal(
      cni('GC', {}, conf()).json?.['code'],
      7,
      'without the list GC refuses rather than removing everything',
    );
    assert.equal(cni('GC', {}, { ...gc, cniVersion: '1.0.0' }).json?.['code'], 1, 'GC needs 1.1.0');
    assert.equal(cni('DEL', att(`${h.tag}-gca`, a)).code, 0);
    assert.equal(cni('DEL', att(`${h.tag}-gca`, a, 'eth1'), conf({ network: 'db' })).code, 0);
    h.ok('sandbox', 'rm', own);
  });

  it('STATUS: 0 while the network can take an ADD, 50 when it is missing or out of addresses', () => {
    assert.deepEqual([cni('STATUS', {}).code, cni('STATUS', {}).out], [0, '']);
    const missing = cni('STATUS', {}, conf({ network: 'nope' }));
    assert.deepEqual([missing.code, missing.json?.['code'], missing.json?.['msg']], [1, 50, 'network nope not found']);
    assert.equal(cni('STATUS', {}, conf({ network: 'tiny' })).code, 0);
    const c = container('tiny');
    add(`${h.tag}-tiny`, c, 'eth0', {}, conf({ network: 'tiny' }));
    const full = cni('STATUS', {}, conf({ network: 'tiny' }));
    assert.deepEqual(
      [full.json?.['code'], full.json?.['msg']],
      [50, "no available IPv4 addresses on this network's address pools: tiny (10.250.3.0/30)"],
    );
    assert.equal(cni('DEL', att(`${h.tag}-tiny`, c), conf({ network: 'tiny' })).code, 0);
  });

  it("bad input: the spec's error JSON on stdout, non-zero exit, no stack, nothing changed", () => {
    const c = container('bad');
    const before = snapshot();
    const cases: Array<[string, Record<string, string>, unknown, number, RegExp]> = [
      ['ADD', { CNI_CONTAINERID: 'x', CNI_IFNAME: 'eth0' }, conf(), 4, /CNI_NETNS is not set/],
      ['ADD', { ...att('-x', c) }, conf(), 4, /CNI_CONTAINERID: invalid container id/],
      ['ADD', { ...att('x', c, 'a/b') }, conf(), 4, /CNI_IFNAME: invalid interface name/],
      ['ADD', { ...att('x', c), CNI_ARGS: 'IP=10.250.1.300' }, conf(), 7, /IP: invalid address/],
      [
        'ADD',
        { ...att('x', c), CNI_ARGS: 'IP=10.9.9.9' },
        conf(),
        7,
        /does not belong to any of this network's subnets/,
      ],
      ['ADD', { ...att('x', c), CNI_ARGS: 'garbage' }, conf(), 4, /CNI_ARGS: invalid item/],
      ['ADD', { ...att('x', c) }, '{"cniVersion":', 6, /cannot decode/],
      ['ADD', { ...att('x', c) }, conf({ cniVersion: '0.3.1' }), 1, /incompatible CNI version/],
      ['ADD', { ...att('x', c) }, conf({ network: 'a;b' }), 7, /invalid network name/],
      ['ADD', { ...att('x', c) }, conf({ network: 'nope' }), 101, /network nope not found/],
      ['ADD', { ...att('x', c) }, conf({ network: 'host' }), 7, /makes no interfaces/],
      ['ADD', { ...att('x', `${h.tag}-nonexistent`) }, conf(), 101, /does not exist/],
      ['FROB', {}, conf(), 4, /CNI_COMMAND: unknown command "FROB"/],
    ];
    for (const [cmd, env, input, code, msg] of cases) {
      const r = cni(cmd, env, input);
      assert.equal(r.code, 1, `${cmd} ${JSON.stringify(env)}: ${r.out}`);
      assert.equal(r.json?.['code'], code, r.out);
      assert.match(String(r.json?.['msg']), msg);
      assert.equal(r.out.trim().split('\n').length, 1, 'one line');
      assert.doesNotMatch(r.out + r.err, /at .*\.c?js:\d+/, 'no stack trace');
    }
    assert.equal(snapshot(), before);
    assert.deepEqual(ifaces(c), ['lo']);
  });

  // containernetworking-plugins is a test prerequisite (README, .ci/run): missing, this fails.
  it('its result is a valid prevResult for a reference plugin (tuning, from containernetworking-plugins)', () => {
    assert.ok(existsSync(TUNING), `${TUNING} is installed (apt-get install containernetworking-plugins)`);
    const c = container('chain');
    const id = `${h.tag}-chain`;
    const res = add(id, c, 'eth0', {}, conf({ cniVersion: '1.0.0' }));
    assert.equal(res.cniVersion, '1.0.0');
    const r = spawnSync('nsenter', [`--net=/var/run/netns/${h.ns}`, TUNING], {
      encoding: 'utf8',
      input: JSON.stringify({ cniVersion: '1.0.0', name: 'web', type: 'tuning', mtu: 1400, prevResult: res }),
      env: { ...process.env, CNI_COMMAND: 'ADD', CNI_PATH: '/usr/lib/cni', ...att(id, c) },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as AddResult;
    assert.deepEqual(out.ips, res.ips, 'tuning parsed and passed our result on');
    assert.deepEqual(
      out.interfaces.map((i) => [i.name, i.mac ?? '', i.sandbox ?? '']),
      res.interfaces.map((i) => [i.name, i.mac ?? '', i.sandbox ?? '']),
    );
    assert.equal(h.links(c).find((l) => l.ifname === 'eth0')?.mtu, 1400, 'and changed the interface netctl made');
    assert.equal(cni('DEL', att(id, c), conf({ cniVersion: '1.0.0', prevResult: out })).code, 0);
  });

  it('a runtime setup: the conflist as configuration, a pod-named sandbox, a 0.4.0 result, DEL', () => {
    const list = JSON.parse(h.ok('cni', 'conflist', 'web', '--cni-version', '0.4.0', '--name', 'webnet')) as {
      cniVersion: string;
      name: string;
      plugins: Array<Record<string, unknown>>;
    };
    assert.deepEqual(list, {
      cniVersion: '0.4.0',
      name: 'webnet',
      plugins: [{ type: 'netctl-cni', network: 'web', root: h.root }],
    });
    // What a runtime hands one plugin of a list: the list's version and name with the plugin's keys.
    const pluginConf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] };
    const c = container('pod');
    const id = `${h.tag}-pod`;
    const args = { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pm1' };
    const res = add(id, c, 'eth0', args, pluginConf);
    assert.equal(res.cniVersion, '0.4.0');
    assert.deepEqual(
      (res.ips as Array<Record<string, unknown>>).map((i) => [i['version'], i['interface']]),
      [['4', 1]],
      "0.4.0's ips name their family",
    );
    assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), /^ns1\.pm1$/m, 'named after the pod');
    // Another container of the same pod name (a name clash) is named after its id.
    const c2 = container('pod2');
    add(`${h.tag}-pod2`, c2, 'eth0', args, pluginConf);
    assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), new RegExp(`^cni-${h.tag}-pod2$`, 'm'));
    assert.equal(cni('DEL', { ...att(id, c), ...args }, pluginConf).code, 0);
    assert.equal(cni('DEL', { ...att(`${h.tag}-pod2`, c2), ...args }, pluginConf).code, 0);
    assert.doesNotMatch(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), /pm1|pod2/);
    assert.deepEqual([ifaces(c), ifaces(c2)], [['lo'], ['lo']]);
  });

  it('cni install links netctl-cni into a plugin directory; a file of another is left alone', () => {
    const dir = join(h.root, 'cni-bin');
    const out = h.ok('cni', 'install', '--bin-dir', dir);
    assert.equal(out, `${dir}/netctl-cni -> ${CNI_BIN}\n`);
    assert.equal(readlinkSync(join(dir, 'netctl-cni')), CNI_BIN);
    assert.equal(h.ok('cni', 'install', '--bin-dir', dir), out, 'again: nothing to do');
    const other = join(h.root, 'other-bin');
    mkdirSync(other);
    writeFileSync(join(other, 'netctl-cni'), 'not ours');
    const r = h.netctl('cni', 'install', '--bin-dir', other);
    assert.equal(r.code, 1);
    assert.match(r.err, /netctl-cni exists and is not a link to/);
  });
});
