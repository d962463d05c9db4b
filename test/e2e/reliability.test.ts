// Crashes, concurrency, corrupt state and hostile input, on real namespaces. After every
// scenario `netctl doctor` (store vs kernel) must find nothing and nothing may have leaked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot } from '../helpers/host.js';

describe('reliability', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  const figures: Record<string, number> = {};

  before(() => {
    h = new TestHost();
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
    // Figures for docs/reliability.md (printed, not asserted).
    process.stdout.write(`# reliability figures: ${JSON.stringify(figures)}\n`);
  });

  /**
   * Store and kernel agree (doctor also reports netctl's leftovers), and no netns or name files outlive
   * their sandbox.
   */
  const doctorClean = (why: string) => {
    const d = h.netctl('doctor');
    assert.equal(d.code, 0, `${why}: doctor found drift:\n${d.out}${d.err}`);
    const known = new Set(Object.values(h.store().sandboxes).map((x) => x.name));
    const orphans = h
      .leaks()
      .filter((l) => /^(netns |\/etc\/netns\/)/.test(l) && !known.has(l.split(/[ /]/).pop() ?? ''));
    assert.deepEqual(orphans, [], `${why}: leftovers`);
  };

  it('50 concurrent connects from 50 processes: 50 distinct addresses, store and kernel agree', async () => {
    h.ok('create', '--subnet', '10.242.0.0/24', 'crowd');
    const names = Array.from({ length: 50 }, (_, i) => h.name(`c${i}`));
    for (const n of names) h.foreignNetns(n);
    const results = await Promise.all(names.map((n) => h.netctlAsync('connect', 'crowd', n)));
    assert.deepEqual(
      results.filter((r) => r.code !== 0).map((r) => r.err),
      [],
    );
    const ips = names.map((n) => h.addrs(n)['eth0']?.[0]);
    assert.equal(new Set(ips).size, 50, 'distinct addresses in the kernel');
    assert.equal(Object.keys(h.store().endpoints).length, 50);
    doctorClean('after 50 concurrent connects');
    figures['concurrent_connects'] = 50;
    h.ok('sandbox', 'rm', ...names);
    h.ok('rm', 'crowd');
  });

  it('10 concurrent creates of one name: exactly one network', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => h.netctlAsync('create', '--subnet', `10.243.${i}.0/24`, 'twin')),
    );
    assert.equal(results.filter((r) => r.code === 0).length, 1);
    for (const r of results.filter((x) => x.code !== 0)) assert.match(r.err, /network with name twin already exists/);
    assert.equal(Object.values(h.store().networks).filter((n) => n.name === 'twin').length, 1);
    assert.equal(h.links().filter((l) => l.ifname.startsWith('nc-')).length, 1, 'one bridge');
    figures['concurrent_creates'] = 10;
    h.ok('rm', 'twin');
  });

  it('a held lock makes the next command wait and say who holds it', async () => {
    const holder = spawn('nsenter', [
      `--net=/var/run/netns/${h.ns}`,
      process.execPath,
      '--input-type=module',
      '-e',
      'const { acquireLock } = await import(' +
        `${JSON.stringify(new URL('../../src/store/lock.js', import.meta.url).href)});\n` +
        `       const release = await acquireLock(${JSON.stringify(h.root)}); console.log('held'); ` +
        'setTimeout(() => release().then(() => process.exit(0)), 1800);',
    ]);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const r = await h.netctlAsync('create', '--subnet', '10.244.0.0/24', 'waiter');
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`waiting for lock held by pid ${holder.pid}`));
    h.ok('rm', 'waiter');
  });

  // Each operation on a prepared state; K-th kernel call fails or the process is killed there.
  interface Op {
    name: string;
    prepare: () => void;
    argv: () => string[];
  }
  let seq = 0;
  const ops: Op[] = [
    { name: 'create', prepare: () => undefined, argv: () => ['create', '--subnet', '10.245.1.0/24', 'f-net'] },
    {
      name: 'sandbox create',
      prepare: () => {
        h.ok('create', '--subnet', '10.245.1.0/24', 'f-net');
      },
      argv: () => ['sandbox', 'create', h.name(`f${seq}`), '--net', 'f-net', '-p', '8080:80'],
    },
    {
      name: 'connect',
      prepare: () => {
        h.ok('create', '--subnet', '10.245.1.0/24', 'f-net');
        h.ok('create', '--subnet', '10.245.2.0/24', 'f-two');
        h.ok('sandbox', 'create', h.name(`f${seq}`), '--net', 'f-net', '-p', '8081:80');
      },
      argv: () => ['connect', '--gw-priority', '5', 'f-two', h.name(`f${seq}`)],
    },
    {
      name: 'disconnect',
      prepare: () => {
        h.ok('create', '--subnet', '10.245.1.0/24', 'f-net');
        h.ok('create', '--subnet', '10.245.2.0/24', 'f-two');
        h.ok('sandbox', 'create', h.name(`f${seq}`), '--net', 'f-net', '-p', '8082:80');
        h.ok('connect', 'f-two', h.name(`f${seq}`));
      },
      argv: () => ['disconnect', 'f-net', h.name(`f${seq}`)],
    },
    {
      name: 'rm',
      prepare: () => {
        h.ok('create', '--subnet', '10.245.1.0/24', 'f-net');
        h.ok('create', '--subnet', '10.245.2.0/24', 'f-two');
      },
      argv: () => ['rm', 'f-net', 'f-two'],
    },
    {
      name: 'sandbox rm',
      prepare: () => {
        h.ok('create', '--subnet', '10.245.1.0/24', 'f-net');
        h.ok('sandbox', 'create', h.name(`f${seq}`), '--net', 'f-net', '-p', '8083:80');
        h.ok('sandbox', 'create', h.name(`g${seq}`), '--net', 'f-net');
      },
      argv: () => ['sandbox', 'rm', h.name(`f${seq}`), h.name(`g${seq}`)],
    },
  ];
  const reset = () => {
    const s = h.store();
    const sbs = Object.values(s.sandboxes).map((x) => x.name);
    if (sbs.length) h.ok('sandbox', 'rm', '-f', ...sbs);
    const nets = Object.values(s.networks)
      .map((x) => x.name)
      .filter((n) => !['bridge', 'host', 'none'].includes(n));
    if (nets.length) h.ok('rm', '-f', ...nets);
  };

  for (const op of ops) {
    it(`${op.name}: a failure or a kill at every kernel step leaves store and kernel in agreement`, () => {
      let steps = 0;
      try {
        for (const mode of ['fail', 'kill'] as const) {
          for (let k = 1; k < 20; k++) {
            seq++;
            op.prepare();
            const r = h.netctlEnv({ NETCTL_FAULT: `${mode}:${k}` }, ...op.argv());
            if (r.code === 0) {
              // k is past the operation's last kernel call
              reset();
              break;
            }
            if (mode === 'fail') assert.match(r.err, /injected failure/, `${op.name} fail:${k}: ${r.err}`);
            steps++;
            // The next mutating command finishes or rolls back what was interrupted.
            const next = h.netctl('prune', '-f', '--filter', 'label=nothing-has-this');
            assert.equal(next.code, 0, `${op.name} ${mode}:${k}, next command: ${next.err}`);
            assert.equal(h.store().journal.length, 0, `${op.name} ${mode}:${k}: journal finished`);
            doctorClean(`${op.name} ${mode}:${k}`);
            reset();
          }
        }
      } finally {
        reset(); // a failed assertion must not leave state to the next operation
      }
      figures[`fault_steps_${op.name.replace(' ', '_')}`] = steps;
      assert.ok(steps >= 2, `${op.name} was interrupted at ${steps} steps`);
    });
  }

  it('a corrupt store is reported, never overwritten, and the backup brings it back', (t) => {
    // Every change rewrites store.json here, so the .bak is the version before the last change.
    process.env['NETCTL_DELTA_LIMIT'] = '0';
    t.after(() => {
      delete process.env['NETCTL_DELTA_LIMIT'];
    });
    h.ok('create', '--subnet', '10.246.0.0/24', 'keep');
    h.ok('create', '--subnet', '10.246.9.0/24', 'later'); // store.json.bak now holds the version with keep only
    const file = join(h.root, 'store.json');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.slice(0, good.length / 2));
    const damaged = readFileSync(file);
    for (const argv of [['ls'], ['create', 'x'], ['inspect', 'keep']]) {
      const r = h.netctl(...argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.err, new RegExp(`the netctl store ${file} is corrupt`));
      assert.match(r.err, /hint: .*store\.json\.bak/);
      assert.deepEqual(readFileSync(file), damaged, 'left untouched');
    }
    writeFileSync(file, JSON.stringify({ ...JSON.parse(good), version: 99 }));
    assert.match(h.netctl('ls').err, /schema version 99; this netctl understands up to 2/);
    // The documented recovery: the previous version is kept beside it on every write.
    writeFileSync(file, readFileSync(`${file}.bak`));
    assert.equal(h.netctl('inspect', '-f', '{{.Name}}', 'keep').out, 'keep\n');
    assert.match(
      h.netctl('doctor').out,
      /extra bridge nc-/,
      'the bridge of the change the backup predates shows as drift',
    );
    h.ok('restore');
    renameSync(file, `${file}.real`);
    symlinkSync(`${file}.real`, file);
    assert.match(h.netctl('ls').err, /is a symlink; refusing to use it/);
    renameSync(`${file}.real`, file);
    h.ok('rm', 'keep');
  });

  it('an older store is migrated', () => {
    const file = join(h.root, 'store.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { version: number };
    writeFileSync(file, JSON.stringify({ ...doc, version: 1 }));
    h.ok('create', '--subnet', '10.246.1.0/24', 'mig');
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { version: number }).version, 2);
    h.ok('rm', 'mig');
  });

  it('hostile input is refused before any change', () => {
    h.ok('create', '--subnet', '10.247.0.0/24', 'calm');
    const s = h.name('calm');
    h.ok('sandbox', 'create', s, '--net', 'calm');
    const snapshot = () =>
      JSON.stringify([
        h
          .links()
          .map((l) => l.ifname)
          .sort(),
        h.storeText(),
        h.iptablesSave().replace(/^#.*$/gm, ''),
      ]);
    const cases: string[][] = [
      ['create', '--', '-rf'],
      ['create', 'a b'],
      ['create', 'a\nb'],
      ['create', 'x'.repeat(65)],
      ['create', '../etc'],
      ['create', 'né'],
      ['create', 'a;reboot'],
      ['create', '$(id)'],
      ['create', '-o', 'com.docker.network.bridge.name=averyveryverylong', 'x1'],
      ['create', '-o', 'com.docker.network.bridge.name=a/b', 'x2'],
      ['create', '-o', 'com.docker.network.bridge.name=-x', 'x3'],
      ['create', '-o', 'com.docker.network.driver.mtu=99999999', 'x4'],
      ['create', '-o', 'com.docker.network.bridge.enable_icc=maybe', 'x5'],
      ['create', '--subnet', '10.0.0.0/8 ', 'x6'],
      ['create', '--subnet', '10.0.0.0/8\n', 'x7'],
      ['create', '--gateway', '10.0.0.1', 'x8'],
      ['create', '--aux-address', 'a=not-an-ip', '--subnet', '10.248.0.0/24', 'x9'],
      ['create', '--ipam-driver', 'evil', 'x10'],
      ['connect', 'calm', 'bad name'],
      ['connect', 'calm', '-x'],
      ['connect', '--ip', '10.247.0.5\n', 'calm', h.name('zz')],
      ['connect', '--mac-address', '02:42:0a:00:00', 'calm', s],
      ['connect', '--mac-address', '01:00:5e:00:00:01', 'calm', s],
      ['connect', '--alias', 'a\nb', 'calm', s],
      ['connect', '--alias', '-a', 'calm', s],
      ['sandbox', 'create', h.name('h1'), '--net', 'calm', '--add-host', 'evil\n1.2.3.4:5.6.7.8'],
      ['sandbox', 'create', h.name('h2'), '--net', 'calm', '--add-host', 'a:not-ip'],
      ['sandbox', 'create', h.name('h3'), '--net', 'calm', '--dns', '1.2.3.4\nnameserver 6.6.6.6'],
      ['sandbox', 'create', h.name('h4'), '--net', 'calm', '--hostname', 'a b'],
      ['sandbox', 'create', h.name('h5'), '--net', 'calm', '--dns-search', 'x\ny'],
      ['sandbox', 'create', h.name('h6'), '--net', 'calm', '-p', '0:80'],
      ['sandbox', 'create', h.name('h7'), '--net', 'calm', '-p', '70000:80'],
      ['sandbox', 'create', h.name('h8'), '--net', 'calm', '-p', '999.1.1.1:80:80'],
      ['sandbox', 'create', h.name('h9'), '--net', 'container:nope'],
      ['sandbox', 'create', h.name('hA'), '--net', 'calm', '--dns-option', 'a b'],
      ['exec', 'nope', '--', 'true'],
      ['--root', '/dev/null/x', 'create', 'y'],
    ];
    for (const argv of cases) {
      const before = snapshot();
      const r = h.netctl(...argv);
      assert.ok(r.code === 1 || r.code === 125, `${JSON.stringify(argv)} refused (exit ${r.code}): ${r.err}`);
      assert.match(r.err, /^Error: /, JSON.stringify(argv));
      assert.equal(snapshot(), before, `${JSON.stringify(argv)} changed nothing`);
    }
    figures['hostile_inputs'] = cases.length;
    h.ok('sandbox', 'rm', s);
    h.ok('rm', 'calm');
  });

  it('doctor finds drift made by hand, restore repairs it, traffic flows again', () => {
    h.ok('create', '--subnet', '10.249.0.0/24', 'drift');
    const [p, q] = [h.name('dp'), h.name('dq')];
    h.ok('sandbox', 'create', p, '--net', 'drift', '--ip', '10.249.0.2');
    h.ok('sandbox', 'create', q, '--net', 'drift', '--ip', '10.249.0.3');
    doctorClean('before drift');
    const veth =
      Object.values(h.store().endpoints as Record<string, { hostIf: string; sandboxId: string }>).map(
        (e) => e.hostIf,
      )[0] ?? '';
    const bridge = h.links().find((l) => l.ifname.startsWith('nc-'))?.ifname ?? '';
    assert.equal(h.run('ip', ['-n', h.ns, 'link', 'del', veth]).code, 0);
    assert.equal(h.iptables('-F', 'NETCTL-FORWARD').code, 0);
    assert.equal(h.run('ip', ['netns', 'del', q]).code, 0);
    assert.equal(h.run('ip', ['-n', h.ns, 'addr', 'flush', 'dev', bridge]).code, 0);
    assert.equal(h.run('ip', ['-n', h.ns, 'link', 'add', 'nc-0123456789ab', 'type', 'bridge']).code, 0);
    const d = h.netctl('doctor');
    assert.equal(d.code, 1);
    assert.match(d.out, new RegExp(`veth ${veth} .* is missing`));
    assert.match(d.out, new RegExp(`netns ${q} is missing`));
    assert.match(d.out, /firewall: .*NETCTL-FORWARD/);
    assert.match(d.out, new RegExp(`bridge ${bridge} lacks its gateway address 10\\.249\\.0\\.1/24`));
    assert.match(d.out, /extra bridge nc-0123456789ab/);
    assert.match(d.err, /hint: netctl restore repairs them/);
    figures['drift_kinds_found'] = d.out.trim().split('\n').length;
    h.ok('restore');
    doctorClean('after restore');
    assert.ok(h.ping(p, '10.249.0.3'), 'traffic flows again');
    h.ok('sandbox', 'rm', p, q);
    h.ok('rm', 'drift');
  });
});
