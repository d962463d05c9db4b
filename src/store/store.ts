// The Store interface: get/list/put/delete inside one transaction, plus find/values over a
// few declared fields; small enough that an etcd implementation (a prefix read per kind, a
// compare-and-swap commit, a lease for the lock) can sit beside the file one.
//
// The contract the core relies on, which every implementation keeps:
// - view(fn): a consistent snapshot without the lock. The store loads it before fn runs (a
//   remote store asynchronously: one read at one revision) into memory, where nothing changes
//   it afterwards; fn reads it synchronously, and may hand it out for readers that then wait
//   on the kernel (doctor, CNI CHECK). Never a half-written state.
// - update(fn): exclusive. The store takes the lock — here an abstract unix socket the kernel
//   releases when the holder dies; in etcd a key bound to a lease that expires with its holder —
//   then loads the latest snapshot, runs fn, and commits all of fn's puts and deletes at once.
//   A remote commit is a compare-and-swap on the revisions it read: if the comparison fails
//   (the lease was lost and another host wrote meanwhile) update rejects with an error and
//   writes nothing; it never retries fn, whose kernel work the journal covers.
// - flush()/flushJournal(): atomic intermediate writes while the lock is held (the journal's
//   intent before the first kernel change), under the same lock or lease and comparison.
// - Records handed out belong to the transaction: a change counts only once it is put.
// - exists() may ask a remote store, so it is asynchronous like the rest.
import {
  SCHEMA_VERSION,
  type EndpointRecord,
  type JournalEntry,
  type NetworkRecord,
  type SandboxRecord,
  type State,
} from '../model/records.js';
import { Table, type TableSpec, type TableSavepoint } from './table.js';

export interface Kinds {
  networks: NetworkRecord;
  endpoints: EndpointRecord;
  sandboxes: SandboxRecord;
  journal: JournalEntry;
}
export type Kind = keyof Kinds;
export type RecordKind = Exclude<Kind, 'journal'>;

/**
 * The fields each kind can be searched by without reading its records (see table.ts). They
 * follow the id in every stored record, in this order; only the last may be a list.
 */
export const INDEXES: { [K in RecordKind]: TableSpec } = {
  networks: { fields: ['name', 'driver', 'scope', 'predefined'] },
  endpoints: { fields: ['networkId', 'sandboxId', 'ipv4', 'ipv6'] },
  sandboxes: { fields: ['name', 'mode', 'ownsNetns', 'ports'] },
};

/** Where another field holds a value ([] for a list field: has entries). */
export interface Where {
  field: string;
  value: string | boolean | [];
}

/**
 * Records handed out are the transaction's own objects: callers change them only after the
 * kernel work succeeded, and a change counts only once it is `put`.
 */
export interface ReadTxn {
  get<K extends Kind>(kind: K, id: string): Kinds[K] | undefined;
  list<K extends Kind>(kind: K): Kinds[K][];
  /** The ids of every record of a kind (reads no record). */
  ids(kind: RecordKind): string[];
  /** Records whose indexed field holds a value ([] for a list field: those with entries). */
  find<K extends RecordKind>(kind: K, field: string, value: Where['value']): Kinds[K][];
  /**
   * Records whose stored JSON matches `re` somewhere (one search of the text, reading only what
   * matches), and every record put in this transaction: a superset the caller filters.
   */
  matching<K extends RecordKind>(kind: K, re: RegExp): Kinds[K][];
  /** The values of 'id' or an indexed field, of every record or of those matching `where` (reads no record). */
  values(kind: RecordKind, field: string, where?: Where): string[];
  /** Record id -> the value of an indexed string field, for every record (reads no record). */
  valueOf(kind: RecordKind, field: string): Map<string, string>;
  /** Every record's id and indexed fields, as text (reads no record); undefined: list them instead. */
  index(kind: RecordKind): Array<Record<string, string> & { id: string }> | undefined;
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
  /** Runs `fn` once the commit is written, the lock still held (what derives from the committed state). */
  onCommit(fn: () => Promise<void>): void;
  /** The ids of the records put or deleted in this transaction, per kind. */
  readonly changed: { [K in RecordKind]: ReadonlySet<string> };
  /**
   * The store's write generation when the transaction began, and now (after the commit, the
   * commit's): equal generations, equal records.
   */
  generation(): { start: number; now: number };
}

export interface Savepoint {
  readonly state: unknown;
}

export interface Store {
  /** Whether any state was ever written (read-only commands use it to offer first-run setup). */
  exists(): Promise<boolean>;
  /** Read-only snapshot: no lock. */
  view<T>(fn: (tx: ReadTxn) => T): Promise<T>;
  /** Lock, re-read, run fn, commit atomically if fn returns (what fn flushed on the way stays written: the journal). */
  update<T>(fn: (tx: Txn) => Promise<T>): Promise<T>;
}

/** The records of a store as read: tables of (lazily parsed) records plus the header. */
export interface Doc {
  version: number;
  journalGen?: number;
  journal: JournalEntry[];
  tables: { [K in RecordKind]: Table<Kinds[K]> };
}

