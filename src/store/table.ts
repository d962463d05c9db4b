// One kind of record (networks, endpoints or sandboxes) inside a transaction.
//
// A command reads few of the records it has: at 1000 endpoints the store is ~900 KB, and
// parsing all of it (plus the garbage that leaves) cost a connect more than everything else
// the store does. So a table keeps its part of store.json as text, one record per line, each
// record starting with its id and then its indexed fields in a fixed order:
//
//   ,"<id>":{"id":"<id>","networkId":"…","sandboxId":"…","ipv4":"…","ipv6":"…",…}
//
// and answers "records whose field F is V" and "the values of F" from that text with native
// string searches and regular expressions anchored at line starts (a loop in JS over a
// thousand lines costs more in a short-lived process than JSON.parse of them); a command that
// asks many such questions gets maps built in one pass instead. Records are parsed when
// handed out. Records read from the journal's delta, put or deleted live in an overlay that
// takes precedence over the text.
import { NetctlError } from '../lib/errors.js';

export type Rec = { id: string };

/** The indexed fields of a kind, in the order they follow the id; only the last may be a list. */
export interface TableSpec {
  fields: string[];
}

interface Entry<R> {
  /** The record; undefined when deleted. */
  rec?: R;
  /** The overlay, not the text, holds the truth: put or deleted here, or read from the delta. */
  own: boolean;
}

/** store.json (or a record in it) cannot be used: netctl stops and leaves the file as it is. */
export class CorruptStoreError extends NetctlError {}

/** A value an indexed field may hold in the text: a string without escapes, a literal, [] or the start of a list. */
const VAL = '(?:"[^"\\\\\\n]*"|true|false|null|-?\\d+|\\[\\]|\\[\\{)';
const ID = '[^"\\\\\\n]*';
const HITS = 64;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** JSON text of a record with its indexed fields right after the id. */
export function serialize(rec: object, spec: TableSpec): string {
  const r = rec as Record<string, unknown>;
  const ordered: Record<string, unknown> = { id: r['id'] };
  for (const f of spec.fields) if (f in r) ordered[f] = r[f];
  return JSON.stringify(Object.assign(ordered, r));
}

/** A record read back must be an object bearing its own id: anything else is damage, not data. */
export function checkRecord<R>(kind: string, id: string, rec: unknown, where: string): R {
  if (!rec || typeof rec !== 'object' || Array.isArray(rec) || (rec as Rec).id !== id) {
    throw new CorruptStoreError(
      `the netctl store ${where} is corrupt: ${kind} record ${JSON.stringify(id)} is not a record with that id`,
      `the file was left untouched; the previous version is ${where}.bak`,
    );
  }
  return rec as R;
}

/** An indexed value's text: a string's characters, else the literal. */
const unquote = (v: string): string => (v.startsWith('"') ? v.slice(1, -1) : v);

/** A field's value as index() gives it from the text: a string itself, a list '[]' or '[{', else its JSON. */
const asText = (v: unknown): string =>
  typeof v === 'string' ? v : Array.isArray(v) ? (v.length ? '[{' : '[]') : (JSON.stringify(v) ?? '');

const lineOf = (id: string, text: string, first: boolean) => `${first ? '' : ','}${JSON.stringify(id)}:${text}`;

/** A record found in the text: its id, the captured field's raw value, where its line starts. */
type Hit = [id: string, value: string, line: number];

export interface TableSavepoint {
  own: Map<string, string | null>;
  changed: Set<string>;
}

export class Table<R extends Rec> {
  /** '\n', then one line per record, each ending in '\n' (the first without its leading comma). */
  private text: string;
  private overlay = new Map<string, Entry<R>>();
  /** Ids put or deleted in this transaction. */
  readonly changed = new Set<string>();

  /** `checked`: the text is known to be laid out as serialize() writes (see check()). */
  constructor(
    readonly kind: string,
    readonly spec: TableSpec,
    private readonly where: string,
    text = '\n',
    private checked = false,
  ) {
    this.text = text;
  }

  static of<R extends Rec>(kind: string, spec: TableSpec, where: string, recs: R[]): Table<R> {
    return new Table<R>(
      kind,
      spec,
      where,
      '\n' + recs.map((r, i) => lineOf(r.id, serialize(r, spec), i === 0) + '\n').join(''),
      true,
    );
  }

  /** A record of the journal's delta (null: deleted since store.json was written). */
  loadDelta(id: string, rec: R | null): void {
    this.overlay.set(id, rec ? { rec, own: true } : { own: true });
  }

  get(id: string): R | undefined {
    const e = this.overlay.get(id);
    if (e) return e.rec;
    const text = this.lineText(id);
    if (text === null) return undefined;
    const rec = this.parse(id, text);
    this.overlay.set(id, { rec, own: false });
    return rec;
  }

