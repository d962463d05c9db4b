// Reading the state: store.json with the journal applied. Used by every command (FileStore),
// and by completion, which must stay light (no lock, no node:net).
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { join } from 'node:path';
import { SCHEMA_VERSION, type State } from '../model/records.js';
import { readProc } from '../lib/procfs.js';
import CRC32 from 'crc-32';
import {
  DocTxn,
  INDEXES,
  RECORD_KINDS,
  docOf,
  emptyDoc,
  stateOf,
  type Doc,
  type Kinds,
  type ReadTxn,
  type RecordKind,
} from './store.js';
import { CorruptStoreError, checkRecord, type Rec, type Table } from './table.js';

export { CorruptStoreError };

/** Stores are ASCII unless a label says otherwise: latin1 decodes a third faster than utf8. */
function readText(file: string): string {
  const buf = readFileSync(file);
  return isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
}

/** Records changed since store.json was written, by kind; null = deleted. */
export type Delta = { [K in RecordKind]?: Record<string, Kinds[K] | null> };

/**
 * The journal: the intents of commands in flight, and the records changed since store.json
 * was last written in full. A change writes this small document instead of the whole store
 * (at 1000 endpoints store.json is ~900 KB: parse, stringify, write and fsync of it were most
 * of a command); store.json is rewritten, absorbing the delta, once the delta holds more than
 * DELTA_LIMIT records. Each write bears a generation and the generation of the store.json it
 * extends (base); store.json records the generation it absorbed, so a journal older than the
 * store, or made for another version of it (a store put back from .bak), is ignored.
 *
 * It lives in journal.slots: four equal slots, written in place in turn, each write bearing
 * its length and a CRC-32 of itself. No temp file, rename or directory fsync: an intent is one
 * pwrite, a command's final write one pwrite and one fdatasync. A slot that is not whole (see
 * HEAD) is a write cut short (a crash, or a power cut) and does not count; the
 * newest slot that holds is the journal. A write never goes over the newest journal nor over
 * the two newest durable ones (the newer may be a commit whose writer died before its
 * fdatasync), so a torn write, intent or commit, or a power cut loses nothing that was
 * acknowledged. A journal too big for a slot makes the file anew, larger (temp, fsync,
 * rename). An older netctl's journal.json is read too, and removed by the first durable write.
 */
export interface JournalFile {
  gen: number;
  base?: number;
  entries: State['journal'];
  delta?: Delta;
  /** A command's final write, fdatasync'd before the command went on. */
  durable?: boolean;
}

export const DELTA_LIMIT = 64;

/** NETCTL_DELTA_LIMIT=0 makes every change a full rewrite of store.json (as before the delta). */
export const deltaLimit = (): number => {
  const v = Number(process.env['NETCTL_DELTA_LIMIT']);
  return Number.isInteger(v) && v >= 0 && process.env['NETCTL_DELTA_LIMIT'] !== '' ? v : DELTA_LIMIT;
};

export const JOURNAL = 'journal.slots';
export const LEGACY_JOURNAL = 'journal.json';
export const SLOTS = 4;
export const MIN_SLOT = 4096;

/**
 * A slot: a head of fixed length, {"sum":"<crc32>","len":"<body bytes>","boot":"<boot id>",
 * "g":"<gen>","d":0|1, then the body, the rest of the journal's JSON ("gen":...}). The body is
 * written before the head, so within one boot a slot whose head is new is whole (the page cache
 * is one copy, and the head fits in one sector): the sum is checked only for a slot written
 * before the last boot, which a power cut may have left part old.
 */
const HEAD =
  '{"sum":"'.length +
  8 +
  '","len":"'.length +
  8 +
  '","boot":"'.length +
  36 +
  '","g":"'.length +
  12 +
  '","d":'.length +
  1 +
  ','.length;
