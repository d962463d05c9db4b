// The Store interface: get/list/put/delete inside one transaction, small enough that an
// etcd implementation with compare-and-swap can sit beside the lowdb one.
import type { EndpointRecord, JournalEntry, NetworkRecord, SandboxRecord, State } from '../core/types.js';

export interface Kinds {
  networks: NetworkRecord;
  endpoints: EndpointRecord;
  sandboxes: SandboxRecord;
  journal: JournalEntry;
}
export type Kind = keyof Kinds;
export type RecordKind = Exclude<Kind, 'journal'>;

/**
 * Records handed out are the transaction's own objects: callers change them only after the
 * kernel work succeeded (and `put` them), because `flush` persists whatever the document holds.
 */
export interface ReadTxn {
  get<K extends Kind>(kind: K, id: string): Kinds[K] | undefined;
  list<K extends Kind>(kind: K): Kinds[K][];
}

export interface Txn extends ReadTxn {
  put<K extends Kind>(kind: K, rec: Kinds[K]): void;
  delete(kind: Kind, id: string): void;
  /** Persists the transaction as it is now, lock still held (records and journal together). */
  flush(): Promise<void>;
  /** Persists only the journal (an intent before kernel work, records unchanged): a small write. */
  flushJournal(): Promise<void>;
  /** Captures the transaction's content, to return to it when an operation fails part-way. */
  savepoint(): Savepoint;
  rollback(sp: Savepoint): void;
}

export interface Savepoint {
  readonly state: unknown;
}

export interface Store {
  /** Whether any state was ever written (read-only commands use it to offer first-run setup). */
  exists(): boolean;
  /** Read-only snapshot: no lock. */
  view<T>(fn: (tx: ReadTxn) => T): Promise<T>;
  /** Lock, re-read, run fn, write atomically if fn returns; nothing is written if it throws. */
  update<T>(fn: (tx: Txn) => Promise<T>): Promise<T>;
}

/** A transaction over one in-memory State document (shared by the file and memory stores). */
export class DocTxn implements Txn {
  /** list() results per kind until the next change of that kind: the controller lists often. */
  private lists = new Map<Kind, unknown[]>();
  /** Records put or deleted in this transaction, by kind (a file store persists just these). */
  readonly changed = { networks: new Set<string>(), endpoints: new Set<string>(), sandboxes: new Set<string>() };

  constructor(
    readonly doc: State,
    private readonly persist: (doc: State, how: 'journal' | 'flush' | 'commit') => Promise<void>,
  ) {}

  get<K extends Kind>(kind: K, id: string): Kinds[K] | undefined {
    if (kind === 'journal') return this.doc.journal.find((j) => j.id === id) as Kinds[K] | undefined;
    return (this.doc[kind] as Record<string, Kinds[K]>)[id];
  }

  list<K extends Kind>(kind: K): Kinds[K][] {
    if (kind === 'journal') return [...this.doc.journal] as Kinds[K][];
    let l = this.lists.get(kind);
    if (!l) this.lists.set(kind, (l = Object.values(this.doc[kind] as Record<string, Kinds[K]>)));
    return [...l] as Kinds[K][];
  }

  put<K extends Kind>(kind: K, rec: Kinds[K]): void {
    this.lists.delete(kind);
    if (kind === 'journal') {
      const j = rec as JournalEntry;
      this.doc.journal = [...this.doc.journal.filter((e) => e.id !== j.id), j];
      return;
    }
    (this.doc[kind] as Record<string, Kinds[K]>)[rec.id] = rec;
    this.changed[kind as RecordKind].add(rec.id);
  }

  delete(kind: Kind, id: string): void {
    this.lists.delete(kind);
    if (kind === 'journal') {
      this.doc.journal = this.doc.journal.filter((e) => e.id !== id);
      return;
    }
    delete (this.doc[kind] as Record<string, unknown>)[id];
    this.changed[kind].add(id);
  }

  /**
   * Intermediate writes (the journal's intent) are atomic but not fsync'd: they guard against
   * a killed process, and after a power loss the kernel state they describe is gone anyway.
   */
  flush(): Promise<void> {
    return this.persist(this.doc, 'flush');
  }

  flushJournal(): Promise<void> {
    return this.persist(this.doc, 'journal');
  }

  /** Set by a store that checks the change tracking (tests): each record's JSON as read. */
  checkChanges?: Map<string, string>;

  /** The transaction's final write: atomic and durable. */
  commit(): Promise<void> {
    if (this.checkChanges) this.assertTracked(this.checkChanges);
    return this.persist(this.doc, 'commit');
  }

  /** Every record that differs from what was read was put or deleted. */
  private assertTracked(before: Map<string, string>): void {
    for (const kind of ['networks', 'endpoints', 'sandboxes'] as const) {
      const recs = this.doc[kind] as Record<string, unknown>;
      const ids = new Set([...Object.keys(recs), ...[...before.keys()].filter((k) => k.startsWith(`${kind}/`)).map((k) => k.slice(kind.length + 1))]);
      for (const id of ids) {
        if (this.changed[kind].has(id)) continue;
        const now = recs[id] === undefined ? undefined : JSON.stringify(recs[id]);
        if (now !== before.get(`${kind}/${id}`)) throw new Error(`store: ${kind} record ${id} changed without put/delete`);
      }
    }
  }

  savepoint(): Savepoint {
    return { state: structuredClone(this.doc) };
  }

  rollback(sp: Savepoint): void {
    this.lists.clear();
    Object.assign(this.doc, structuredClone(sp.state as State));
  }
}
