// lowdb-backed Store: one JSON document under the state root, written atomically
// (temp file, fsync, rename, fsync dir), mutated only under the host-wide lock.
import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { SCHEMA_VERSION, emptyState, type State } from '../core/types.js';
import { NetctlError } from '../lib/errors.js';
import { acquireLock, type LockOptions } from './lock.js';
import { DocTxn, type ReadTxn, type Store, type Txn } from './store.js';

export class CorruptStoreError extends NetctlError {}

/**
 * lowdb adapter with the durability lowdb's own JSONFile lacks (no fsync there). A durable
 * write first keeps the previous version as store.json.bak (a hard link: no copy), the
 * documented way back from a store damaged by hand or by a disk.
 */
export class AtomicJSONFile implements Adapter<State> {
  /** What the file held when read or last written: an unchanged document is not written again. */
  private text: string | null = null;
  private backedUp = false;

  constructor(readonly file: string) {}

  async read(): Promise<State | null> {
    const r = readState(this.file);
    this.text = r?.text ?? null;
    return r?.state ?? null;
  }

  async write(data: State, durable = true): Promise<void> {
    const text = JSON.stringify(data) + '\n';
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

/**
 * The journal's intents are written to journal.json, a few hundred bytes, instead of rewriting
 * the whole store before every kernel change. Each write bears a generation; store.json records
 * the generation it has absorbed, so a journal file older than the store is ignored on read.
 */
function readJournal(file: string): { gen: number; entries: State['journal'] } | null {
  let text: string;
  try {
    // Stores are ASCII unless a label says otherwise: latin1 decodes a third faster than utf8.
    const buf = readFileSync(file);
    text = isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
  } catch {
    return null;
  }
  try {
    const j = JSON.parse(text) as { gen: number; entries: State['journal'] };
    if (typeof j.gen !== 'number' || !Array.isArray(j.entries)) throw new Error('not a netctl journal');
    return j;
  } catch (e) {
    throw new CorruptStoreError(`the netctl journal ${file} is corrupt: ${(e as Error).message}`, `move it aside and run netctl doctor`);
  }
}

function readState(file: string): { state: State; text: string } | null {
  let text: string;
  try {
    if (lstatSync(file).isSymbolicLink()) throw new CorruptStoreError(`the netctl store ${file} is a symlink; refusing to use it`);
    // Stores are ASCII unless a label says otherwise: latin1 decodes a third faster than utf8.
    const buf = readFileSync(file);
    text = isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
  } catch (e) {
    if (e instanceof CorruptStoreError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CorruptStoreError(`cannot read the netctl store ${file}: ${(e as Error).message}`);
  }
  const hint = `the file was left untouched; the previous version is ${file}.bak (cp ${file}.bak ${file}), or move it aside to start empty and run netctl restore`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CorruptStoreError(`the netctl store ${file} is corrupt: ${(e as Error).message}`, hint);
  }
  const d = doc as Partial<State> | null;
  if (!d || typeof d !== 'object' || typeof d.version !== 'number' || typeof d.networks !== 'object' ||
      typeof d.endpoints !== 'object' || typeof d.sandboxes !== 'object' || !Array.isArray(d.journal)) {
    throw new CorruptStoreError(`the netctl store ${file} does not have netctl's schema`, hint);
  }
  if (d.version > SCHEMA_VERSION) {
    throw new CorruptStoreError(`the netctl store ${file} has schema version ${d.version}; this netctl understands up to ${SCHEMA_VERSION}`, 'upgrade netctl');
  }
  return { state: migrate(d as State), text };
}

/** Older schemas are brought forward on read (and written in the new form by the next change). */
export function migrate(d: State): State {
  if (d.version < 2) {
    // v2 added published ports and gateway priorities.
    for (const sb of Object.values(d.sandboxes)) sb.ports ??= [];
    for (const ep of Object.values(d.endpoints)) ep.gwPriority ??= 0;
  }
  d.version = SCHEMA_VERSION;
  return d;
}

export class FileStore implements Store {
  readonly file: string;

  constructor(readonly root: string, private readonly lockOpts: LockOptions = {}) {
    this.file = join(root, 'store.json');
  }

  exists(): boolean {
    return existsSync(this.file);
  }

  async view<T>(fn: (tx: ReadTxn) => T): Promise<T> {
    const doc = readState(this.file)?.state ?? emptyState();
    const j = readJournal(join(this.root, 'journal.json'));
    if (j && j.gen > (doc.journalGen ?? 0)) doc.journal = j.entries;
    return fn(new DocTxn(doc, async () => undefined));
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    this.prepareRoot();
    const release = await acquireLock(this.root, this.lockOpts);
    try {
      const adapter = new AtomicJSONFile(this.file);
      const db = new Low<State>(adapter, emptyState());
      await db.read(); // re-read inside the lock: another process may have just written
      const journalFile = join(this.root, 'journal.json');
      let gen = db.data.journalGen ?? 0;
      const j = readJournal(journalFile);
      if (j && j.gen > gen) {
        db.data.journal = j.entries; // intents of a process that did not get to write the store
        gen = j.gen;
      }
      const tx = new DocTxn(db.data, async (d, how) => {
        if (how === 'journal') {
          writeAtomic(journalFile, JSON.stringify({ gen: ++gen, entries: d.journal }), false);
          return;
        }
        d.journalGen = gen; // the document now carries the journal itself
        db.data = d;
        if (how === 'commit') await db.write();
        else await adapter.write(d, false);
      });
      const out = await fn(tx);
      await tx.commit();
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