/** A Doc over the record texts of each kind (see table.ts), or empty. */
export function emptyDoc(
  where: string,
  version = SCHEMA_VERSION,
  texts: Partial<Record<RecordKind, string>> = {},
  lengths: Record<string, number> = {},
): Doc {
  const t = <K extends RecordKind>(k: K) =>
    new Table<Kinds[K]>(k, INDEXES[k], where, texts[k], texts[k] === undefined || texts[k]?.length === lengths[k]);
  return {
    version,
    journal: [],
    tables: { networks: t('networks'), endpoints: t('endpoints'), sandboxes: t('sandboxes') },
  };
}

/** A Doc with every record of a State (the memory store, a file laid out otherwise). */
export function docOf(state: State, where: string): Doc {
  const t = <K extends RecordKind>(k: K) =>
    Table.of<Kinds[K]>(k, INDEXES[k], where, Object.values(state[k]) as Kinds[K][]);
  const doc: Doc = {
    version: state.version,
    journal: state.journal,
    tables: { networks: t('networks'), endpoints: t('endpoints'), sandboxes: t('sandboxes') },
  };
  if (state.journalGen !== undefined) doc.journalGen = state.journalGen;
  return doc;
}

/** Every record parsed: the State a test or a tool looks at. */
export function stateOf(doc: Doc): State {
  const s: State = { version: doc.version, networks: {}, endpoints: {}, sandboxes: {}, journal: doc.journal };
  if (doc.journalGen !== undefined) s.journalGen = doc.journalGen;
  for (const kind of RECORD_KINDS)
    for (const rec of doc.tables[kind].list()) (s[kind] as Record<string, unknown>)[rec.id] = rec;
  return s;
}

export const RECORD_KINDS: RecordKind[] = ['networks', 'endpoints', 'sandboxes'];

/** A transaction over one Doc (shared by the file and memory stores). */
export class DocTxn implements Txn {
  constructor(
    readonly doc: Doc,
    private readonly persist: (doc: Doc, how: 'journal' | 'flush' | 'commit') => Promise<void>,
    private readonly gen: { start: number; now: () => number } = { start: 0, now: () => 0 },
  ) {}

  generation(): { start: number; now: number } {
    return { start: this.gen.start, now: this.gen.now() };
  }

  get changed(): { [K in RecordKind]: ReadonlySet<string> } {
    const t = this.doc.tables;
    return { networks: t.networks.changed, endpoints: t.endpoints.changed, sandboxes: t.sandboxes.changed };
  }

  get<K extends Kind>(kind: K, id: string): Kinds[K] | undefined {
    if (kind === 'journal') return this.doc.journal.find((j) => j.id === id) as Kinds[K] | undefined;
    return this.doc.tables[kind as RecordKind].get(id) as Kinds[K] | undefined;
  }

  list<K extends Kind>(kind: K): Kinds[K][] {
    if (kind === 'journal') return [...this.doc.journal] as Kinds[K][];
    return this.doc.tables[kind as RecordKind].list() as Kinds[K][];
  }

  ids(kind: RecordKind): string[] {
    return this.doc.tables[kind].ids();
  }

  find<K extends RecordKind>(kind: K, field: string, value: Where['value']): Kinds[K][] {
    return this.doc.tables[kind].find(field, value) as Kinds[K][];
  }

  matching<K extends RecordKind>(kind: K, re: RegExp): Kinds[K][] {
    return this.doc.tables[kind].matching(re) as Kinds[K][];
  }

  values(kind: RecordKind, field: string, where?: Where): string[] {
    return this.doc.tables[kind].values(field, where);
  }

  valueOf(kind: RecordKind, field: string): Map<string, string> {
    return this.doc.tables[kind].valueOf(field);
  }

  index(kind: RecordKind): Array<Record<string, string> & { id: string }> | undefined {
    return this.doc.tables[kind].index();
  }

  put<K extends Kind>(kind: K, rec: Kinds[K]): void {
    if (kind === 'journal') {
      const j = rec as JournalEntry;
      this.doc.journal = [...this.doc.journal.filter((e) => e.id !== j.id), j];
      return;
    }
    (this.doc.tables[kind as RecordKind] as unknown as Table<{ id: string }>).put(rec as { id: string });
  }

  delete(kind: Kind, id: string): void {
    if (kind === 'journal') {
      this.doc.journal = this.doc.journal.filter((e) => e.id !== id);
      return;
    }
    this.doc.tables[kind].delete(id);
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

  /** Set by a store that checks the change tracking (tests): a record changed without put fails the commit. */
  checkChanges = false;

  private readonly committed: Array<() => Promise<void>> = [];

  onCommit(fn: () => Promise<void>): void {
    this.committed.push(fn);
  }

  /** The transaction's final write: atomic and durable; then what waits on it. */
  async commit(): Promise<void> {
    if (this.checkChanges) {
      for (const kind of RECORD_KINDS) {
        const id = this.doc.tables[kind].untracked()[0];
        if (id !== undefined) throw new Error(`store: ${kind} record ${id} changed without put/delete`);
      }
    }
    await this.persist(this.doc, 'commit');
    for (const fn of this.committed) await fn();
  }

  savepoint(): Savepoint {
    const tables = Object.fromEntries(RECORD_KINDS.map((k) => [k, this.doc.tables[k].savepoint()]));
    return { state: { tables, journal: this.doc.journal } };
  }

  rollback(sp: Savepoint): void {
    const s = sp.state as { tables: Record<RecordKind, TableSavepoint>; journal: JournalEntry[] };
    for (const k of RECORD_KINDS) this.doc.tables[k].rollback(s.tables[k]);
    this.doc.journal = s.journal;
  }
}
