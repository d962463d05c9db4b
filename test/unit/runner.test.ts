import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { uv } from '../../src/lib/uv.js';
import { deletionsDone } from '../../src/kernel/ip.js';
import { ProcessRunner, ipArgv } from '../../src/kernel/runner.js';
import { SystemError } from '../../src/lib/errors.js';

describe('ProcessRunner', () => {
  it('runs ip inside a named netns through nsenter (no copy of the mount table, unlike ip -n)', () => {
    assert.deepEqual(ipArgv(['-batch', '-'], null), ['ip', ['-batch', '-']]);
    assert.deepEqual(ipArgv(['-n', 'sb1', '-batch', '-'], null), ['nsenter', ['--net=/var/run/netns/sb1', '--', 'ip', '-batch', '-']]);
    assert.deepEqual(ipArgv(['-n', 'sb1', 'link'], '/proc/7/ns/mnt'), ['nsenter', ['--mount=/proc/7/ns/mnt', '--net=/var/run/netns/sb1', '--', 'ip', 'link']]);
    assert.deepEqual(ipArgv(['netns', 'add', 'x'], '/proc/7/ns/mnt'), ['nsenter', ['--mount=/proc/7/ns/mnt', '--', 'ip', 'netns', 'add', 'x']]);
  });


  it('a missing binary names the Debian package to install', async () => {
    const err = await new ProcessRunner().run('iptables-restore-missing-xyz', []).catch((e: unknown) => e);
    assert.ok(err instanceof SystemError);
    assert.match(err.message, /iptables-restore-missing-xyz not found/);
    const known = await new ProcessRunner().run('ip', ['-V']).catch((e: unknown) => e);
    assert.ok(!(known instanceof Error), 'ip runs');
  });

  it('never throws on a non-zero exit, and reports it', async () => {
    const lines: string[] = [];
    const r = await new ProcessRunner((l) => lines.push(l)).run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(r, { stdout: 'out\n', stderr: 'err\n', exitCode: 3 });
    assert.match(lines[0] ?? '', /^sh -c echo out; echo err >&2; exit 3 -> exit 3 \(\d+\.\d ms\)$/);
  });

  it('resolves once `settled` holds, without waiting for the process to exit', async () => {
    let marks = 0;
    const t0 = Date.now();
    const r = await new ProcessRunner().run('sh', ['-c', 'sleep 3'], { settled: () => ++marks >= 3 });
    assert.equal(r.exitCode, 0);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.equal(marks, 3, 'polled until it held');
  });

  it('waits for the exit, and reports it, while `settled` does not hold', async () => {
    const r = await new ProcessRunner().run('sh', ['-c', 'echo no >&2; exit 2'], { settled: () => false });
    assert.deepEqual(r, { stdout: '', stderr: 'no\n', exitCode: 2 });
  });
});

// The same runs on libuv's handles (lib/uv.ts, this process) and through node:child_process
// (NETCTL_NO_UV=1, a child process): the two must not differ in anything a caller sees.
const runnerUrl = new URL('../../src/kernel/runner.js', import.meta.url).href;
const BIG = 'x'.repeat(1 << 20); // far past a pipe's 64 KiB: the write completes later
const runs = async (): Promise<unknown[]> => {
  const { ProcessRunner: R } = (await import(runnerUrl)) as typeof import('../../src/kernel/runner.js');
  const r = new R();
  const out: unknown[] = [];
  out.push(await r.run('sh', ['-c', 'echo out; echo err >&2; exit 3']));
  out.push(await r.run('sh', ['-c', 'read a; echo "got $a"'], { input: 'one\ntwo\n' }));
  out.push(await r.run('sh', ['-c', 'wc -c'], { input: new Promise((res) => setTimeout(() => res(BIG), 20)) }));
  out.push(await r.run('sh', ['-c', 'exec 0<&-; echo closed its stdin'], { input: BIG })); // EPIPE is no error
  out.push(((await r.run('sh', ['-c', 'head -c 300000 /dev/zero | tr "\\0" y'])) as { stdout: string }).stdout.length);
  out.push(await r.run('sh', ['-c', 'kill -9 $$']));
  out.push(await r.run('no-such-binary-xyz', []).catch((e: Error) => e.message));
  return out;
};
const EXPECTED = [
  { stdout: 'out\n', stderr: 'err\n', exitCode: 3 },
  { stdout: 'got one\n', stderr: '', exitCode: 0 },
  { stdout: `${1 << 20}\n`, stderr: '', exitCode: 0 },
  { stdout: 'closed its stdin\n', stderr: '', exitCode: 0 },
  300000,
  { stdout: '', stderr: '', exitCode: 128 },
  'no-such-binary-xyz not found',
];

