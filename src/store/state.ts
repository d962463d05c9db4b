// Reading the state: store.json with the journal applied. Used by every command (FileStore),
// and by completion, which must stay light (no lock, no node:net).
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { join } from 'node:path';
import { SCHEMA_VERSION, type State } from '../model/records.js';
import { RECORD_KINDS, docOf, emptyDoc, stateOf, type Doc, type Kinds, type RecordKind } from './store.js';
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
 * its length and a hash of itself. No temp file, rename or directory fsync: an intent is one
 * pwrite, a command's final write one pwrite and one fdatasync. A slot whose hash does not
 * hold is a write cut short (a crash, or a reader racing the writer) and does not count; the
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

/** {"sum":"<16 hex>","len":"<8 hex>", then `len` bytes of the rest of the JSON. */
const HEAD = '{"sum":"'.length + 16 + '","len":"'.length + 8 + '",'.length;
const HEAD_RE = /^\{"sum":"([0-9a-f]{16})","len":"([0-9a-f]{8})","gen":(\d+),("durable":true,)?/;

/** A slot as its first bytes describe it (before its hash is checked). gen -1: no readable head. */
export interface SlotHead {
  gen: number;
  durable: boolean;
  /** Bytes of the slot its write covered (head and JSON); the rest is blanks. */
  used: number;
}

/** journal.slots as read: cap 0 when absent. */
export interface Slots {
  file: string;
  cap: number;
  buf: Buffer | null;
  heads: SlotHead[];
}

/**
 * A 64-bit hash (two 32-bit FNV-style lanes, a 32-bit word each) of bytes [from, to): it tells a
 * write cut short or mixed with an older one from a whole one. Word-wise and short because it
 * runs cold on every command (a byte-wise CRC of 3 KB took ~0.7 ms in V8's interpreter). Not a
 * defence against tampering: the state root is root's, mode 0700.
 */
export function digest(buf: Uint8Array, from: number, to: number): string {
  const n = Math.max(0, to - from);
  const a = new Uint8Array((n + 7) & ~7); // zero-padded, aligned
  a.set(buf.subarray(from, from + n));
  const w = new Int32Array(a.buffer);
  // Even words into one lane, odd into the other; each lane then folds in the other's state.
  let h1 = 0x811c9dc5 ^ n;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < w.length; i += 2) {
    h1 = Math.imul(h1 ^ (w[i] as number), 0x01000193);
    h2 = Math.imul(h2 ^ (w[i + 1] as number), 0x5bd1e995);
  }
  h1 = Math.imul(h1 ^ (h2 >>> 13), 0x85ebca6b);
  h2 = Math.imul(h2 ^ (h1 >>> 16), 0xc2b2ae35);
  return ((h1 ^ (h1 >>> 15)) >>> 0).toString(16).padStart(8, '0') + ((h2 ^ (h2 >>> 15)) >>> 0).toString(16).padStart(8, '0');
}

/** A slot's bytes for a journal: its hash, its length, then the journal (gen and durable first). */
export function slotBytes(j: JournalFile): Buffer {
  const rest = Buffer.from(JSON.stringify({ gen: j.gen, ...(j.durable ? { durable: true } : {}), base: j.base, entries: j.entries, delta: j.delta }).slice(1));
  const head = Buffer.from(`{"sum":"${digest(rest, 0, rest.length)}","len":"${rest.length.toString(16).padStart(8, '0')}",`);
  return Buffer.concat([head, rest]);
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
  if (!Number.isInteger(cap) || cap < MIN_SLOT) throw new CorruptStoreError(`the netctl journal ${file} is damaged: ${buf.length} bytes`, 'move it aside and run netctl doctor');
  const heads = Array.from({ length: SLOTS }, (_, i): SlotHead => {
    const m = HEAD_RE.exec(buf.toString('latin1', i * cap, i * cap + HEAD + 48));
    const used = m ? HEAD + parseInt(m[2] ?? '', 16) : cap;
    return m && used <= cap ? { gen: Number(m[3]), durable: Boolean(m[4]), used } : { gen: -1, durable: false, used: cap };
  });
  return { file, cap, buf, heads };
}

/** Whether slot i's hash holds: it is a whole write. */
export function slotHolds(s: Slots, i: number): boolean {
  const h = s.heads[i];
  if (!s.buf || !h || h.gen < 0) return false;
  const at = i * s.cap;
  return s.buf.toString('latin1', at + 8, at + 24) === digest(s.buf, at + HEAD, at + h.used);
}

