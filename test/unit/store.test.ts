// The file store: atomic writes, the backup, the journal file's generations, corrupt input.
import * as zlib from 'node:zlib';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { networkRecord, type NetworkRecord } from '../../src/model/records.js';
import { DELTA_LIMIT, FileStore } from '../../src/store/file.js';
import {
  JOURNAL,
  MIN_SLOT,
  SLOTS,
  bootId,
  crc32,
  loadDoc,
  newestFirst,
  readSlots,
  slotBytes,
  slotHolds,
  slotJournal,
  type JournalFile,
} from '../../src/store/state.js';

const root = mkdtempSync(join(tmpdir(), 'netctl-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
const entry = (id: string) => ({ id, pid: 1, op: `op ${id}`, started: '', cleanup: [] });
const net = (id: string) => ({ id, name: id }) as unknown as NetworkRecord;
/** The journal of a root as each slot holds it (null: none, or cut short). */
const slotsOf = (dir: string): Array<JournalFile | null> => {
  const s = readSlots(join(dir, JOURNAL));
  return s.heads.map((_, i) => slotJournal(s, i));
};
/** The newest journal that holds. */
const newest = (dir: string): JournalFile | undefined =>
  slotsOf(dir)
    .filter((j): j is JournalFile => j !== null)
    .sort((a, b) => b.gen - a.gen)[0];
/** Writes bytes into slot i of a root's journal, in place (what a torn or foreign write leaves). */
const poke = (dir: string, i: number, bytes: Buffer | string) => {
  const file = join(dir, JOURNAL);
  const cap = statSync(file).size / SLOTS;
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.from(bytes);
    writeSync(fd, Buffer.concat([b, Buffer.alloc(Math.max(0, cap - b.length), 0x20)]), 0, cap, i * cap);
  } finally {
    closeSync(fd);
  }
};

describe('FileStore', () => {
  it('writes 0600 files; changes go to the journal until the delta is full, then store.json absorbs it', async () => {
    const dir = join(root, 'a');
    const st = new FileStore(dir);
    const file = join(dir, 'store.json');
    const jfile = join(dir, JOURNAL);
    await st.update(async (tx) => tx.put('networks', net('n0')));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const first = readFileSync(file, 'utf8');
    await st.update(async (tx) => {
      tx.put('networks', net('n1'));
      tx.delete('networks', 'n0');
    });
    assert.equal(readFileSync(file, 'utf8'), first, 'a small change leaves store.json alone');
    assert.equal(statSync(jfile).mode & 0o777, 0o600);
    assert.equal(statSync(jfile).size, SLOTS * MIN_SLOT);
    assert.deepEqual(newest(dir)?.delta, { networks: { n0: null, n1: net('n1') } });
    assert.equal(newest(dir)?.durable, true, "a command's last write is the durable one");
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
    assert.ok(doc.journalGen >= (newest(dir)?.gen ?? 0), 'the journal no longer counts');
    assert.equal((await st.view((tx) => tx.list('networks'))).length, DELTA_LIMIT);
  });

  it('a journal file made for another version of store.json is ignored (a store put back from .bak)', async () => {
    const dir = join(root, 'd');
    const st = new FileStore(dir);
    await st.update(async (tx) => tx.put('networks', net('old')));
    // compaction
    for (let i = 0; i <= DELTA_LIMIT; i++) await st.update(async (tx) => tx.put('networks', net(`x${i}`)));
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
      await assert.rejects(
        st.update(async (tx) => {
          (tx.get('networks', 'n') as { name: string }).name = 'changed';
        }),
        /networks record n changed without put/,
      );
      await st.update(async (tx) => {
        const n = tx.get('networks', 'n');
        if (n) {
          n.name = 'changed';
          tx.put('networks', n);
        }
      });
    } finally {
      delete process.env['NETCTL_CHECK_STORE'];
    }
    assert.equal(await st.view((tx) => tx.get('networks', 'n')?.name), 'changed');
  });

  it('an intent written to the journal survives a process that never wrote the store', async () => {
    const st = new FileStore(join(root, 'b'));
    await st.update(async () => undefined);
    // A process writes its intent, then dies before its final write.
    await assert.rejects(
      st.update(async (tx) => {
        tx.put('journal', entry('intent'));
        await tx.flushJournal();
        throw new Error('killed');
      }),
    );
    assert.deepEqual(
      newest(join(root, 'b'))?.entries.map((j) => j.id),
      ['intent'],
    );
    assert.notEqual(newest(join(root, 'b'))?.durable, true, "an intent is not fdatasync'd");
    assert.deepEqual(await st.view((tx) => tx.list('journal').map((j) => j.id)), ['intent']);
    // The next command finishes it and writes the store; the old journal file no longer counts.
    await st.update(async (tx) => tx.delete('journal', 'intent'));
    assert.deepEqual(await st.update(async (tx) => tx.list('journal').map((j) => j.id)), []);
  });

  it(
    'refuses a journal slot whose hash holds but which is not a journal, and a journal file of a foreign size, ' +
      'without touching them',
    async () => {
      const dir = join(root, 'c');
      const st = new FileStore(dir);
      await st.update(async (tx) => tx.put('networks', net('c0')));
      // the first change writes store.json, this one the journal
      await st.update(async (tx) => tx.put('networks', net('c0b')));
      const { head } = slotBytes({ gen: 999999, entries: [] });
      const rest = Buffer.from('"gen":999999,"entries":');
      const len = rest.length.toString(16).padStart(8, '0');
      const sum = crc32(rest, 0, rest.length).toString(16).padStart(8, '0');
      poke(
        dir,
        2,
        Buffer.concat([
          Buffer.from(
            head.toString('latin1').replace(/"sum":"\w+","len":"\w+"/, `"sum":"${sum}","len":"${len}"`),
            'latin1',
          ),
          rest,
        ]),
      );
      const file = join(dir, JOURNAL);
      const bad = readFileSync(file);
      await assert.rejects(
        st.update(async () => undefined),
        /the netctl journal .*journal\.slots is corrupt \(slot 2\)/,
      );
      assert.deepEqual(readFileSync(file), bad);
      writeFileSync(file, bad.subarray(0, bad.length - 1));
      await assert.rejects(
        st.view(async () => undefined),
        /the netctl journal .*journal\.slots is damaged/,
      );
      assert.equal(statSync(file).size, bad.length - 1);
    },
  );

  it(
    'a journal write cut short does not count: in this boot, a body without its head; ' +
      'from an earlier boot, a slot whose sum fails',
    async () => {
      const dir = join(root, 'g');
      const st = new FileStore(dir);
      await st.update(async (tx) => tx.put('networks', net('kept')));
      await st.update(async (tx) => tx.put('networks', net('kept2')));
      const j = newest(dir);
      assert.ok(j);
      const file = join(dir, JOURNAL);
      const free = newestFirst(readSlots(file))[SLOTS - 1] ?? 0;
      const ids = () =>
        st.view((tx) => tx.ids('networks').filter((id) => ['kept', 'kept2', 'lost', 'next'].includes(id)));
      const { head, body } = slotBytes({
        ...j,
        gen: j.gen + 5,
        durable: true,
        delta: { networks: { ...j.delta?.networks, lost: net('lost') } },
      });
      // This boot: the body goes first, so a crash before the head leaves the slot's old head,
      // which is older than the newest: a newer body alone does not count.
      const old = readSlots(file);
      const oldHead = (old.buf ?? Buffer.alloc(0)).subarray(free * old.cap, free * old.cap + head.length);
      poke(
        dir,
        free,
        Buffer.concat([oldHead.length === head.length ? oldHead : Buffer.alloc(head.length, 0x20), body]),
      );
      assert.deepEqual(await ids(), ['kept', 'kept2']);
      // Whole, the same bytes count (the test's own control).
      poke(dir, free, Buffer.concat([head, body]));
      assert.deepEqual(await ids(), ['kept', 'kept2', 'lost']);
      // Written before the last boot: a power cut may have left it part old, so its sum is checked.
      const before = Buffer.from(
        head.toString('latin1').replace(bootId(), '00000000-0000-4000-8000-000000000000'),
        'latin1',
      );
      poke(dir, free, Buffer.concat([before, body]));
      assert.equal(slotHolds(readSlots(file), free), true, 'whole, its sum holds');
      assert.deepEqual(await ids(), ['kept', 'kept2', 'lost']);
      poke(
        dir,
        free,
        Buffer.concat([before, Buffer.from(body.toString('latin1').replace('"lost"', '"lust"'), 'latin1')]),
      );
      assert.equal(slotHolds(readSlots(file), free), false);
      assert.deepEqual(await ids(), ['kept', 'kept2']);
      poke(dir, free, Buffer.concat([before, body.subarray(0, body.length - 9)]));
      assert.deepEqual(await ids(), ['kept', 'kept2']);
      // The next command writes over it and goes on.
      await st.update(async (tx) => tx.put('networks', net('next')));
      assert.deepEqual(await ids(), ['kept', 'kept2', 'next']);
    },
  );

  it("CRC-32 of a slot equals zlib's CRC-32 (the sum any other tool checks it with)", () => {
    const zlibCrc = (zlib as { crc32?: (b: Uint8Array) => number }).crc32;
    let seed = 11;
    for (let n = 0; n < 200; n++) {
      const b = Buffer.alloc((n * 37) % 5000);
      for (let i = 0; i < b.length; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        b[i] = seed & 255;
      }
      const from = n % 7 > b.length ? 0 : n % 7;
      if (zlibCrc) assert.equal(crc32(b, from, b.length), zlibCrc(b.subarray(from)), `length ${b.length}`);
    }
    assert.equal(crc32(Buffer.from('123456789'), 0, 9), 0xcbf43926); // the check value of CRC-32/ISO-HDLC
  });

  it('a journal write never goes over the newest journal nor the two newest durable ones', async () => {
    const dir = join(root, 'h');
    const st = new FileStore(dir);
    await st.update(async (tx) => tx.put('networks', net('h0')));
    // the first change writes store.json, this one the journal
    await st.update(async (tx) => tx.put('networks', net('h0b')));
    const file = join(dir, JOURNAL);
    const seen: Array<{ top: number; durable: number[]; bytes: Buffer[] }> = [];
    const check = () => {
      // Before each write: what a crash in the middle of it falls back to.
      const s = readSlots(file);
      const holding = newestFirst(s).filter((i) => slotHolds(s, i));
      seen.push({
        top: holding[0] ?? -1,
        durable: holding.filter((i) => s.heads[i]?.durable).slice(0, 2),
        bytes: s.heads.map((_, i) => (s.buf ?? Buffer.alloc(0)).subarray(i * s.cap, (i + 1) * s.cap)),
      });
    };
    for (let k = 0; k < 4; k++) {
      check();
      await st.update(async (tx) => {
        tx.put('journal', entry(`e${k}`));
        await tx.flushJournal();
        check();
        tx.put('networks', net(`h${k + 1}`));
        await tx.flushJournal();
        check();
        tx.delete('journal', `e${k}`);
      });
    }
    check();
    assert.ok(
      seen.some((x) => x.durable.length === 2),
      'two durable slots were kept at some point',
    );
    for (let k = 1; k < seen.length; k++) {
      const prev = seen[k - 1];
      const now = seen[k];
      assert.ok(prev && now);
      const changed = now.bytes
        .map((b, i) => (b.equals(prev.bytes[i] ?? Buffer.alloc(0)) ? -1 : i))
        .filter((i) => i >= 0);
      assert.equal(changed.length, 1, `write ${k}: one slot written (${changed.join()})`);
      assert.ok(prev.top >= 0 && prev.durable.length > 0, `write ${k}: something to keep`);
      assert.ok(
        changed[0] !== prev.top && !prev.durable.includes(changed[0] ?? -1),
        `write ${k} went to slot ${changed[0]}, over the newest (${prev.top}) or a newest durable one ` +
          `(${prev.durable.join()})`,
      );
    }
    assert.deepEqual(await st.view((tx) => tx.ids('networks').filter((id) => id.startsWith('h'))), [
      'h0',
      'h0b',
      'h1',
      'h2',
      'h3',
      'h4',
    ]);
    assert.deepEqual(await st.view((tx) => tx.list('journal')), []);
  });

  it('a journal bigger than a slot makes the file anew with bigger slots, keeping the others', async () => {
    const dir = join(root, 'k');
    const st = new FileStore(dir);
    await st.update(async (tx) => tx.put('networks', net('k0')));
    // the first change writes store.json, this one the journal
    await st.update(async (tx) => tx.put('networks', net('k0b')));
    const before = newest(dir);
    const big = {
      ...entry('big'),
      cleanup: Array.from({ length: 400 }, (_, n) => ({ args: ['link', 'del', `veth${n}`] })),
    };
    await assert.rejects(
      st.update(async (tx) => {
        tx.put('journal', big as never);
        await tx.flushJournal();
        throw new Error('killed');
      }),
    );
    const size = statSync(join(dir, JOURNAL)).size;
    assert.ok(size > SLOTS * MIN_SLOT && size % SLOTS === 0, `size ${size}`);
    const kept = slotsOf(dir).filter((j): j is JournalFile => j !== null);
    assert.ok(
      kept.some((j) => j.gen === before?.gen && j.durable),
      'the durable slot before it is still there',
    );
    assert.deepEqual(
      newest(dir)?.entries.map((e) => e.id),
      ['big'],
    );
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('tmp')),
      [],
    );
    await st.update(async (tx) => {
      tx.delete('journal', 'big');
      tx.put('networks', net('k1'));
    });
    assert.deepEqual(
      await st.view((tx) => [tx.ids('networks').filter((id) => id.startsWith('k')), tx.list('journal').length]),
      [['k0', 'k0b', 'k1'], 0],
    );
  });

  it("an older netctl's journal.json is read, and goes with the first durable write", async () => {
    const dir = join(root, 'i');
    const st = new FileStore(dir);
    await st.update(async (tx) => tx.put('networks', net('i0')));
    // the first change writes store.json, this one the journal
    await st.update(async (tx) => tx.put('networks', net('i0b')));
    const base = loadDoc(dir).base;
    rmSync(join(dir, JOURNAL)); // (with i0b's change: journal.json takes its place)
    writeFileSync(
      join(dir, 'journal.json'),
      JSON.stringify({ gen: base + 5, base, entries: [entry('old')], delta: { networks: { i1: net('i1') } } }),
    );
    assert.deepEqual(
      await st.view((tx) => [
        tx.ids('networks').filter((id) => id.startsWith('i')),
        tx.list('journal').map((j) => j.id),
      ]),
      [['i0', 'i1'], ['old']],
    );
    await st.update(async (tx) => {
      tx.delete('journal', 'old');
      tx.put('networks', net('i2'));
    });
    assert.ok(!existsSync(join(dir, 'journal.json')));
    assert.ok((newest(dir)?.gen ?? 0) > base + 5);
    assert.deepEqual(
      await st.view((tx) => [tx.ids('networks').filter((id) => id.startsWith('i')), tx.list('journal').length]),
      [['i0', 'i1', 'i2'], 0],
    );
  });

  it(
    'store.json is one JSON document, one record per line; ' +
      'a copy reformatted by hand still reads and is laid out again',
    async () => {
      const dir = join(root, 'f');
      const st = new FileStore(dir);
      await st.update(async (tx) => {
        tx.put('networks', net('a'));
        tx.put('networks', net('b'));
      });
      const file = join(dir, 'store.json');
      const text = readFileSync(file, 'utf8');
      assert.deepEqual(Object.keys(JSON.parse(text).networks), ['a', 'b']);
      assert.match(text, /\n"a":\{"id":"a","name":"a"\}\n,"b":/);
      writeFileSync(file, JSON.stringify(JSON.parse(text), null, 2));
      assert.deepEqual(await st.view((tx) => tx.list('networks').map((n) => n.id)), ['a', 'b']);
      await st.update(async (tx) => tx.put('networks', net('c')));
      assert.match(readFileSync(file, 'utf8'), /^\{"version":\d+,.*"layout":\{/);
      assert.deepEqual(await st.view((tx) => tx.ids('networks')), ['a', 'b', 'c']);
    },
  );

  it(
    "a store whose header does not name this netctl's indexed fields (an older netctl's) is checked on " +
      'every read, and written in this layout by the next change',
    async () => {
      const dir = join(root, 'older-layout');
      const st = new FileStore(dir);
      const full = (id: string) => networkRecord({ id, name: `net-${id}`, driver: 'bridge', created: '2026' });
      await st.update(async (tx) => ['a', 'b'].forEach((id) => tx.put('networks', full(id))));
      const file = join(dir, 'store.json');
      const text = readFileSync(file, 'utf8');
      assert.match(text, /"indexed":\{"networks":"name,driver,scope,predefined",/);
      assert.match(text, /\n"a":\{"id":"a","name":"net-a","driver":"bridge","scope":"local","predefined":false,/);
      // As an older netctl wrote it: the same lengths (which it trusted), no "indexed", other fields first.
      const old = text
        .replace(/,"indexed":\{[^}]*\}/, '')
        .replace(
          /"id":"a","name":"net-a","driver":"bridge","scope":"local",/,
          '"id":"a","scope":"local","name":"net-a","driver":"bridge",',
        );
      writeFileSync(file, old);
      assert.equal(loadDoc(dir).migrated, true);
      const seen = await st.view((tx) => ({
        index: tx.index('networks')?.map((n) => `${n.id} ${n['name']} ${n['scope']} ${n['predefined']}`),
        byName: tx.find('networks', 'name', 'net-a').map((n) => n.id),
      }));
      assert.deepEqual(seen, { index: ['a net-a local false', 'b net-b local false'], byName: ['a'] });
      await st.update(async () => undefined);
      assert.match(readFileSync(file, 'utf8'), /"indexed":\{"networks":"name,driver,scope,predefined",/);
      assert.equal(loadDoc(dir).migrated, false);
    },
  );
});

describe('the store lock', () => {
  it('outlives waiters that ask who holds it and hang up before the answer (EPIPE)', async () => {
    const { acquireLock, lockName } = await import('../../src/store/lock.js');
    const { createConnection } = await import('node:net');
    const root = mkdtempSync(join(tmpdir(), 'netctl-lock-'));
    try {
      const release = await acquireLock(root);
      for (let i = 0; i < 50; i++) {
        const c = createConnection({ path: lockName(root) });
        c.on('error', () => undefined);
        c.on('connect', () => c.destroy());
      }
      await new Promise((r) => setTimeout(r, 200));
      await release();
      const again = await acquireLock(root, { timeoutMs: 1000 });
      await again();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
