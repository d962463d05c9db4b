import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProcessRunner, ipArgv } from '../../src/kernel/runner.js';
import { SystemError } from '../../src/lib/errors.js';

describe('ProcessRunner', () => {
  it('runs ip inside a named netns through nsenter (no copy of the mount table, unlike ip -n)', () => {
    assert.deepEqual(ipArgv(['-batch', '-'], null), ['ip', ['-batch', '-']]);
    assert.deepEqual(ipArgv(['-n', 'sb1', '-batch', '-'], null), [
      'nsenter',
      ['--net=/var/run/netns/sb1', '--', 'ip', '-batch', '-'],
    ]);
    assert.deepEqual(ipArgv(['-n', 'sb1', 'link'], '/proc/7/ns/mnt'), [
      'nsenter',
      ['--mount=/proc/7/ns/mnt', '--net=/var/run/netns/sb1', '--', 'ip', 'link'],
    ]);
    assert.deepEqual(ipArgv(['netns', 'add', 'x'], '/proc/7/ns/mnt'), [
      'nsenter',
      ['--mount=/proc/7/ns/mnt', '--', 'ip', 'netns', 'add', 'x'],
    ]);
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
});

// What a caller sees of a run, whatever the process does with its pipes.
const BIG = 'x'.repeat(1 << 20); // far past a pipe's 64 KiB: the write completes later
const runs = async (): Promise<unknown[]> => {
  const r = new ProcessRunner();
  const out: unknown[] = [];
  out.push(await r.run('sh', ['-c', 'echo out; echo err >&2; exit 3']));
  out.push(await r.run('sh', ['-c', 'read a; echo "got $a"'], { input: 'one\ntwo\n' }));
  out.push(await r.run('sh', ['-c', 'wc -c'], { input: new Promise((res) => setTimeout(() => res(BIG), 20)) }));
  out.push(await r.run('sh', ['-c', 'exec 0<&-; echo closed its stdin'], { input: BIG })); // EPIPE is no error
  out.push((await r.run('sh', ['-c', 'head -c 300000 /dev/zero | tr "\\0" y'])).stdout.length);
  out.push(await r.run('sh', ['-c', 'kill -9 $$']));
  out.push(await r.run('no-such-binary-xyz', []).catch((e: Error) => e.message));
  out.push(await r.run('sh', ['-c', 'cat; echo eof'])); // no input: stdin is closed, not left open
  return out;
};

describe('ProcessRunner through node:child_process', () => {
  it('output, input (late, large, refused), signals, a missing binary, no stdin', async () => {
    assert.deepEqual(await runs(), [
      { stdout: 'out\n', stderr: 'err\n', exitCode: 3 },
      { stdout: 'got one\n', stderr: '', exitCode: 0 },
      { stdout: `${1 << 20}\n`, stderr: '', exitCode: 0 },
      { stdout: 'closed its stdin\n', stderr: '', exitCode: 0 },
      300000,
      { stdout: '', stderr: '', exitCode: 128 },
      'no-such-binary-xyz not found',
      { stdout: 'eof\n', stderr: '', exitCode: 0 },
    ]);
  });

  it('returns only once the process has exited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netctl-runner-'));
    try {
      // The child writes its mark after closing its output: a run that resolved on the output's
      // end, not on the exit, would come back before the mark exists.
      await new ProcessRunner().run('sh', ['-c', `exec >&- 2>&-; sleep 0.2; touch ${dir}/exited`]);
      assert.deepEqual(readdirSync(dir), ['exited']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads node:child_process at the first spawn, not at import', () => {
    const runnerUrl = new URL('../../src/kernel/runner.js', import.meta.url).href;
    const script = `const { ProcessRunner } = await import(${JSON.stringify(runnerUrl)});
      const before = process.moduleLoadList.includes('NativeModule child_process');
      await new ProcessRunner().run('true', []);
      process.stdout.write(JSON.stringify([before, process.moduleLoadList.includes('NativeModule child_process')]));`;
    assert.deepEqual(
      JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })),
      [false, true],
    );
  });
});

describe('public Node APIs only', () => {
  it('no process.binding, internalBinding or internal module in src/, bin/, scripts/ or bench/', () => {
    const top = new URL('../../../', import.meta.url).pathname;
    const r = spawnSync(
      'grep',
      [
        '-rnE',
        String.raw`process\.binding|internalBinding|require\(['"]internal/|--expose-internals`,
        'src',
        'bin',
        'scripts',
        'bench',
      ],
      { cwd: top, encoding: 'utf8' },
    );
    assert.equal(r.stdout, '');
    assert.equal(r.status, 1, r.stderr); // grep's "nothing found", not an error
  });
});