/** The journal in slot i if its hash holds, else null. */
export function slotJournal(s: Slots, i: number): JournalFile | null {
  const h = s.heads[i];
  if (!s.buf || !h || !slotHolds(s, i)) return null;
  const body = s.buf.subarray(i * s.cap, i * s.cap + h.used);
  try {
    const j = JSON.parse(isAscii(body) ? body.toString('latin1') : body.toString('utf8')) as JournalFile & { sum?: string; len?: string };
    delete j.sum;
    delete j.len;
    if (typeof j.gen !== 'number' || !Array.isArray(j.entries)) throw new Error('not a netctl journal');
    return j;
  } catch (e) {
    // The hash holds: this is what was written, not a write cut short.
    throw new CorruptStoreError(`the netctl journal ${s.file} is corrupt (slot ${i}): ${(e as Error).message}`, 'move it aside and run netctl doctor');
  }
}

/** Slot indexes, newest head first. */
export const newestFirst = (s: Slots): number[] => s.heads.map((_, i) => i).sort((p, q) => (s.heads[q]?.gen ?? -1) - (s.heads[p]?.gen ?? -1));

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
    throw new CorruptStoreError(`the netctl journal ${file} is corrupt: ${(e as Error).message}`, `move it aside and run netctl doctor`);
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
  // The length of each section as written: a reader finding them so trusts the layout.
  head['layout'] = Object.fromEntries(RECORD_KINDS.map((kind, i) => [kind, bodies[i]?.length ?? 0]));
  return JSON.stringify(head).slice(0, -1) + RECORD_KINDS.map((kind, i) => `\n,"${kind}":{${bodies[i] ?? ''}}`).join('') + '\n}\n';
}

/** The line layout above, or null when the text is laid out some other way. */
function readLines(text: string, file: string): Doc | null {
  const nl = text.indexOf('\n');
  const first = text.slice(0, nl);
  if (!first.startsWith('{"version":') || !text.endsWith('\n}\n}\n')) return null;
  let header: Partial<State> & { layout?: Record<string, number> };
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
  const doc = emptyDoc(file, header.version, texts, header.layout);
  if (typeof header.journalGen === 'number') doc.journalGen = header.journalGen;
  doc.journal = header.journal;
  return doc;
}

export function readState(file: string): { doc: Doc; text: string; migrated: boolean } | null {
  let text: string;
  try {
    if (lstatSync(file).isSymbolicLink()) throw new CorruptStoreError(`the netctl store ${file} is a symlink; refusing to use it`);
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
  const hint = `the file was left untouched; the previous version is ${file}.bak (cp ${file}.bak ${file}), or move it aside to start empty and run netctl restore`;
  let doc = readLines(text, file);
  const lined = doc !== null;
  if (!doc) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new CorruptStoreError(`the netctl store ${file} is corrupt: ${(e as Error).message}`, hint);
    }
    const d = parsed as Partial<State> | null;
    const table = (t: unknown) => t !== null && typeof t === 'object' && !Array.isArray(t);
    if (!d || typeof d !== 'object' || typeof d.version !== 'number' || !table(d.networks) ||
        !table(d.endpoints) || !table(d.sandboxes) || !Array.isArray(d.journal)) {
      throw new CorruptStoreError(`the netctl store ${file} does not have netctl's schema`, hint);
    }
    for (const kind of RECORD_KINDS) for (const [id, rec] of Object.entries(d[kind] as object)) checkRecord(kind, id, rec, file);
    doc = docOf(d as State, file);
  }
  if (doc.version > SCHEMA_VERSION) {
    throw new CorruptStoreError(`the netctl store ${file} has schema version ${doc.version}; this netctl understands up to ${SCHEMA_VERSION}`, 'upgrade netctl');
  }
  const old = doc.version < SCHEMA_VERSION;
  if (old) doc = docOf(migrate(stateOf(doc)), file);
  // An older schema or layout is written in the current one by the next change.
  return { doc, migrated: old || !lined };
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


/** store.json with the current journal applied: what every command starts from. */
export function loadDoc(root: string): { doc: Doc; text: string | null; migrated: boolean; gen: number; base: number; delta: Delta; slots: Slots; legacy: boolean } {
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
  if (!j || j.gen <= base || (j.delta && j.base !== base)) return { doc, text, migrated, gen, base, delta: {}, slots, legacy };
  doc.journal = j.entries; // intents of a process that did not get to finish
  for (const kind of RECORD_KINDS) {
    const table = doc.tables[kind] as Table<Rec>;
    for (const [id, rec] of Object.entries(j.delta?.[kind] ?? {})) table.loadDelta(id, rec as Rec | null);
  }
  return { doc, text, migrated, gen, base, delta: j.delta ?? {}, slots, legacy };
}

/** The same, every record parsed (tests, tools). */
export const loadState = (root: string): State => stateOf(loadDoc(root).doc);