  /** The record whose line starts at `line` (found by a search), parsed once. */
  private at(id: string, line: number): R {
    const e = this.overlay.get(id);
    if (e?.rec) return e.rec;
    const rec = this.parse(id, this.text.slice(this.text.indexOf('":{', line) + 2, this.text.indexOf('\n', line)));
    this.overlay.set(id, { rec, own: false });
    return rec;
  }

  /** Where each record's line starts, once lookups by id are many (see lineText). */
  private lineStarts: Map<string, number> | null = null;
  private lookups = 0;

  /**
   * The JSON of a record in the text, found by its id at the start of a line: a search of
   * the text, until a command has looked up more than a few records by id; then one pass
   * notes where every line starts (a command reading every sandbox of a big network would
   * otherwise search the text once per record).
   */
  private lineText(id: string): string | null {
    if (this.lineStarts || ++this.lookups > 16) {
      if (!this.lineStarts) {
        this.lineStarts = new Map();
        for (const m of this.text.matchAll(/^,?"([^"\\\n]*)":\{/gm)) this.lineStarts.set(m[1] ?? '', m.index);
      }
      const line = this.lineStarts.get(id);
      return line === undefined
        ? null
        : this.text.slice(this.text.indexOf('":{', line) + 2, this.text.indexOf('\n', line));
    }
    const key = `${JSON.stringify(id)}:{`;
    for (let p = this.text.indexOf(key); p >= 0; p = this.text.indexOf(key, p + 1)) {
      const before = this.text.charCodeAt(p - 1);
      if (before === 10 || (before === 44 && this.text.charCodeAt(p - 2) === 10)) {
        return this.text.slice(p + key.length - 1, this.text.indexOf('\n', p));
      }
    }
    return null;
  }

  private parse(id: string, text: string): R {
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (err) {
      throw new CorruptStoreError(
        `the netctl store ${this.where} is corrupt: ${this.kind} record ${id}: ${(err as Error).message}`,
        `the file was left untouched; the previous version is ${this.where}.bak`,
      );
    }
    return id === '(any)' ? (rec as R) : checkRecord<R>(this.kind, id, rec, this.where);
  }

  /**
   * One regular expression over the text: group 1 is the id; with `cap`, group 2 is that
   * field's value; with `fix`, only records whose field holds that literal match.
   */
  private pattern(fix?: { field: string; lit: string }, cap?: string): RegExp {
    const fields = this.spec.fields;
    const last = Math.max(fix ? fields.indexOf(fix.field) : -1, cap ? fields.indexOf(cap) : -1);
    let src = `^,?"(${ID})":\\{"id":"${ID}"`;
    for (let i = 0; i <= last; i++) {
      const f = fields[i] ?? '';
      const v = fix?.field === f ? fix.lit : VAL;
      src += `,"${f}":${cap === f ? `(${v})` : v}`;
    }
    return new RegExp(src, 'gm');
  }

  /**
   * Every line must start the way serialize() writes it, or the searches could miss a
   * record. Known when the text is the length store.json's header says netctl wrote;
   * otherwise (a file edited by hand) checked once, and parsed and laid out again if need be.
   */
  private check(): void {
    if (this.checked) return;
    this.checked = true;
    const lines = this.text.split('\n').length - 2;
    const all = this.spec.fields.length
      ? this.pattern(undefined, this.spec.fields[this.spec.fields.length - 1])
      : this.pattern();
    if ((this.text.match(all)?.length ?? 0) === lines) return;
    const parsed = this.parse('(any)', `{${this.text}}`) as unknown as Record<string, unknown>;
    const recs = Object.entries(parsed).map(([id, r]) => checkRecord<R>(this.kind, id, r, this.where));
    this.text = Table.of(this.kind, this.spec, this.where, recs).text;
    this.lineStarts = null;
  }

  /** Results of scans of the text, which does not change within a transaction. */
  private scans = new Map<string, Hit[]>();

  /**
   * Ids (and a field's raw value) of the records in the text matching, minus those the
   * overlay holds. A search for a value looks for it literally first (see hits()); the rest
   * is one pass of the pattern over the text.
   */
  private scan(fix?: { field: string; value: unknown }, cap?: string): Hit[] {
    this.check();
    const lit =
      fix === undefined
        ? undefined
        : Array.isArray(fix.value)
          ? '[{' // a list field: "has entries"
          : JSON.stringify(fix.value);
    const key = `${fix?.field ?? ''}=${lit ?? ''}/${cap ?? ''}`;
    let found = this.scans.get(key);
    if (!found && fix && lit !== undefined && !cap && !Array.isArray(fix.value)) found = this.byValue(fix.field, lit);
    if (!found) {
      const re = this.pattern(lit === undefined || !fix ? undefined : { field: fix.field, lit: escape(lit) }, cap);
      const literal = fix && lit !== undefined ? this.hits(`"${fix.field}":${lit}`, re) : null;
      found = literal ?? [...this.text.matchAll(re)].map((m): Hit => [m[1] ?? '', m[2] ?? '', m.index]);
      this.scans.set(key, found);
    }
    return found.filter(([id]) => !this.overlay.get(id)?.own);
  }

