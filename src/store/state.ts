// Reading the state: store.json with journal.json applied. Used by every command (FileStore),
// and by completion, which must stay light (no lock, no node:net).
import { lstatSync, readFileSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { join } from 'node:path';
import { SCHEMA_VERSION, emptyState, type State } from '../core/types.js';
import { NetctlError } from '../lib/errors.js';
import type { Kinds, RecordKind } from './store.js';

export class CorruptStoreError extends NetctlError {}

export const KINDS: RecordKind[] = ['networks', 'endpoints', 'sandboxes'];

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

export function readState(file: string): { state: State; text: string; migrated: boolean } | null {
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
  const migrated = d.version < SCHEMA_VERSION;
  return { state: migrate(d as State), text, migrated };
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


/** store.json with the current journal file applied: the state every command starts from. */
export function loadState(root: string): { doc: State; text: string | null; migrated: boolean; gen: number; base: number; delta: Delta } {
  const r = readState(join(root, 'store.json'));
  const doc = r?.state ?? emptyState();
  const text = r?.text ?? null;
  const migrated = r?.migrated ?? false;
  const base = doc.journalGen ?? 0;
  const j = readJournal(join(root, 'journal.json'));
  if (!j || j.gen <= base || (j.delta && j.base !== base)) return { doc, text, migrated, gen: Math.max(base, j?.gen ?? 0), base, delta: {} };
  doc.journal = j.entries; // intents of a process that did not get to finish
  for (const kind of KINDS) {
    const recs = doc[kind] as Record<string, unknown>;
    for (const [id, rec] of Object.entries(j.delta?.[kind] ?? {})) {
      if (rec === null) delete recs[id];
      else recs[id] = rec;
    }
  }
  return { doc, text, migrated, gen: j.gen, base, delta: j.delta ?? {} };
}
