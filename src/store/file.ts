// lowdb-backed Store: one JSON document under the state root, written atomically (temp file,
// fsync, rename, fsync dir), plus the journal of the changes since, written in place into
// checksummed slots (see state.ts); mutated only under the host-wide lock.
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { NetctlError } from '../lib/errors.js';
import { mark } from '../lib/trace.js';
import { acquireLock, type LockOptions } from './lock.js';
import {
  LEGACY_JOURNAL,
  MIN_SLOT,
  SLOTS,
  deltaLimit,
  loadDoc,
  snapshot,
  newestFirst,
  readState,
  slotBytes,
  slotHolds,
  storeText,
  type Delta,
  type JournalFile,
  type SlotHead,
  type Slots,
} from './state.js';
import { DocTxn, RECORD_KINDS, type Doc, type ReadTxn, type Store, type Txn } from './store.js';

export { CorruptStoreError, DELTA_LIMIT, migrate } from './state.js';

/**
 * lowdb adapter with the durability lowdb's own JSONFile lacks (no fsync there). A durable
 * write first keeps the previous version as store.json.bak (a hard link: no copy), the
 * documented way back from a store damaged by hand or by a disk.
 */
export class AtomicJSONFile implements Adapter<Doc> {
  /** What the file held when read or last written: an unchanged document is not written again. */
  private text: string | null = null;
  private backedUp = false;

  constructor(readonly file: string) {}

  async read(): Promise<Doc | null> {
    const r = readState(this.file);
    this.started(r?.text ?? null);
    return r?.doc ?? null;
  }

  /** What the file held when the transaction read it. */
  started(text: string | null): void {
    this.text = text;
  }

  async write(data: Doc, durable = true): Promise<void> {
    const text = storeText(data);
    if (text === this.text) return;
    if (!this.backedUp && this.text !== null) {
      // The version this transaction started from.
      unlinkQuiet(`${this.file}.bak`);
      linkSync(this.file, `${this.file}.bak`);
      this.backedUp = true;
    }
    this.text = text;
    writeAtomic(this.file, text, durable);
  }
}

/** temp file (0600), optionally fsync, rename over, optionally fsync the directory. */
function writeAtomic(file: string, text: string | Buffer, durable: boolean): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    if (typeof text === 'string') writeSync(fd, text);
    else writeSync(fd, text, 0, text.length);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  if (!durable) return;
  const dfd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * journal.slots for one transaction (see state.ts): a write goes to the oldest slot that holds
 * neither the newest journal nor one of the two newest durable ones.
 */
class JournalSlots {
  private readonly file: string;
  private cap: number;
  private buf: Buffer | null;
  private readonly heads: SlotHead[];
  /** Slots a write must not go over: the newest journal, then the newest durable ones, newest first. */
  private top = -1;
  private durable: number[] = [];
  private fd: number | undefined;

  constructor(
    private readonly root: string,
    s: Slots,
    base: number,
    private legacy: boolean,
  ) {
    this.file = s.file;
    this.cap = s.cap;
    this.buf = s.buf;
    this.heads = s.cap
      ? s.heads.map((h) => ({ ...h }))
      : Array.from({ length: SLOTS }, () => ({ gen: -1, durable: false, used: 0, boot: '', sum: 0 }));
    // Newest first: one older than store.json is absorbed and free, a torn one is free.
    for (const i of newestFirst(s)) {
      const h = s.heads[i];
      if (!h || h.gen <= base || this.durable.length === 2) break;
      if (!slotHolds(s, i)) continue;
      if (this.top < 0) this.top = i;
      if (h.durable) this.durable.push(i);
    }
  }

  /** store.json was rewritten, absorbing every slot: all are free. */
  absorbed(): void {
    this.top = -1;
    this.durable = [];
  }

  write(j: JournalFile, durable: boolean): void {
    let i = -1;
    this.heads.forEach((h, k) => {
      if (k !== this.top && !this.durable.includes(k) && (i < 0 || h.gen < (this.heads[i]?.gen ?? -1))) i = k;
    });
    const head = this.heads[i];
    if (!head) throw new Error('journal: no free slot');
    const { head: h, body } = slotBytes({ ...j, ...(durable ? { durable: true } : {}) });
    const used = h.length + body.length;
    if (used > this.cap) this.remake(i, Buffer.concat([h, body]));
    else {
      // The body, then the head that makes it count (see state.ts); past its length, an
      // earlier write's bytes are never read.
      this.fd ??= openSync(this.file, 'r+');
      writeSync(this.fd, body, 0, body.length, i * this.cap + h.length);
      writeSync(this.fd, h, 0, h.length, i * this.cap);
      if (durable) fdatasyncSync(this.fd);
      if (this.buf) {
        // what a remake copies
        h.copy(this.buf, i * this.cap);
        body.copy(this.buf, i * this.cap + h.length);
      }
    }
    Object.assign(head, { gen: j.gen, durable, used });
    this.top = i;
    if (!durable) return;
    this.durable = [i, ...this.durable].slice(0, 2);
    if (this.legacy) {
      // an older netctl's journal, older than this write
      unlinkQuiet(join(this.root, LEGACY_JOURNAL));
      this.legacy = false;
    }
  }

