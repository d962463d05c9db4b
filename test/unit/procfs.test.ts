// lib/procfs.ts: a /proc file read into a small buffer, grown as needed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readProc } from '../../src/lib/procfs.js';

describe('readProc', () => {
  it('reads what readFileSync reads, of any length (a file past the first buffer, /proc files of size 0)', () => {
    const d = mkdtempSync(join(tmpdir(), 'netctl-proc-'));
    try {
      for (const n of [0, 1, 4095, 4096, 4097, 20000]) {
        const f = join(d, `f${n}`);
        writeFileSync(
          f,
          'x'.repeat(n).replace(/x/g, (_, i: number) => String.fromCharCode(97 + (i % 26))),
        );
        assert.equal(readProc(f), readFileSync(f, 'latin1'), `${n} bytes`);
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
    assert.equal(readProc('/proc/sys/kernel/hostname'), readFileSync('/proc/sys/kernel/hostname', 'latin1'));
    assert.match(readProc('/proc/sys/kernel/random/boot_id'), /^[0-9a-f-]{36}\n$/);
    assert.throws(() => readProc('/proc/no-such-file'), /ENOENT/);
  });
});
