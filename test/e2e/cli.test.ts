// Operators and scripts as users: name resolution between namespaces, completion in real
// shells, colour rules, --debug, prune.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { BIN, TestHost, isRoot } from '../helpers/host.js';

const COMPLETIONS = new URL('../../../completions/', import.meta.url).pathname;

describe('name resolution, completion and messages', { skip: !isRoot && 'needs root' }, () => {
  let h: TestHost;
  let A: string, B: string, C: string;
  let pathDir: string;

  before(() => {
    h = new TestHost();
    [A, B, C] = [h.name('a'), h.name('b'), h.name('c')];
    // Without netctl's resolver, so the hosts files list the peers (reference §5); dns.test.ts
    // covers the files on networks with one.
    h.ok('create', '--subnet', '10.241.1.0/24', '-o', 'netctl.dns=false', 'backend');
    h.ok('create', '--subnet', '10.241.2.0/24', '-o', 'netctl.dns=false', 'frontend');
    h.ok(
      'sandbox',
      'create',
      A,
      '--net',
      'backend',
      '--ip',
      '10.241.1.10',
      '--alias',
      'db',
      '--dns',
      '192.0.2.53',
      '--dns-search',
      'corp.example',
      '--add-host',
      'printer:192.0.2.77',
    );
    h.ok('sandbox', 'create', B, '--net', 'backend', '--ip', '10.241.1.11', '--hostname', 'bee');
    h.ok('connect', 'frontend', B, '--ip', '10.241.2.11', '--alias', 'web');
    h.ok('sandbox', 'create', C, '--net', 'frontend', '--ip', '10.241.2.12');
    pathDir = mkdtempSync(join(tmpdir(), 'netctl-path-'));
    symlinkSync(BIN, join(pathDir, 'netctl'));
  });
  after(() => {
    rmSync(pathDir, { recursive: true, force: true });
    assert.deepEqual(h.cleanup(), [], 'nothing leaked');
    for (const n of [A, B, C]) assert.equal(existsSync(`/etc/netns/${n}`), false, `/etc/netns/${n} removed`);
  });

  // -s files: only the hosts file (an unknown name would otherwise wait on unreachable DNS servers).
  const getent = (ns: string, name: string) =>
    h.run('ip', ['netns', 'exec', ns, 'getent', '-s', 'files', 'hosts', name]).out.trim().split(/\s+/)[0] ?? '';

  it('peers resolve each other by name and alias on shared user-defined networks only', () => {
    assert.equal(getent(A, B), '10.241.1.11');
    assert.equal(getent(B, 'db'), '10.241.1.10', 'alias on backend');
    assert.equal(getent(B, C), '10.241.2.12');
    assert.equal(getent(C, 'web'), '10.241.2.11', "B's alias on frontend, its frontend address");
    assert.equal(getent(C, A), '', 'no shared network: no resolution');
    assert.equal(getent(A, 'web'), '', 'an alias on another network does not leak');
    assert.equal(getent(A, 'printer'), '192.0.2.77', '--add-host');
    assert.equal(getent(B, 'bee'), '10.241.1.11', '--hostname names itself');
  });

  it('resolv.conf names the --dns servers first, carries --dns-search and no loopback server', () => {
    const r = readFileSync(`/etc/netns/${A}/resolv.conf`, 'utf8');
    assert.deepEqual(r.match(/^nameserver .*$/gm), ['nameserver 192.0.2.53']);
    assert.match(r, /^search corp\.example$/m);
    assert.doesNotMatch(r, /nameserver 127\./);
    assert.equal(h.run('ip', ['netns', 'exec', A, 'cat', '/etc/resolv.conf']).out, r, 'seen as /etc/resolv.conf');
  });

  it("disconnecting one network removes only that network's lines, for peers too", () => {
    h.ok('disconnect', 'frontend', B);
    assert.equal(getent(C, 'web'), '');
    assert.equal(getent(C, B), '');
    assert.equal(getent(A, B), '10.241.1.11', 'backend lines kept (moby#34044)');
    assert.equal(getent(B, 'db'), '10.241.1.10');
    h.ok('connect', 'frontend', B, '--ip', '10.241.2.11', '--alias', 'web');
    assert.equal(getent(C, 'web'), '10.241.2.11');
  });

  it('stop and start of a peer update the others', () => {
    h.ok('sandbox', 'stop', A);
    assert.equal(getent(B, 'db'), '');
    h.ok('sandbox', 'start', A);
    assert.equal(getent(B, 'db'), '10.241.1.10');
  });

  it('a process already running in a sandbox sees a peer that joins later (files rewritten in place)', async () => {
    const D = h.name('d');
    // ip netns exec bind-mounts the files at start: a file replaced by rename would stay unseen.
    const child = spawn('ip', ['netns', 'exec', C, 'sh', '-c', `sleep 1; getent -s files hosts ${D}`]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const done = new Promise((r) => child.on('close', r));
    await new Promise((r) => setTimeout(r, 300));
    h.ok('sandbox', 'create', D, '--net', 'frontend', '--ip', '10.241.2.13');
    await done;
    assert.match(out, /^10\.241\.2\.13\s/);
    h.ok('sandbox', 'rm', D);
  });

  const shellEnv = () => ({ ...process.env, PATH: `${pathDir}:${process.env['PATH']}`, NETCTL_ROOT: h.root });
  const sh = (shell: string, script: string) => {
    const r = h.run('env', [`PATH=${shellEnv().PATH}`, `NETCTL_ROOT=${h.root}`, shell, '-c', script]);
    return r.out.trim().split('\n').filter(Boolean);
  };

  it('bash completes subcommands, networks and sandboxes through the shipped script', () => {
    const run = (words: string[]) =>
      sh(
        'bash',
        `source ${COMPLETIONS}netctl.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); ` +
          `COMP_CWORD=${words.length - 1}; _netctl; printf '%s\\n' "\${COMPREPLY[@]}"`,
      );
    assert.deepEqual(run(['netctl', 'dis']), ['disconnect']);
    assert.deepEqual(run(['netctl', 'rm', 'f']), ['frontend']);
    assert.deepEqual(run(['netctl', 'connect', 'backend', `${h.tag}-`]), [A, B, C]);
    assert.deepEqual(run(['netctl', 'ls', '--filter', 'type=']), ['type=custom', 'type=builtin']);
    assert.equal(sh('bash', 'source <(netctl completion bash); complete -p netctl')[0], 'complete -F _netctl netctl');
  });

  it('zsh completes through the shipped function', () => {
    const run = (words: string[]) =>
      sh(
        'zsh',
        `compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -l -- "$@"; }; ` +
          `_files() { print FILES; }; compdef() { :; }; source ${COMPLETIONS}_netctl; ` +
          `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _netctl`,
      );
    assert.deepEqual(run(['netctl', 'inspect', 'b']), ['backend', 'bridge']);
    assert.deepEqual(run(['netctl', 'sandbox', 'rm', `${h.tag}-a`]), [A]);
    assert.deepEqual(run(['netctl', 'create', '-d', '']), ['bridge', 'host', 'null', 'macvlan', 'overlay']);
  });

  it('fish completes through the shipped script', () => {
    const run = (line: string) =>
      sh('fish', `source ${COMPLETIONS}netctl.fish; complete -C '${line}'`).map((l) => l.split('\t')[0]);
    assert.deepEqual(run('netctl disconnect fr'), ['frontend']);
    assert.deepEqual(run(`netctl exec ${h.tag}-c`), [C]);
  });

  it('colour only when asked: FORCE_COLOR on, NO_COLOR and --no-color off, plain when piped', () => {
    const err = (env: string[], ...args: string[]) =>
      h.run('env', [...env, 'nsenter', `--net=/var/run/netns/${h.ns}`, BIN, '--root', h.root, ...args]).err;
    assert.match(err(['FORCE_COLOR=1'], 'inspect', 'nope'), /^\x1b\[31mError:\x1b\[39m network nope not found/);
    assert.match(err(['FORCE_COLOR=1', 'NO_COLOR=1'], 'inspect', 'nope'), /^Error: network nope not found/);
    assert.match(err(['FORCE_COLOR=1'], '--no-color', 'inspect', 'nope'), /^Error: network nope not found/);
    assert.match(err([], 'inspect', 'nope'), /^Error: /);
  });

  it('--debug prints every ip/iptables invocation with duration and exit code', () => {
    const r = h.netctl('--debug', 'create', '--subnet', '10.241.9.0/24', 'dbg');
    assert.equal(r.code, 0);
    assert.match(
      r.err,
      new RegExp(
        [
          '^debug: ip -batch - <<< "link add name nc-[0-9a-f]{12} address 02(:[0-9a-f]{2}){5} type bridge',
          String.raw`\\n.*" -> exit 0 \(\d+\.\d ms\)$`,
        ].join(''),
        'm',
      ),
    );
    assert.match(r.err, /^debug: iptables-restore --noflush -w <<< .* -> exit 0 \(\d+\.\d ms\)$/m);
  });

  it('ls and inspect print the same through their quick path as through the full CLI', () => {
    const forms = [
      ['ls'],
      ['list', '--no-trunc'],
      ['ls', '-q', '-f', 'type=custom'],
      ['ls', '--format', 'json'],
      ['ls', '--format', 'table {{.Name}}\t{{.Containers}}\t{{.IPv4}}'],
      ['ls', '--format', '{{.Name}} {{.Subnets}} {{.Label "x"}}'],
      ['ls', '-f', 'dangling=false', '-f', 'driver=bridge'],
      ['ls', '-f', 'label=none'],
      ['ls', '-f', 'bogus=1'],
      ['ls', '--format', '{{.Nope'],
      ['inspect', 'backend'],
      ['inspect', 'frontend', 'nope', 'backend'],
      ['inspect', '-f', '{{.Name}} {{len .Containers}}', 'backend', 'frontend'],
      ['inspect', '--format=json', 'bridge'],
      ['inspect', 'nope'],
    ];
    for (const args of forms) {
      const q = h.netctlEnv({ NETCTL_TRACE: '1' }, ...args);
      const f = h.netctlEnv({ NETCTL_TRACE: '1', NETCTL_QUICK: '0' }, ...args);
      const label = args.join(' ');
      const traced = (err: string) => err.split('\n').filter((l) => !l.startsWith('trace: '));
      assert.deepEqual([q.code, q.out, traced(q.err)], [f.code, f.out, traced(f.err)], label);
      assert.equal(/trace: [\d.]+ ms parsed:/.test(f.err), true, `${label}: the full CLI parsed it`);
      // Forms that succeed ran without the full CLI; an error is reported by it.
      const quick = /trace: [\d.]+ ms quick: \w+ done/.test(q.err);
      if (f.code === 0) assert.equal(quick, true, `${label}: the quick path ran it`);
    }
  });

  it('prune removes unused user networks only, honouring label filters', () => {
    h.ok('create', '--label', 'keep', '--subnet', '10.241.10.0/24', 'kept');
    const r = h.ok('prune', '-f', '--filter', 'label!=keep');
    assert.equal(r, 'Deleted Networks:\ndbg\n');
    assert.deepEqual(h.ok('ls', '--format', '{{.Name}}', '-f', 'type=custom').trim().split('\n'), [
      'backend',
      'frontend',
      'kept',
    ]);
    assert.equal(h.ok('prune', '-f'), 'Deleted Networks:\nkept\n');
  });
});
