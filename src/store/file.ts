// lowdb-backed Store: one JSON document under the state root plus a small journal file of the
// changes since (see state.ts), written atomically (temp file, fsync, rename, fsync dir),
// mutated only under the host-wide lock.
import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { NetctlError } from '../lib/errors.js';
import { mark } from '../lib/trace.js';
import { acquireLock, type LockOptions } from './lock.js';
import { deltaLimit, loadDoc, readState, storeText, type Delta, type JournalFile } from './state.js';
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
function writeAtomic(file: string, text: string, durable: boolean): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
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

export class FileStore implements Store {
  readonly file: string;

  constructor(readonly root: string, private readonly lockOpts: LockOptions = {}) {
    this.file = join(root, 'store.json');
  }

  async exists(): Promise<boolean> {
    return existsSync(this.file);
  }

  async view<T>(fn: (tx: ReadTxn) => T): Promise<T> {
    return fn(new DocTxn(loadDoc(this.root).doc, async () => undefined));
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    this.prepareRoot();
    const release = await acquireLock(this.root, this.lockOpts);
    mark('store: locked');
    try {
      const adapter = new AtomicJSONFile(this.file);
      // Re-read inside the lock: another process may have just written.
      const loaded = loadDoc(this.root);
      adapter.started(loaded.text);
      mark('store: read');
      let { gen, base } = loaded;
      const db = new Low<Doc>(adapter, loaded.doc);
      const journalFile = join(this.root, 'journal.json');
      const entriesAtStart = JSON.stringify(loaded.doc.journal);
      const writeJournal = (entries: Doc['journal'], delta: Delta, durable: boolean) =>
        writeAtomic(journalFile, JSON.stringify({ gen: ++gen, base, entries, delta } satisfies JournalFile), durable);
      const tx: DocTxn = new DocTxn(loaded.doc, async (d, how) => {
        // An intent before kernel work: the records are as they were read.
        if (how === 'journal') { mark('store: journal intent'); return writeJournal(d.journal, loaded.delta, false); }
        const delta = mergeDelta(loaded.delta, tx);
        if (how === 'flush') return writeJournal(d.journal, delta, false);
        // A store read in an older schema is written in the new form at once.
        if (existsSync(this.file) && !loaded.migrated && deltaSize(delta) <= deltaLimit()) {
          const untouched = gen === loaded.gen && sizeOfChanges(tx) === 0 && JSON.stringify(d.journal) === entriesAtStart;
          return untouched ? undefined : writeJournal(d.journal, delta, true);
        }
        d.journalGen = ++gen; // the document now carries the journal and every delta
        base = gen;
        db.data = d;
        await db.write();
      });
      tx.checkChanges = Boolean(process.env['NETCTL_CHECK_STORE']);
      const out = await fn(tx);
      mark('store: commit');
      await tx.commit();
      mark('store: committed');
      return out;
    } finally {
      await release();
    }
  }

  private prepareRoot(): void {
    if (existsSync(this.root)) {
      if (lstatSync(this.root).isSymbolicLink()) throw new NetctlError(`state root ${this.root} is a symlink; refusing to use it`);
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