const HEAD_RE = /^\{"sum":"([0-9a-f]{8})","len":"([0-9a-f]{8})","boot":"(.{36})","g":"([0-9a-f]{12})","d":([01]),/;

/** A slot as its head describes it. gen -1: no readable head. */
export interface SlotHead {
  gen: number;
  durable: boolean;
  /** Bytes of the slot its write covered (head and body). */
  used: number;
  boot: string;
  sum: number;
}

/** journal.slots as read: cap 0 when absent. */
export interface Slots {
  file: string;
  cap: number;
  buf: Buffer | null;
  heads: SlotHead[];
}

let boot: string | undefined;

/** This boot's id (36 characters), or blanks when the kernel does not say: then every sum is checked. */
export function bootId(): string {
  if (boot === undefined) {
    let id = '';
    try {
      id = readProc('/proc/sys/kernel/random/boot_id').trim();
    } catch {
      /* no /proc */
    }
    boot = /^[0-9a-f-]{36}$/.test(id) ? id : ' '.repeat(36);
  }
  return boot;
}

/**
 * CRC-32 (IEEE) of bytes [from, to). From the crc-32 package, not node:zlib's crc32: loading
 * node:zlib costs every command 2-3 ms, for one sum over a few KB.
 */
export function crc32(buf: Uint8Array, from: number, to: number): number {
  return CRC32.buf(buf.subarray(from, to), 0) >>> 0;
}

const hex = (v: number, w: number) => v.toString(16).padStart(w, '0');

/** A slot's head and body for a journal. */
export function slotBytes(j: JournalFile): { head: Buffer; body: Buffer } {
  const body = Buffer.from(JSON.stringify({ gen: j.gen, base: j.base, entries: j.entries, delta: j.delta }).slice(1));
  const sum = hex(crc32(body, 0, body.length), 8);
  const text = `{"sum":"${sum}","len":"${hex(body.length, 8)}","boot":"${bootId()}","g":"${hex(j.gen, 12)}",`;
  const head = Buffer.from(`${text}"d":${j.durable ? 1 : 0},`, 'latin1');
  if (head.length !== HEAD) throw new Error(`journal: a slot head of ${head.length} bytes`);
  return { head, body };
}

export function readSlots(file: string): Slots {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, cap: 0, buf: null, heads: [] };
    throw new CorruptStoreError(`cannot read the netctl journal ${file}: ${(e as Error).message}`);
  }
  const cap = buf.length / SLOTS;
  // Made whole by rename and only ever written in place: another size is not netctl's doing.
  if (!Number.isInteger(cap) || cap < MIN_SLOT)
    throw new CorruptStoreError(
      `the netctl journal ${file} is damaged: ${buf.length} bytes`,
      'move it aside and run netctl doctor',
    );
  const heads = Array.from({ length: SLOTS }, (_, i): SlotHead => {
    const m = HEAD_RE.exec(buf.toString('latin1', i * cap, i * cap + HEAD));
    const used = m ? HEAD + parseInt(m[2] ?? '', 16) : 0;
    return m && used <= cap
      ? { gen: parseInt(m[4] ?? '', 16), durable: m[5] === '1', used, boot: m[3] ?? '', sum: parseInt(m[1] ?? '', 16) }
      : { gen: -1, durable: false, used: 0, boot: '', sum: 0 };
  });
  return { file, cap, buf, heads };
}

/** Whether slot i is a whole write: written in this boot (see HEAD), or its sum holds. */
export function slotHolds(s: Slots, i: number): boolean {
  const h = s.heads[i];
  if (!s.buf || !h || h.gen < 0) return false;
  if (h.boot === bootId() && !h.boot.startsWith(' ')) return true;
  return crc32(s.buf, i * s.cap + HEAD, i * s.cap + h.used) === h.sum;
}

/** The journal in slot i if it is whole, else null. */
export function slotJournal(s: Slots, i: number): JournalFile | null {
  const h = s.heads[i];
  if (!s.buf || !h || !slotHolds(s, i)) return null;
  const text = s.buf.subarray(i * s.cap, i * s.cap + h.used);
  try {
    const j = JSON.parse(isAscii(text) ? text.toString('latin1') : text.toString('utf8')) as JournalFile & {
      sum?: string;
      len?: string;
      boot?: string;
      g?: string;
      d?: number;
    };
    if (typeof j.gen !== 'number' || j.gen !== h.gen || !Array.isArray(j.entries))
      throw new Error('not a netctl journal');
    const { entries, delta, base } = j;
    return {
      gen: j.gen,
      entries,
      ...(base !== undefined ? { base } : {}),
      ...(delta !== undefined ? { delta } : {}),
      ...(h.durable ? { durable: true } : {}),
    };
  } catch (e) {
    // Whole by its sum or its boot: this is what was written, not a write cut short.
    throw new CorruptStoreError(
      `the netctl journal ${s.file} is corrupt (slot ${i}): ${(e as Error).message}`,
      'move it aside and run netctl doctor',
    );
  }
}

