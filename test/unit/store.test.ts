// The file store: atomic writes, the backup, the journal file's generations, corrupt input.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileStore } from '../../src/store/file.js';

const root = mkdtempSync(join(tmpdir(), 'netctl-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
const entry = (id: string) => ({ id, pid: 1, op: `op ${id}`, started: '', cleanup: [] });

describe('FileStore', () => {
  it('writes 0600 files, keeps the previous version as .bak, skips unchanged writes', async () => {
    const st = new FileStore(join(root, 'a'));
    await st.update(async (tx) => tx.put('journal', entry('x')));
    const file = join(root, 'a', 'store.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'a')).mode & 0o777, 0o700);
    await st.update(async (tx) => tx.delete('journal', 'x'));
    assert.deepEqual(JSON.parse(readFileSync(`${file}.bak`, 'utf8')).journal.map((j: { id: string }) => j.id), ['x']);
    const before = statSync(file).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await st.update(async () => undefined);
    assert.equal(statSync(file).mtimeMs, before, 'nothing changed, nothing written');
  });

  it('an intent written to journal.json survives a process that never wrote the store', async () => {
    const st = new FileStore(join(root, 'b'));
    await st.update(async () => undefined);
    // A process writes its intent, then dies before its final write.
    await assert.rejects(st.update(async (tx) => {
      tx.put('journal', entry('intent'));
      await tx.flushJournal();
      throw new Error('killed');
    }));
    assert.ok(existsSync(join(root, 'b', 'journal.json')));
    assert.deepEqual(await st.view((tx) => tx.list('journal').map((j) => j.id)), ['intent']);
    // The next command finishes it and writes the store; the old journal file no longer counts.
    await st.update(async (tx) => tx.delete('journal', 'intent'));
    assert.deepEqual(await st.update(async (tx) => tx.list('journal').map((j) => j.id)), []);
  });

  it('refuses a corrupt journal file clearly, without touching it', async () => {
    const st = new FileStore(join(root, 'c'));
    await st.update(async () => undefined);
    writeFileSync(join(root, 'c', 'journal.json'), '{"gen":');
    await assert.rejects(st.update(async () => undefined), /the netctl journal .*journal\.json is corrupt/);
    assert.equal(readFileSync(join(root, 'c', 'journal.json'), 'utf8'), '{"gen":');
  });
});