  /** The file made anew with slots big enough for `bytes` in slot i, the others kept (temp, fsync, rename). */
  private remake(i: number, bytes: Buffer): void {
    let cap = MIN_SLOT;
    while (cap < bytes.length) cap *= 2;
    const out = Buffer.alloc(SLOTS * cap, 0x20);
    this.heads.forEach((h, k) => {
      if (k === i) bytes.copy(out, k * cap);
      else if (this.buf && h.gen >= 0) this.buf.copy(out, k * cap, k * this.cap, k * this.cap + h.used);
      else h.used = 0;
    });
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    writeAtomic(this.file, out, true);
    this.cap = cap;
    this.buf = out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class FileStore implements Store {
  readonly file: string;

  constructor(
    readonly root: string,
    private readonly lockOpts: LockOptions = {},
  ) {
    this.file = join(root, 'store.json');
  }

  async exists(): Promise<boolean> {
    return existsSync(this.file);
  }

  async view<T>(fn: (tx: ReadTxn) => T): Promise<T> {
    return fn(snapshot(this.root));
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    this.prepareRoot();
    const release = await acquireLock(this.root, this.lockOpts);
    mark('store: locked');
    let journal: JournalSlots | undefined;
    try {
      const adapter = new AtomicJSONFile(this.file);
      // Re-read inside the lock: another process may have just written.
      const loaded = loadDoc(this.root);
      adapter.started(loaded.text);
      mark('store: read');
      let { gen, base } = loaded;
      const db = new Low<Doc>(adapter, loaded.doc);
      const slots = (journal = new JournalSlots(this.root, loaded.slots, base, loaded.legacy));
      const entriesAtStart = JSON.stringify(loaded.doc.journal);
      const writeJournal = (entries: Doc['journal'], delta: Delta, durable: boolean) =>
        slots.write({ gen: ++gen, base, entries, delta } satisfies JournalFile, durable);
      const tx: DocTxn = new DocTxn(
        loaded.doc,
        async (d, how) => {
          // An intent before kernel work: the records are as they were read.
          if (how === 'journal') {
            mark('store: journal intent');
            return writeJournal(d.journal, loaded.delta, false);
          }
          const delta = mergeDelta(loaded.delta, tx);
          if (how === 'flush') return writeJournal(d.journal, delta, false);
          // A store read in an older schema is written in the new form at once.
          if (existsSync(this.file) && !loaded.migrated && deltaSize(delta) <= deltaLimit()) {
            const untouched =
              gen === loaded.gen && sizeOfChanges(tx) === 0 && JSON.stringify(d.journal) === entriesAtStart;
            return untouched ? undefined : writeJournal(d.journal, delta, true);
          }
          d.journalGen = ++gen; // the document now carries the journal and every delta
          base = gen;
          db.data = d;
          await db.write();
          slots.absorbed();
        },
        { start: loaded.gen, now: () => gen },
      );
      tx.checkChanges = Boolean(process.env['NETCTL_CHECK_STORE']);
      const out = await fn(tx);
      mark('store: commit');
      await tx.commit();
      mark('store: committed');
      return out;
    } finally {
      journal?.close();
      await release();
    }
  }

  private prepareRoot(): void {
    if (existsSync(this.root)) {
      if (lstatSync(this.root).isSymbolicLink())
        throw new NetctlError(`state root ${this.root} is a symlink; refusing to use it`);
      return;
    }
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }
}

/** unlink that treats "already gone" as done (fs.rmSync would load its rimraf module for this). */
function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** The delta read at start plus this transaction's changes (current values, null if deleted). */
function mergeDelta(prev: Delta, tx: DocTxn): Delta {
  const out: Delta = {};
  for (const kind of RECORD_KINDS) {
    const m: Record<string, unknown> = { ...(prev[kind] ?? {}) };
    for (const id of tx.changed[kind]) m[id] = tx.get(kind, id) ?? null;
    if (Object.keys(m).length) (out as Record<string, unknown>)[kind] = m;
  }
  return out;
}

const deltaSize = (d: Delta): number => RECORD_KINDS.reduce((n, k) => n + Object.keys(d[k] ?? {}).length, 0);
const sizeOfChanges = (tx: DocTxn): number => RECORD_KINDS.reduce((n, k) => n + tx.changed[k].size, 0);