describe('ProcessRunner on libuv handles and on child_process', () => {
  it('this Node offers the handles (else every run would take the fallback)', () => {
    assert.ok(uv(), 'process_wrap / pipe_wrap / stream_wrap as lib/uv.ts expects them');
  });

  it('libuv handles: output, input (late, large, refused), signals, a missing binary; no temp file left', async () => {
    assert.deepEqual(await runs(), EXPECTED);
    assert.deepEqual(readdirSync(tmpdir()).filter((f) => f.startsWith(`netctl-${process.pid}-`)), []);
  });

  it('no temporary directory to capture into: the run still happens, through child_process', async () => {
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = '/nonexistent-netctl-tmp';
    try {
      assert.deepEqual(await new ProcessRunner().run('sh', ['-c', 'echo out; echo err >&2; exit 3']), EXPECTED[0]);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
  });

  it('captures in the directory os.tmpdir() names, without loading node:os', () => {
    for (const env of [{ TMPDIR: '/var/tmp/' }, { TMPDIR: '', TMP: '/srv/t' }, { TMPDIR: '', TMP: '', TEMP: '/x/' }, { TMPDIR: '', TMP: '', TEMP: '' }, { TMPDIR: '/' }]) {
      const script = `import { tmpdir } from 'node:os'; const { tmpDir } = await import(${JSON.stringify(new URL('../../src/lib/uv.js', import.meta.url).href)});
        process.stdout.write(JSON.stringify([tmpDir(), tmpdir()]));`;
      const [ours, node] = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } })) as [string, string];
      assert.equal(ours, node, JSON.stringify(env));
    }
  });

  it('child_process (NETCTL_NO_UV=1) gives the same results', () => {
    const script = `const runs = ${runs.toString()}; const runnerUrl = ${JSON.stringify(runnerUrl)}; const BIG = 'x'.repeat(1 << 20);
      runs().then((o) => process.stdout.write(JSON.stringify(o)));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NETCTL_NO_UV: '1' } });
    assert.deepEqual(JSON.parse(out), EXPECTED);
  });

  it('spawning and taking the store lock load neither child_process, net, cluster nor os', () => {
    const root = mkdtempSync(join(tmpdir(), 'netctl-uv-'));
    try {
      const lockUrl = new URL('../../src/store/lock.js', import.meta.url).href;
      const script = `const had = new Set(process.moduleLoadList);
        const { ProcessRunner } = await import(${JSON.stringify(runnerUrl)}); const { acquireLock } = await import(${JSON.stringify(lockUrl)});
        const release = await acquireLock(${JSON.stringify(root)}); const r = await new ProcessRunner().run('ip', ['-V']); await release();
        const mods = process.moduleLoadList.filter((m) => !had.has(m)); // before process.stdout, a net.Socket on a pipe
        (await import('node:fs')).writeSync(1, JSON.stringify({ code: r.exitCode, mods }));`;
      const probe = (env: Record<string, string>) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } })) as { code: number; mods: string[] };
      const fast = probe({});
      assert.equal(fast.code, 0);
      for (const m of ['NativeModule child_process', 'NativeModule net', 'NativeModule cluster', 'NativeModule os']) assert.ok(!fast.mods.includes(m), `loads ${m}`);
      assert.ok(probe({ NETCTL_NO_UV: '1' }).mods.includes('NativeModule child_process'), 'the probe sees child_process');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('deletionsDone', () => {
  it('only for batches made of link and netns deletions', () => {
    assert.equal(deletionsDone([['link', 'del', 'vethabc'], ['addr', 'flush', 'dev', 'x']]), undefined);
    assert.equal(deletionsDone([['link', 'set', 'vethabc', 'down']]), undefined);
    assert.equal(typeof deletionsDone([['link', 'del', 'vethabc'], ['netns', 'del', 'x']]), 'function');
  });

  it('holds when no named link is in this namespace and no named netns exists', () => {
    assert.equal(deletionsDone([['link', 'del', 'lo']])?.(), false, 'lo is always here');
    assert.equal(deletionsDone([['link', 'del', 'netctl-nope0']])?.(), true);
    assert.equal(deletionsDone([['netns', 'del', 'netctl-no-such-netns']])?.(), true);
  });
});
