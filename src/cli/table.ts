// Docker's listings: -q, json, templates, and its table layout (Go's tabwriter with minwidth
// 10, padding 3, no trailing spaces: the last column is not padded).
import { LIMITS } from './template-parse.js';
import { compile, type Template } from './template.js';

export function tabwrite(rows: string[][], wide = SURROGATE.test(rows.join())): string {
  // Without a surrogate pair in the table (one search of it), a cell's width is its length.
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length - 1; i++) {
      const c = r[i] as string;
      const w = (wide ? codePoints(c) : c.length) + 3;
      if (!(w <= (widths[i] ??= 10))) widths[i] = w;
    }
  }
  let out = '';
  for (const r of rows) {
    let line = '';
    for (let i = 0; i < r.length - 1; i++) {
      const c = r[i] as string;
      line += c.padEnd((widths[i] as number) - (wide ? codePoints(c) - c.length : 0));
    }
    out += `${(line + (r[r.length - 1] ?? '')).trimEnd()}\n`;
  }
  return out;
}

/** Display width in code points (names are ASCII; labels may not be): a surrogate pair is one. */
const codePoints = (s: string): number => [...s].length;
const SURROGATE = /[\ud800-\udfff]/;

/** A name's runs of digits and of other characters, the units natural order compares. */
const RUNS = /\d+|\D+/g;
const runsOf = (s: string): string[] => s.match(RUNS) ?? [];
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Natural order as docker's sortorder.NaturalLess: digit runs compare as numbers (then the
 * shorter first: 1 before 01), other runs by code units, as JavaScript's < compares strings;
 * all alike, the name with fewer runs first.
 */
export const naturalCompare = (a: string, b: string): number => (a === b ? 0 : compareRuns(runsOf(a), runsOf(b)));

/**
 * `items` in natural order of their names. Each name is split into runs once (a native
 * search), so that a comparison is a few string comparisons: a sort of 1,000 names runs cold,
 * and a comparison that walked the characters was hot enough for V8 to optimize it on a
 * background thread that the process then waited for at exit.
 */
export function sortByName<T extends { name: string }>(items: T[]): T[] {
  const keyed = items.map((item) => ({ runs: runsOf(item.name), item }));
  keyed.sort((x, y) => compareRuns(x.runs, y.runs));
  return keyed.map((k) => k.item);
}

function compareRuns(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    if (isDigit(x.charCodeAt(0)) && isDigit(y.charCodeAt(0))) {
      // More significant digits is the larger number; as many: the digits; the same number: fewer zeros first.
      let zx = 0;
      let zy = 0;
      while (zx < x.length - 1 && x.charCodeAt(zx) === 48) zx++;
      while (zy < y.length - 1 && y.charCodeAt(zy) === 48) zy++;
      if (x.length - zx !== y.length - zy) return x.length - zx < y.length - zy ? -1 : 1;
      const sx = x.slice(zx);
      const sy = y.slice(zy);
      if (sx !== sy) return sx < sy ? -1 : 1;
      return x.length < y.length ? -1 : 1;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export interface LsFlags {
  quiet?: boolean;
  /** commander turns --no-trunc into trunc: false. */
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

/** The template a listing renders its rows with (the table's header row aside). */
function listTemplate(flags: LsFlags, defaultTable: string): { table: boolean; src: string } | 'json' {
  const format = (flags.format ?? 'table').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (format === 'json') return 'json';
  if (format === 'table') return { table: true, src: defaultTable.slice(6) };
  return format.startsWith('table ') ? { table: true, src: format.slice(6) } : { table: false, src: format };
}

/**
 * The row fields a listing prints, when its format names them alone (-q, a table or template
 * of plain fields); undefined when it may read any (json, functions, methods).
 */
export function printedFields(flags: LsFlags, defaultTable: string): string[] | undefined {
  if (flags.quiet) return ['ID'];
  const t = listTemplate(flags, defaultTable);
  return t === 'json' ? undefined : compile(t.src).fields;
}

/** -q, table, table TEMPLATE, json, TEMPLATE. */
export function renderList(
  rows: Array<Record<string, unknown> & { ID: string }>,
  flags: LsFlags,
  headers: Record<string, string>,
  defaultTable: string,
): string {
  if (flags.quiet) return rows.map((r) => `${r.ID}\n`).join('');
  const t = listTemplate(flags, defaultTable);
  if (t === 'json') {
    const data = (r: Record<string, unknown>) =>
      Object.entries(r)
        .filter(([, v]) => typeof v !== 'function')
        .sort(([a], [b]) => (a < b ? -1 : 1));
    return rows.map((r) => `${JSON.stringify(Object.fromEntries(data(r)))}\n`).join('');
  }
  const tpl = compile(t.src);
  if (!t.table) return rows.map((r) => `${tpl.render(r)}\n`).join('');
  // The header row renders the same template against the column names (.Label "k" gives LABEL).
  const head = tpl.render(
    new Proxy(
      {},
      {
        get: (_t, k) => (k === 'Label' ? () => 'LABEL' : (headers[String(k)] ?? String(k).toUpperCase())),
        has: () => true,
      },
    ),
  );
  const cells = columnsOf(rows, tpl);
  const table = [head.split('\t'), ...(cells?.rows ?? rows.map((r) => tpl.render(r).split('\t')))];
  return tabwrite(table, cells ? SURROGATE.test(cells.text) || SURROGATE.test(head) : undefined);
}

/**
 * The cells of a table whose template is its columns' fields alone (`{{.A}}\t{{.B}}`, as every
 * default table), read straight from the rows: what rendering each row and splitting it would
 * give, without either. Undefined when a value is not a plain string (the template decides).
 */
function columnsOf(
  rows: Array<Record<string, unknown>>,
  tpl: Template,
): { rows: string[][]; text: string } | undefined {
  const cols = tpl.columns;
  if (!cols) return undefined;
  const out = new Array<string[]>(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j] as Record<string, unknown>;
    const cells = new Array<string>(cols.length);
    for (let i = 0; i < cols.length; i++) {
      const name = cols[i] as string;
      const v = Object.hasOwn(r, name) ? r[name] : undefined;
      if (typeof v !== 'string') return undefined;
      cells[i] = v;
    }
    out[j] = cells;
  }
  // A tab in a value would split its cell; a value past the interpreter's bound is its error to raise.
  const text = out.join();
  return text.includes('\t') || text.length > LIMITS.output ? undefined : { rows: out, text };
}