/** Slot indexes, newest head first. */
export const newestFirst = (s: Slots): number[] =>
  s.heads.map((_, i) => i).sort((p, q) => (s.heads[q]?.gen ?? -1) - (s.heads[p]?.gen ?? -1));

/** An older netctl's journal.json: one JSON document, replaced whole by rename. */
export function readLegacyJournal(file: string): JournalFile | null {
  if (!existsSync(file)) return null; // the usual case, without an exception made for it
  let text: string;
  try {
    text = readText(file);
  } catch {
    return null;
  }
  try {
    const j = JSON.parse(text) as JournalFile;
    if (typeof j.gen !== 'number' || !Array.isArray(j.entries)) throw new Error('not a netctl journal');
    return j;
  } catch (e) {
    throw new CorruptStoreError(
      `the netctl journal ${file} is corrupt: ${(e as Error).message}`,
      `move it aside and run netctl doctor`,
    );
  }
}

/**
 * store.json is one JSON document written one record per line, so that a command parses only
 * the records it reads (see table.ts):
 *
 *   {"version":2,"journalGen":7,"journal":[]
 *   ,"networks":{
 *   "<id>":{...}
 *   ,"<id>":{...}
 *   }
 *   ,"endpoints":{
 *   }
 *   ,"sandboxes":{
 *   }
 *   }
 *
 * Any other layout of the same document (an older netctl's single line, a file reformatted
 * by hand) is read with one JSON.parse and written back in this layout by the next change.
 */
export function storeText(doc: Doc): string {
  const bodies = RECORD_KINDS.map((kind) => {
    const lines = doc.tables[kind].lines();
    return lines.length ? `\n${lines.join('\n')}\n` : '\n';
  });
  const head: Record<string, unknown> = { version: doc.version };
  if (doc.journalGen !== undefined) head['journalGen'] = doc.journalGen;
  head['journal'] = doc.journal;
  // The length of each section as written, and the fields each line starts with: a reader
  // finding both so trusts the layout.
  head['layout'] = Object.fromEntries(RECORD_KINDS.map((kind, i) => [kind, bodies[i]?.length ?? 0]));
  head['indexed'] = INDEXED;
  return (
    JSON.stringify(head).slice(0, -1) +
    RECORD_KINDS.map((kind, i) => `\n,"${kind}":{${bodies[i] ?? ''}}`).join('') +
    '\n}\n'
  );
}

/** Each kind's indexed fields as the header names them. */
const INDEXED = Object.fromEntries(RECORD_KINDS.map((kind) => [kind, INDEXES[kind].fields.join(',')]));

/**
 * The line layout above, or null when the text is laid out some other way. `relaid`: its lines
 * start with other indexed fields (an older netctl's), so they are checked, and laid out
 * anew when they differ, on every read until the next change writes them in this layout.
 */
function readLines(text: string, file: string): { doc: Doc; relaid: boolean } | null {
  const nl = text.indexOf('\n');
  const first = text.slice(0, nl);
  if (!first.startsWith('{"version":') || !text.endsWith('\n}\n}\n')) return null;
  let header: Partial<State> & { layout?: Record<string, number>; indexed?: Record<string, string> };
  try {
    header = JSON.parse(`${first}}`) as typeof header;
  } catch {
    return null;
  }
  if (typeof header.version !== 'number' || !Array.isArray(header.journal)) return null;
  // Each section: its opening line, record lines, a closing brace; in RECORD_KINDS order.
  const texts: Partial<Record<RecordKind, string>> = {};
  let at = nl;
  for (const kind of RECORD_KINDS) {
    const open = `\n,"${kind}":{\n`;
    if (!text.startsWith(open, at)) return null;
    const end = text.indexOf('\n}\n', at + open.length - 1);
    if (end < 0) return null;
    texts[kind] = text.slice(at + open.length - 1, end + 1);
    at = end + 2;
  }
  if (at !== text.length - 3) return null;
  const relaid = RECORD_KINDS.some((kind) => header.indexed?.[kind] !== INDEXED[kind]);
  const doc = emptyDoc(file, header.version, texts, relaid ? {} : header.layout);
  if (typeof header.journalGen === 'number') doc.journalGen = header.journalGen;
  doc.journal = header.journal;
  return { doc, relaid };
}

