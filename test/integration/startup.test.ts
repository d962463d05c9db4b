// Start-up cost is paid by every command: --version must not read the bundle, and --help,
// __complete and the read-only commands must not load execa (only `exec` uses it) nor take the lock. Checked on
// the real bin/netctl, by listing the files Node loaded. Needs root: only a privileged netctl
// seeds the predefined networks (`inspect bridge` below), reading the kernel's routes to do so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/netctl', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'netctl-startup-'));
const hook = join(dir, 'hook.cjs');
writeFileSync(
  hook,
  "process.on('exit', () => require('fs').writeSync(3, JSON.stringify(Object.keys(require.cache))));\n",
);
// Built-in modules too: what Node loaded after the hook itself.
const builtinsHook = join(dir, 'builtins.cjs');
writeFileSync(
  builtinsHook,
  "const had = new Set(process.moduleLoadList); process.on('exit', () => require('fs').writeSync(3, " +
    'JSON.stringify(process.moduleLoadList.filter((m) => !had.has(m)))));\n',
);
after(() => rmSync(dir, { recursive: true, force: true }));

/** What Node loaded while running netctl with these arguments, as `hook` writes it to fd 3, and netctl's stdout. */
function probe(hookFile: string, args: string[]): { loaded: string[]; stdout: string } {
  // stdout to a file, as before to /dev/null: on a pipe, commander's help would load net's streams.
  const [fd3, out] = [join(dir, 'fd3'), join(dir, 'out')];
  execFileSync('sh', ['-c', `node -r "${hookFile}" "$@" 3>"${fd3}" >"${out}" 2>/dev/null || true`, 'sh', ...args]);
  return { loaded: JSON.parse(readFileSync(fd3, 'utf8')) as string[], stdout: readFileSync(out, 'utf8') };
}

/** The files loaded through require() while running netctl with these arguments. */
function loaded(...args: string[]): string[] {
  return probe(hook, args).loaded.map((f) => f.split('/').pop() ?? f);
}

/** The built-in modules (`NativeModule child_process`, ...) netctl loaded with these arguments, and its stdout. */
function builtins(...args: string[]): { mods: string[]; stdout: string } {
  const { loaded: mods, stdout } = probe(builtinsHook, args);
  return { mods, stdout };
}

describe('start-up path', () => {
  it('the probe sees a lazily loaded execa', () => {
    const execa = fileURLToPath(new URL('../../src/bundle/execa.cjs', import.meta.url));
    assert.ok(loaded('-e', `require(${JSON.stringify(execa)})`).includes('execa.cjs'));
  });

  it('--version reads neither the bundle nor execa', () => {
    const files = loaded(bin, '--version');
    assert.ok(!files.includes('netctl.cjs') && !files.includes('execa.cjs'), files.join(' '));
    assert.ok(loaded(bin, '--help').includes('netctl.cjs'), 'the probe sees the bundle');
  });

  it('--help, __complete and ls run the bundle without execa', () => {
    for (const args of [['--help'], ['__complete', 'rm', ''], ['--root', join(dir, 'root'), 'ls']]) {
      const files = loaded(bin, ...args);
      assert.ok(!files.includes('execa.cjs'), `${args.join(' ')} loads ${files.join(' ')}`);
      // etcd3 (gRPC, protobuf) is for the cluster-store commands alone.
      assert.ok(!files.some((f) => f.startsWith('etcd3')), `${args.join(' ')} loads ${files.join(' ')}`);
    }
  });

  it('--help, ls and inspect take no lock, and on Node 20 start no part of the ESM loader', () => {
    assert.ok(
      builtins('-e', "require('node:net').createServer().listen(0).close()").mods.includes('NativeModule cluster'),
      'the probe sees a listen',
    );
    const root = join(dir, 'root');
    const node20 = process.versions.node.startsWith('20.');
    for (const [args, out] of [
      [['--help'], /^Usage: netctl/m],
      [['--root', root, 'ls'], /^NETWORK ID +NAME/],
      [['--root', root, 'inspect', 'bridge'], /"Name": "bridge"/],
    ] as const) {
      const { mods, stdout } = builtins(bin, ...args);
      assert.match(stdout, out, `${args.join(' ')}: the bundle did not run`);
      // The lock is a listening socket: its first listen() loads node:cluster.
      for (const m of ['NativeModule cluster', ...(node20 ? ['NativeModule module'] : [])])
        assert.ok(!mods.includes(m), `${args.join(' ')} loads ${m}`);
    }
  });
});