  /** Searches for one value per field so far; past 16, one pass files every record by that field. */
  private searched = new Map<string, number>();
  private filed = new Map<string, Map<string, Hit[]>>();

  /**
   * The records whose field holds the JSON literal `lit`, from the field's map once this
   * command has asked for more than a few values of it (removing 1000 sandboxes asks about
   * each one's endpoints: a search of the text each would make that quadratic). Undefined
   * until then.
   */
  private byValue(field: string, lit: string): Hit[] | undefined {
    let map = this.filed.get(field);
    if (!map) {
      const n = (this.searched.get(field) ?? 0) + 1;
      this.searched.set(field, n);
      if (n <= 16) return undefined;
      map = new Map();
      for (const m of this.text.matchAll(this.pattern(undefined, field))) {
        const hits = map.get(m[2] ?? '') ?? [];
        if (hits.length === 0) map.set(m[2] ?? '', hits);
        hits.push([m[1] ?? '', m[2] ?? '', m.index]);
      }
      this.filed.set(field, map);
    }
    return map.get(lit) ?? [];
  }

  /**
   * The records whose line holds `needle` and matches `re` there: a native string search
   * (sublinear) and one anchored match per hit. Null past HITS hits, where one pass of the
   * pattern over the whole text is cheaper than looking at each.
   */
  private hits(needle: string, re: RegExp): Hit[] | null {
    const at = new RegExp(re.source, 'my');
    const out: Hit[] = [];
    let line = -1;
    let lines = 0;
    for (let p = this.text.indexOf(needle); p >= 0; p = this.text.indexOf(needle, p + needle.length)) {
      const start = this.text.lastIndexOf('\n', p) + 1;
      if (start === line) continue; // the value again, further along the same record
      if (++lines > HITS) return null;
      line = at.lastIndex = start;
      const m = at.exec(this.text);
      if (m) out.push([m[1] ?? '', m[2] ?? '', start]);
    }
    return out;
  }

  /** Records of the overlay (not the text) that match. */
  private owned(fix?: { field: string; value: unknown }): R[] {
    const out: R[] = [];
    for (const e of this.overlay.values()) {
      if (!e.own || !e.rec) continue;
      const v = fix && (e.rec as Record<string, unknown>)[fix.field];
      if (!fix || (Array.isArray(fix.value) ? Array.isArray(v) && v.length > 0 : v === fix.value)) out.push(e.rec);
    }
    return out;
  }

  /** Records whose indexed `field` holds `value` ([] for a list field: those with entries). */
  /** See ReadTxn.matching. */
  matching(re: RegExp): R[] {
    this.check();
    const out: R[] = [];
    const seen = new Set<string>();
    for (const [id, e] of this.overlay) {
      if (!e.own) continue;
      seen.add(id);
      if (e.rec) out.push(e.rec);
    }
    const line = new RegExp(`^,?"(${ID})":\\{[^\\n]*?(?:${re.source})`, 'gm');
    for (const m of this.text.matchAll(line)) {
      const id = m[1] ?? '';
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(this.at(id, m.index));
    }
    return out;
  }

  find(field: string, value: unknown): R[] {
    if (!this.spec.fields.includes(field)) throw new Error(`store: ${this.kind}.${field} is not indexed`);
    const fix = { field, value };
    return [...this.scan(fix).map(([id, , line]) => this.at(id, line)), ...this.owned(fix)];
  }

  /** The values of `field` ('id' or an indexed string field), optionally of the records where another holds a value. */
  values(field: string, where?: { field: string; value: unknown }): string[] {
    const fromText = this.scan(where, field === 'id' ? undefined : field).map(([id, v]) =>
      field === 'id' ? id : unquote(v),
    );
    const fromOverlay = this.owned(where).map((r) => String((r as Record<string, unknown>)[field]));
    return [...fromText, ...fromOverlay];
  }

  ids(): string[] {
    return this.values('id');
  }

