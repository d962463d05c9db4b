// Containers of other runtimes (reference §15) by `pid:` and `netns:` references: a process in
// a namespace of its own stands for a runc container. Adopted without a bind mount, noticed
// when it exits, pruned. (Docker and podman containers: runtimes-real.test.ts.)
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';

const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));

/** A process in a network namespace of its own (what a runtime's container is to netctl). */
async function container(): Promise<ChildProcess & { pid: number }> {
  const p = spawn('unshare', ['-n', 'sleep', '600'], { stdio: 'ignore' });
  await settle();
  assert.ok(p.pid, 'unshare started');
  return p as ChildProcess & { pid: number };
}

const dig = (ns: string, server: string, name: string): string =>
  run('nsenter', [`--net=/var/run/netns/${ns}`, 'dig', `@${server}`, name, '+time=3', '+tries=1', '+short']).out.trim();

/** Whether any mount of this machine is of the given path (a bind mount would keep a namespace alive). */
const mounted = (path: string): boolean =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);

describe('containers of other runtimes by pid: and netns:', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  const procs: ChildProcess[] = [];
  let peer: string;

  before(() => {
    h = new TestHost();
    h.ok('create', '--subnet', '10.245.1.0/24', 'rt');
    peer = h.name('peer');
    h.ok('sandbox', 'create', peer, '--net', 'rt', '--ip', '10.245.1.10');
  });
  after(() => {
    for (const p of procs) p.kill();
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
  });

  it('connect pid:PID adopts the namespace as pid-PID, by a symlink that holds nothing alive', async () => {
    const c = await container();
    procs.push(c);
    const name = `pid-${c.pid}`;
    h.ok('connect', 'rt', `pid:${c.pid}`, '--ip', '10.245.1.20');
    assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'), new RegExp(`^${name} running$`, 'm'));
    assert.ok(lstatSync(`/var/run/netns/${name}`).isSymbolicLink(), 'a symlink');
    assert.equal(mounted(`/run/netns/${name}`), false, 'no bind mount');
    assert.ok(h.ping(peer, '10.245.1.20'), 'the peer reaches it');
    assert.equal(dig(peer, '10.245.1.1', name), '10.245.1.20', 'its name at the resolver');
    const info = JSON.parse(h.ok('sandbox', 'inspect', `pid:${c.pid}`)) as Array<{ Name: string }>;
    assert.equal(info[0]?.Name, name, 'inspect takes the reference');
  });

  it('an exited container: exited in ls at once, unnamed at the next command, address kept until prune', async () => {
    const c = await container();
    const name = `pid-${c.pid}`;
    h.ok('connect', 'rt', `pid:${c.pid}`, '--ip', '10.245.1.30', '--alias', 'goner');
    assert.equal(dig(peer, '10.245.1.1', 'goner'), '10.245.1.30');
    c.kill();
    await settle(300);
    assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'), new RegExp(`^${name} exited$`, 'm'));
    const doc = h.netctl('doctor');
    assert.match(doc.err, new RegExp(`warning: container ${name} \\(pid:${c.pid}\\) exited`));
    // The next mutating command notices it.
    h.ok('create', '--subnet', '10.245.9.0/24', 'other');
    assert.equal(dig(peer, '10.245.1.1', 'goner'), '', 'name gone');
    assert.equal(h.netnsExists(name), false, 'its name under /var/run/netns went with it');
    const x = h.name('x');
    const taken = h.netctl('sandbox', 'create', x, '--net', 'rt', '--ip', '10.245.1.30');
    assert.equal(taken.code, 1, 'its address is kept');
    assert.match(taken.err, /10\.245\.1\.30/);
    assert.equal(h.ok('sandbox', 'prune', '-f').trim(), name, 'prune prints what it removed');
    assert.doesNotMatch(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), new RegExp(name));
    h.ok('sandbox', 'create', x, '--net', 'rt', '--ip', '10.245.1.30');
    h.ok('sandbox', 'rm', x);
    h.ok('rm', 'other');
  });

  it('netns:PATH names the sandbox after the file; a clash names the reference', async () => {
    const n = h.name('nsfile');
    h.foreignNetns(n);
    h.ok('connect', 'rt', `netns:/var/run/netns/${n}`, '--ip', '10.245.1.25');
    assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}}'), new RegExp(`^${n}$`, 'm'), 'named after the file');
    assert.ok(h.ping(peer, '10.245.1.25'));
    h.ok('sandbox', 'rm', `netns:/var/run/netns/${n}`);
    assert.ok(h.netnsExists(n), 'a file netctl did not make stays');
    h.run('ip', ['netns', 'del', n]);
    const c2 = await container();
    procs.push(c2);
    h.ok('sandbox', 'create', `pid-${c2.pid}`);
    const r = h.netctl('connect', 'rt', `pid:${c2.pid}`);
    assert.equal(r.code, 1);
    assert.equal(r.err.split('\n')[0], `Error: sandbox pid-${c2.pid} already exists (from pid:${c2.pid})`);
    h.ok('sandbox', 'rm', `pid-${c2.pid}`);
  });

  it('refuses the host namespace and a missing process, and changes nothing', () => {
    for (const ref of ['pid:1', 'netns:/proc/1/ns/net']) {
      const r = h.netctl('connect', 'rt', ref);
      assert.equal(r.code, 1);
      assert.equal(r.err, `Error: ${ref} is the host's own network namespace (use --net host)\n`);
    }
    const gone = h.netctl('connect', 'rt', 'pid:999999999');
    assert.equal(gone.code, 1);
    assert.match(gone.err, /^Error: No such container: pid:999999999/);
    const bad = h.netctl('connect', 'rt', 'pid:abc');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /invalid pid in pid:abc/);
    assert.equal(h.netnsExists('pid-1'), false);
  });

  it('a container that ran again (a new namespace behind its reference) is re-adopted by sandbox start', async () => {
    // A runtime's file for the container's namespace, pointed at a new one when it runs again.
    const dir = mkdtempSync(join(tmpdir(), 'netctl-rt-'));
    const file = join(dir, 'ctr');
    const [c1, c2] = [await container(), await container()];
    procs.push(c1, c2);
    try {
      symlinkSync(`/proc/${c1.pid}/ns/net`, file);
      const re = h.name('re');
      h.ok('sandbox', 'attach', re, '--netns', file);
      h.ok('connect', 'rt', re, '--ip', '10.245.1.40');
      assert.ok(h.ping(peer, '10.245.1.40'));
      unlinkSync(file);
      symlinkSync(`/proc/${c2.pid}/ns/net`, file);
      assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'), new RegExp(`^${re} exited$`, 'm'));
      h.ok('sandbox', 'start', re);
      assert.ok(h.ping(peer, '10.245.1.40'), 'its endpoint rebuilt with its address');
      const inC2 = run('nsenter', [`--net=/proc/${c2.pid}/ns/net`, 'ip', '-4', '-o', 'addr', 'show']);
      assert.match(inC2.out, /10\.245\.1\.40\//, 'in the new namespace');
      h.ok('sandbox', 'rm', re);
    } finally {
      if (dir.startsWith(join(tmpdir(), 'netctl-rt-'))) rmSync(dir, { recursive: true, force: true });
    }
  });
});
