// export / apply -f / graph on real namespaces: export -> wipe -> apply passes traffic again,
// applying twice changes nothing in the kernel, a failing plan leaves nothing, --prune removes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, TestHost, isRoot } from '../helpers/host.js';

describe('export, apply and graph end to end', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let A: string, B: string, C: string, D: string;
  let exported = '';
  const file = (name: string, text: string) => {
    const p = join(h.root, name);
    writeFileSync(p, text);
    return p;
  };
  /** What the kernel holds, for "nothing changed": links with their MTU and masters, and the rules. */
  const kernel = (ordered = true) => {
    const rules = h
      .iptablesSave()
      .split('\n')
      .filter((l) => l.startsWith('-A'));
    return JSON.stringify([
      h
        .links()
        .map((l) => [l.ifname, l.mtu, l.master, l.operstate])
        .sort(),
      ordered ? rules : rules.sort(),
    ]);
  };
  const hasDot = () => h.run('sh', ['-c', 'command -v dot']).code === 0;

  before(() => {
    h = new TestHost();
    [A, B, C, D] = [h.name('a'), h.name('b'), h.name('c'), h.name('d')];
    h.ok('create', '--subnet', '10.234.1.0/24', 'front');
    h.ok(
      'create',
      '--subnet',
      '10.234.2.0/24',
      '--label',
      'tier=db',
      '-o',
      'com.docker.network.driver.mtu=1400',
      'back',
    );
    h.ok('sandbox', 'create', A, '--net', 'front', '--ip', '10.234.1.10');
    h.ok('sandbox', 'create', B, '--net', 'front', '--alias', 'bee');
    h.ok('connect', 'back', B);
    h.ok('sandbox', 'create', C, '--net', 'back', '-p', '8080:80');
    h.ok('sandbox', 'create', D, '--net', 'back');
    h.ok('sandbox', 'stop', D);
  });
  after(() => {
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  it('export prints the topology; applying it to the host it came from changes nothing', () => {
    exported = h.ok('export');
    assert.match(exported, /name: front/);
    assert.match(exported, /- 8080:80\/tcp/);
    assert.match(exported, /state: stopped/);
    const json = JSON.parse(h.ok('export', '-o', 'json')) as {
      networks: Array<{ name: string }>;
      sandboxes: unknown[];
    };
    assert.deepEqual(
      json.networks.map((n) => n.name),
      ['back', 'front'],
    );
    assert.equal(json.sandboxes.length, 4);
    const [store, k] = [h.storeText(), kernel()];
    const r = h.ok('apply', '-f', file('same.yaml', exported));
    assert.match(r, /^no changes/);
    assert.equal(h.storeText(), store, 'store untouched');
    assert.equal(kernel(), k, 'kernel untouched');
  });

  it('graph draws the tree with a summary table, and DOT that dot accepts', () => {
    const text = h.ok('graph');
    assert.match(text, /^back \(bridge, 10\.234\.2\.0\/24\)$/m);
    assert.match(text, new RegExp(`[├└]── ${C} eth0 10\\.234\\.2\\.\\d+/24  ports 8080->80/tcp`));
    assert.match(text, new RegExp(`stopped: ${D} \\(back\\)`));
    assert.match(text, /│ NETWORK\s+│ DRIVER\s+│ SUBNETS\s+│ ENDPOINTS │/);
    const dot = h.ok('graph', '--format', 'dot');
    assert.match(dot, /^graph netctl \{/);
    assert.equal((dot.match(/ -- "net:/g) ?? []).length, 4, 'one edge per endpoint');
    // Graphviz is a test prerequisite (README, .ci/run): missing, this fails rather than skips.
    assert.ok(hasDot(), 'graphviz (dot) is installed');
    const r = h.run('sh', ['-c', `dot -Tsvg < ${file('g.dot', dot)} > /dev/null`]);
    assert.equal(r.code, 0, `dot accepts it: ${r.err}`);
    assert.match(h.ok('graph', '--format', 'svg'), /<svg/);
    // Without Graphviz on PATH (the Runner finds nothing), the error names the package.
    const none = h.run('env', [
      'PATH=/nonexistent',
      process.execPath,
      BIN,
      '--root',
      h.root,
      'graph',
      '--format',
      'svg',
    ]);
    assert.equal(none.code, 1);
    assert.match(none.err, /graphviz/, 'names the package to install');
  });

  it('--dry-run prints the plan and changes nothing; export -> wipe -> apply passes traffic again', () => {
    h.ok('sandbox', 'rm', A, B, C, D);
    h.ok('rm', 'front', 'back');
    const f = file('topo.yaml', exported);
    const [store, k] = [h.storeText(), kernel()];
    const dry = h.ok('apply', '-f', f, '--dry-run');
    assert.match(dry, /^\+ network back \(bridge, 10\.234\.2\.0\/24\)$/m);
    assert.match(dry, new RegExp(`^\\+ sandbox ${B} \\(front, back\\)$`, 'm'));
    assert.match(dry, /plan: 6 to add, 0 to change, 0 to remove \(dry run/);
    assert.equal(h.storeText(), store);
    assert.equal(kernel(), k);
    const out = h.ok('apply', '-f', f);
    assert.match(out, /applied: 6 to add/);
    assert.ok(h.ping(B, '10.234.1.10'), 'B reaches A on front');
    assert.deepEqual(h.addrs(A)['eth0'], ['10.234.1.10/24']);
    assert.equal(h.links(C).find((l) => l.ifname === 'eth0')?.mtu, 1400, 'options came back');
    const cIp = h.addrs(C)['eth0']?.[0]?.split('/')[0] ?? '';
    assert.ok(h.ping(B, cIp), 'B reaches C on back');
    assert.equal(h.ping(A, cIp), false, 'A does not reach C');
    assert.equal(h.netnsExists(D), false, 'D is stopped');
    assert.match(h.iptablesSave(), /--dport 8080 .*DNAT/);
    assert.equal(h.ok('export'), exported, 'the same topology');
    const k2 = kernel();
    assert.match(h.ok('apply', '-f', f), /^no changes/, 'applying twice changes nothing');
    assert.equal(kernel(), k2);
  });

  it('a plan that fails part-way undoes every creation; changes and --prune work', () => {
    // A rollback rewrites the rules whole: the same rules, the networks' blocks maybe in another order.
    const [store, k] = [h.storeText(), kernel(false)];
    const bad = file(
      'bad.json',
      JSON.stringify({
        networks: [{ name: 'third', driver: 'bridge', subnets: [{ subnet: '10.234.3.0/24' }] }],
        sandboxes: [
          { name: h.name('x'), networks: [{ network: 'third', ip: '10.234.3.5' }] },
          { name: h.name('y'), networks: [{ network: 'third', ip: '10.234.3.5' }] },
        ],
      }),
    );
    const r = h.netctl('apply', '-f', bad);
    assert.equal(r.code, 1);
    assert.match(r.err, /Address already in use: 10\.234\.3\.5/);
    assert.equal(h.storeText(), store, 'store as before');
    assert.equal(kernel(false), k, 'kernel as before');
    assert.equal(h.netnsExists(h.name('x')), false);
    // A label and an MTU change in place; a new endpoint; --prune removes what the file leaves out.
    const changed = exported
      .replace('tier: db', 'tier: data')
      .replace('com.docker.network.driver.mtu: "1400"', 'com.docker.network.driver.mtu: "1500"');
    assert.notEqual(changed, exported);
    const noD = changed.replace(new RegExp(`  - name: ${D}\\n(    .*\\n|      .*\\n)*`), '');
    const out = h.ok('apply', '-f', file('changed.yaml', noD), '--prune');
    assert.match(out, /^~ network back: label tier, com\.docker\.network\.driver\.mtu=1500$/m);
    assert.match(out, new RegExp(`^- sandbox ${D}$`, 'm'));
    assert.equal(h.links(C).find((l) => l.ifname === 'eth0')?.mtu, 1500);
    assert.equal(
      Object.values(h.store().sandboxes).some((s) => s.name === D),
      false,
    );
    const bad2 = h.netctl('apply', '-f', file('ghost.yaml', 'sandboxes:\n  - name: ghost\n    networks: [nowhere]\n'));
    assert.match(bad2.err, /sandbox ghost is on network nowhere, which the file does not declare/);
  });
});
