// The file store: atomic writes, the backup, the journal file's generations, corrupt input.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NetworkRecord } from '../../src/model/records.js';
import { DELTA_LIMIT, FileStore } from '../../src/store/file.js';

const root = mkdtempSync(join(tmpdir(), 'netctl-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
const entry = (id: string) => ({ id, pid: 1, op: `op ${id}`, started: '', cleanup: [] });
const net = (id: string) => ({ id, name: id }) as unknown as NetworkRecord;

describe('FileStore', () => {
  it('writes 0600 files; changes go to journal.json until the delta is full, then store.json absorbs it', async () => {
    const dir = join(root, 'a');
    const st = new FileStore(dir);
    const file = join(dir, 'store.json');
    const jfile = join(dir, 'journal.json');
    await st.update(async (tx) => tx.put('networks', net('n0')));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const first = readFileSync(file, 'utf8');
    await st.update(async (tx) => { tx.put('networks', net('n1')); tx.delete('networks', 'n0'); });
    assert.equal(readFileSync(file, 'utf8'), first, 'a small change leaves store.json alone');
    assert.deepEqual(JSON.parse(readFileSync(jfile, 'utf8')).delta, { networks: { n0: null, n1: net('n1') } });
    assert.deepEqual(await st.view((tx) => tx.list('networks').map((n) => n.id)), ['n1']);
    // Nothing changed, nothing written.
    const jBefore = statSync(jfile).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await st.update(async (tx) => void tx.list('networks'));
    assert.equal(statSync(jfile).mtimeMs, jBefore);
    // Past DELTA_LIMIT records the store is rewritten; the version before it is the .bak.
    // n0's deletion and n1..n64: the 65th record in the delta.
    for (let i = 2; i <= DELTA_LIMIT; i++) await st.update(async (tx) => tx.put('networks', net(`n${i}`)));
    assert.equal(readFileSync(`${file}.bak`, 'utf8'), first);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(Object.keys(doc.networks).length, DELTA_LIMIT);
    assert.ok(doc.journalGen >= JSON.parse(readFileSync(jfile, 'utf8')).gen, 'the old journal file no longer counts');
    assert.equal((await st.view((tx) => tx.list('networks'))).length, DELTA_LIMIT);
  });

  it('a journal file made for another version of store.json is ignored (a store put back from .bak)', async () => {
    const dir = join(root, 'd');
    const st = new FileStore(dir);
    await st.update(async (tx) => tx.put('networks', net('old')));
    for (let i = 0; i <= DELTA_LIMIT; i++) await st.update(async (tx) => tx.put('networks', net(`x${i}`))); // compaction
    await st.update(async (tx) => tx.put('networks', net('after')));
    const file = join(dir, 'store.json');
    writeFileSync(file, readFileSync(`${file}.bak`));
    assert.deepEqual(await st.view((tx) => tx.list('networks').map((n) => n.id)), ['old']);
  });

  it('with NETCTL_CHECK_STORE, a record changed in place without put fails the commit', async () => {
    const st = new FileStore(join(root, 'e'));
    await st.update(async (tx) => tx.put('networks', net('n')));
    process.env['NETCTL_CHECK_STORE'] = '1';
    try {
      await assert.rejects(st.update(async (tx) => { (tx.get('networks', 'n') as { name: string }).name = 'changed'; }), /networks record n changed without put/);
      await st.update(async (tx) => { const n = tx.get('networks', 'n'); if (n) { n.name = 'changed'; tx.put('networks', n); } });
    } finally {
      delete process.env['NETCTL_CHECK_STORE'];
    }
    assert.equal(await st.view((tx) => tx.get('networks', 'n')?.name), 'changed');
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

  it('store.json is one JSON document, one record per line; a copy reformatted by hand still reads and is laid out again', async () => {
    const dir = join(root, 'f');
    const st = new FileStore(dir);
    await st.update(async (tx) => { tx.put('networks', net('a')); tx.put('networks', net('b')); });
    const file = join(dir, 'store.json');
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(Object.keys(JSON.parse(text).networks), ['a', 'b']);
    assert.match(text, /\n"a":\{"id":"a","name":"a"\}\n,"b":/);
    writeFileSync(file, JSON.stringify(JSON.parse(text), null, 2));
    assert.deepEqual(await st.view((tx) => tx.list('networks').map((n) => n.id)), ['a', 'b']);
    await st.update(async (tx) => tx.put('networks', net('c')));
    assert.match(readFileSync(file, 'utf8'), /^\{"version":\d+,.*"layout":\{/);
    assert.deepEqual(await st.view((tx) => tx.ids('networks')), ['a', 'b', 'c']);
  });
});
