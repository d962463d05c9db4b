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

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Natural order as docker's sortorder.NaturalLess: digit runs compare as numbers (then the
 * shorter first: 1 before 01), the rest by code units. Index arithmetic only, no string made:
 * a sort of 1,000 names makes ~10,000 comparisons.
 */
export function naturalCompare(a: string, b: string): number {
  if (a === b) return 0;
  // The common prefix decides little (names such as net-998 and net-999 share most of
  // themselves): start where it ends, or at the start of the digit run it ends in.
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n && a.charCodeAt(k) === b.charCodeAt(k)) k++;
  if (k > 0 && !isDigit(a.charCodeAt(k - 1))) {
    // Within a run of other characters: the one whose run ends here (a digit follows) is shorter.
    const da = k < n && isDigit(a.charCodeAt(k));
    if (k < n && da !== isDigit(b.charCodeAt(k))) return da ? -1 : 1;
  } else while (k > 0 && isDigit(a.charCodeAt(k - 1))) k--;
  let i = k;
  let j = k;
  while (i < a.length && j < b.length) {
    const da = isDigit(a.charCodeAt(i));
    const db = isDigit(b.charCodeAt(j));
    let ie = i + 1;
    while (ie < a.length && isDigit(a.charCodeAt(ie)) === da) ie++;
    let je = j + 1;
    while (je < b.length && isDigit(b.charCodeAt(je)) === db) je++;
    if (da && db) {
      let zi = i;
      let zj = j;
      while (zi < ie - 1 && a.charCodeAt(zi) === 48) zi++;
      while (zj < je - 1 && b.charCodeAt(zj) === 48) zj++;
      // More significant digits is the larger number; as many: the first digit that differs.
      if (ie - zi !== je - zj) return ie - zi < je - zj ? -1 : 1;
      for (let k = 0; k < ie - zi; k++) {
        const d = a.charCodeAt(zi + k) - b.charCodeAt(zj + k);
        if (d) return d < 0 ? -1 : 1;
      }
      if (ie - i !== je - j) return ie - i < je - j ? -1 : 1;
    } else {
      const cmp = compareRange(a, i, ie, b, j, je);
      if (cmp) return cmp;
    }
    i = ie;
    j = je;
  }
  // All runs alike so far: the one with fewer runs first.
  return (i < a.length ? 1 : 0) - (j < b.length ? 1 : 0);
}

/** a[i..ie) against b[j..je) by code units, as JavaScript's < compares strings. */
function compareRange(a: string, i: number, ie: number, b: string, j: number, je: number): number {
  for (; i < ie && j < je; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d) return d < 0 ? -1 : 1;
  }
  return ie - i === je - j ? 0 : ie - i < je - j ? -1 : 1;
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
