import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
