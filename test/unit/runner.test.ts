import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcessRunner } from '../../src/kernel/runner.js';
import { SystemError } from '../../src/lib/errors.js';

describe('ProcessRunner', () => {
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