export function readState(file: string): { doc: Doc; text: string; migrated: boolean } | null {
  let text: string;
  try {
    if (lstatSync(file).isSymbolicLink())
      throw new CorruptStoreError(`the netctl store ${file} is a symlink; refusing to use it`);
    text = readText(file);
  } catch (e) {
    if (e instanceof CorruptStoreError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CorruptStoreError(`cannot read the netctl store ${file}: ${(e as Error).message}`);
  }
  return { ...parseStore(text, file), text };
}

/** The Doc in a store's text, in the current schema; `migrated` when it should be written anew. */
export function parseStore(text: string, file: string): { doc: Doc; migrated: boolean } {
  const hint =
    `the file was left untouched; the previous version is ${file}.bak (cp ${file}.bak ${file}), or move ` +
    `it aside to start empty and run netctl restore`;
  const lines = readLines(text, file);
  let doc = lines?.doc;
  if (!doc) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new CorruptStoreError(`the netctl store ${file} is corrupt: ${(e as Error).message}`, hint);
    }
    const d = parsed as Partial<State> | null;
    const table = (t: unknown) => t !== null && typeof t === 'object' && !Array.isArray(t);
    if (
      !d ||
      typeof d !== 'object' ||
      typeof d.version !== 'number' ||
      !table(d.networks) ||
      !table(d.endpoints) ||
      !table(d.sandboxes) ||
      !Array.isArray(d.journal)
    ) {
      throw new CorruptStoreError(`the netctl store ${file} does not have netctl's schema`, hint);
    }
    for (const kind of RECORD_KINDS)
      for (const [id, rec] of Object.entries(d[kind] as object)) checkRecord(kind, id, rec, file);
    doc = docOf(d as State, file);
  }
  if (doc.version > SCHEMA_VERSION) {
    throw new CorruptStoreError(
      `the netctl store ${file} has schema version ${doc.version}; this netctl understands up to ${SCHEMA_VERSION}`,
      'upgrade netctl',
    );
  }
  const old = doc.version < SCHEMA_VERSION;
  if (old) doc = docOf(migrate(stateOf(doc)), file);
  // An older schema or layout is written in the current one by the next change.
  return { doc, migrated: old || !lines || lines.relaid };
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

/** The store under `root` as committed, for reading (FileStore.view; the quick path of ls and inspect). */
export const snapshot = (root: string): ReadTxn => new DocTxn(loadDoc(root).doc, async () => undefined);

/** store.json with the current journal applied: what every command starts from. */
export function loadDoc(root: string): {
  doc: Doc;
  text: string | null;
  migrated: boolean;
  gen: number;
  base: number;
  delta: Delta;
  slots: Slots;
  legacy: boolean;
} {
  const file = join(root, 'store.json');
  const r = readState(file);
  const doc = r?.doc ?? emptyDoc(file);
  const text = r?.text ?? null;
  const migrated = r?.migrated ?? false;
  const base = doc.journalGen ?? 0;
  const slots = readSlots(join(root, JOURNAL));
  const old = readLegacyJournal(join(root, LEGACY_JOURNAL));
  const legacy = old !== null;
  const gen = Math.max(base, old?.gen ?? 0, ...slots.heads.map((h) => h.gen));
  // The newest slot that holds, most often the first one looked at.
  let j: JournalFile | null = null;
  for (const i of newestFirst(slots)) {
    const g = slots.heads[i]?.gen ?? -1;
    if (g <= base || (old && g <= old.gen)) break; // absorbed by store.json, or older than journal.json
    if ((j = slotJournal(slots, i))) break;
  }
  j ??= old;
  if (!j || j.gen <= base || (j.delta && j.base !== base))
    return { doc, text, migrated, gen, base, delta: {}, slots, legacy };
  doc.journal = j.entries; // intents of a process that did not get to finish
  for (const kind of RECORD_KINDS) {
    const table = doc.tables[kind] as Table<Rec>;
    for (const [id, rec] of Object.entries(j.delta?.[kind] ?? {})) table.loadDelta(id, rec as Rec | null);
  }
  return { doc, text, migrated, gen, base, delta: j.delta ?? {}, slots, legacy };
}

/** The same, every record parsed (tests, tools). */
export const loadState = (root: string): State => stateOf(loadDoc(root).doc);
