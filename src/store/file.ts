// lowdb-backed Store: one JSON document under the state root, written atomically
// (temp file, fsync, rename, fsync dir), mutated only under the host-wide lock.
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { SCHEMA_VERSION, emptyState, type State } from '../core/types.js';
import { NetctlError } from '../lib/errors.js';
import { acquireLock, type LockOptions } from './lock.js';
import { DocTxn, type ReadTxn, type Store, type Txn } from './store.js';

export class CorruptStoreError extends NetctlError {}

/** lowdb adapter with the durability lowdb's own JSONFile lacks (no fsync there). */
export class AtomicJSONFile implements Adapter<State> {
  constructor(readonly file: string) {}

  async read(): Promise<State | null> {
    return readState(this.file);
  }

  async write(data: State, durable = true): Promise<void> {
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(data) + '\n');
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    if (!durable) return;
    const dfd = openSync(dirname(this.file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}

function readState(file: string): State | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CorruptStoreError(`cannot read the netctl store ${file}: ${(e as Error).message}`);
  }
  const hint = `the file was left untouched; move it aside to start empty, or restore it from a backup`;
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
  return d as State;
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
    const doc = readState(this.file) ?? emptyState();
    return fn(new DocTxn(doc, async () => undefined));
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    this.prepareRoot();
    const release = await acquireLock(this.root, this.lockOpts);
    try {
      const adapter = new AtomicJSONFile(this.file);
      const db = new Low<State>(adapter, emptyState());
      await db.read(); // re-read inside the lock: another process may have just written
      const tx = new DocTxn(db.data, async (d, durable) => {
        db.data = d;
        if (durable) await db.write();
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