  /**
   * Every record's id and indexed fields as text (asText), from one pass over the text: no
   * record parsed. Undefined when a line does not hold them all (the caller lists instead).
   */
  index(): Array<Record<string, string> & Rec> | undefined {
    this.check();
    const fields = this.spec.fields;
    // A line's start found by its newline, not by ^ tried at every position: a quicker scan.
    const re = new RegExp(`\\n,?"(${ID})":\\{"id":"${ID}"${fields.map((f) => `,"${f}":(${VAL})`).join('')}`, 'g');
    const out: Array<Record<string, string> & Rec> = [];
    let hits = 0;
    for (const m of this.text.matchAll(re)) {
      hits++;
      const r: Record<string, string> & Rec = { id: m[1] ?? '' };
      for (let i = 0; i < fields.length; i++) r[fields[i] as string] = unquote(m[i + 2] ?? '');
      if (!this.overlay.get(r.id)?.own) out.push(r);
    }
    let lines = -1; // the text is '\n' and a line per record
    for (let p = this.text.indexOf('\n'); p >= 0; p = this.text.indexOf('\n', p + 1)) lines++;
    if (hits !== lines) return undefined;
    const text = (rec: R, f: string) => asText((rec as R & Record<string, unknown>)[f]);
    for (const rec of this.owned())
      out.push(Object.fromEntries([['id', rec.id], ...fields.map((f) => [f, text(rec, f)])]));
    return out;
  }

  /** Id -> the value of an indexed string field, for every record: one pass over the text, no record parsed. */
  valueOf(field: string): Map<string, string> {
    if (!this.spec.fields.includes(field)) throw new Error(`store: ${this.kind}.${field} is not indexed`);
    const out = new Map<string, string>();
    for (const [id, v] of this.scan(undefined, field)) out.set(id, unquote(v));
    for (const r of this.owned()) out.set(r.id, String((r as Record<string, unknown>)[field]));
    return out;
  }

  /** Ids of the text's records in order, once list() has parsed them all. */
  private order: { ids: string[]; has: Set<string> } | null = null;

  /** Every record, in store order (one JSON.parse of the text, the first time). */
  list(): R[] {
    this.check();
    if (!this.order) {
      const parsed = this.parse('(any)', `{${this.text}}`) as unknown as Record<string, R>;
      const ids = Object.keys(parsed);
      for (const id of ids) if (!this.overlay.has(id)) this.overlay.set(id, { rec: parsed[id] as R, own: false });
      this.order = { ids, has: new Set(ids) };
    }
    const out: R[] = [];
    for (const id of this.order.ids) {
      const rec = this.overlay.get(id)?.rec;
      if (rec) out.push(rec);
    }
    for (const [id, e] of this.overlay) if (e.own && e.rec && !this.order.has.has(id)) out.push(e.rec);
    return out;
  }

  put(rec: R): void {
    this.overlay.set(rec.id, { rec, own: true });
    this.changed.add(rec.id);
  }

  delete(id: string): void {
    this.overlay.set(id, { own: true });
    this.changed.add(id);
  }

  /** Lines for a full write of store.json, in store order; unchanged records as they were read. */
  lines(): string[] {
    this.check();
    const out: string[] = [];
    const seen = new Set<string>();
    for (const line of this.text.split('\n')) {
      if (!line) continue;
      const start = line.charCodeAt(0) === 44 ? 1 : 0;
      const id = JSON.parse(line.slice(start, line.indexOf('":{', start) + 1)) as string;
      seen.add(id);
      const e = this.overlay.get(id);
      if (!e?.own) out.push(lineOf(id, line.slice(line.indexOf('":{', start) + 2), out.length === 0));
      else if (e.rec) out.push(lineOf(id, serialize(e.rec, this.spec), out.length === 0));
    }
    for (const [id, e] of this.overlay)
      if (e.own && e.rec && !seen.has(id)) out.push(lineOf(id, serialize(e.rec, this.spec), out.length === 0));
    return out;
  }

  /** Records handed out that differ from the text although nobody put them (tests check this). */
  untracked(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.overlay) {
      if (e.own || !e.rec) continue;
      const text = this.lineText(id);
      if (text !== null && JSON.stringify(JSON.parse(text)) !== JSON.stringify(e.rec)) out.push(id);
    }
    return out;
  }

  /** What a rollback needs: the overlay's own records as text (the text holds the rest). */
  savepoint(): TableSavepoint {
    const own = new Map<string, string | null>();
    for (const [id, e] of this.overlay) if (e.own) own.set(id, e.rec ? JSON.stringify(e.rec) : null);
    return { own, changed: new Set(this.changed) };
  }

  /** Back to the savepoint; objects handed out since are dropped (they may hold later changes). */
  rollback(sp: TableSavepoint): void {
    this.overlay.clear();
    this.order = null;
    for (const [id, text] of sp.own)
      this.overlay.set(id, text === null ? { own: true } : { rec: JSON.parse(text) as R, own: true });
    this.changed.clear();
    sp.changed.forEach((id) => this.changed.add(id));
  }
}
