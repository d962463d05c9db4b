// Reading the state: store.json with journal.json applied. Used by every command (FileStore),
// and by completion, which must stay light (no lock, no node:net).
import { lstatSync, readFileSync } from 'node:fs';
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
 * journal.json: the journal's intents, and the records changed since store.json was last
 * written in full. A change rewrites this small file instead of the whole store (at 1000
 * endpoints store.json is ~900 KB: parse, stringify, write and fsync of it were most of a
 * command); store.json is rewritten, absorbing the delta, once the delta holds more than
 * DELTA_LIMIT records. Each write bears a generation and the generation of the store.json it
 * extends (base); store.json records the generation it absorbed, so a journal file older than
 * the store, or made for another version of it (a store put back from .bak), is ignored.
 */
export interface JournalFile {
  gen: number;
  base?: number;
  entries: State['journal'];
  delta?: Delta;
}

export const DELTA_LIMIT = 64;

/** NETCTL_DELTA_LIMIT=0 makes every change a full rewrite of store.json (as before the delta). */
export const deltaLimit = (): number => {
  const v = Number(process.env['NETCTL_DELTA_LIMIT']);
  return Number.isInteger(v) && v >= 0 && process.env['NETCTL_DELTA_LIMIT'] !== '' ? v : DELTA_LIMIT;
};

export function readJournal(file: string): JournalFile | null {
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


/** store.json with the current journal file applied: what every command starts from. */
export function loadDoc(root: string): { doc: Doc; text: string | null; migrated: boolean; gen: number; base: number; delta: Delta } {
  const file = join(root, 'store.json');
  const r = readState(file);
  const doc = r?.doc ?? emptyDoc(file);
  const text = r?.text ?? null;
  const migrated = r?.migrated ?? false;
  const base = doc.journalGen ?? 0;
  const j = readJournal(join(root, 'journal.json'));
  if (!j || j.gen <= base || (j.delta && j.base !== base)) return { doc, text, migrated, gen: Math.max(base, j?.gen ?? 0), base, delta: {} };
  doc.journal = j.entries; // intents of a process that did not get to finish
  for (const kind of RECORD_KINDS) {
    const table = doc.tables[kind] as Table<Rec>;
    for (const [id, rec] of Object.entries(j.delta?.[kind] ?? {})) table.loadDelta(id, rec as Rec | null);
  }
  return { doc, text, migrated, gen: j.gen, base, delta: j.delta ?? {} };
}

/** The same, every record parsed (tests, tools). */
export const loadState = (root: string): State => stateOf(loadDoc(root).doc);
