// What `ls` and `sandbox ls` share: -q, --no-trunc and --format, and the rendering of rows.
import type { Command } from 'commander';
import { oneOf } from '../complete.js';
import { tabwrite } from '../table.js';
import { compile } from '../template.js';

export interface LsFlags {
  quiet?: boolean;
  /** commander turns --no-trunc into trunc: false. */
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

export const lsOptions = (c: Command): Command =>
  c
    .option('-q, --quiet', 'only display IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('--format <format>', 'table, table TEMPLATE, json or TEMPLATE');

export const lsFormats = oneOf('table', 'json');

/** -q, table, table TEMPLATE, json, TEMPLATE. */
export function renderList(
  rows: Array<Record<string, unknown> & { ID: string }>,
  flags: LsFlags,
  headers: Record<string, string>,
  defaultTable: string,
): string {
  if (flags.quiet) return rows.map((r) => `${r.ID}\n`).join('');
  const format = (flags.format ?? 'table').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (format === 'json') {
    const data = (r: Record<string, unknown>) =>
      Object.entries(r)
        .filter(([, v]) => typeof v !== 'function')
        .sort(([a], [b]) => (a < b ? -1 : 1));
    return rows.map((r) => `${JSON.stringify(Object.fromEntries(data(r)))}\n`).join('');
  }
  if (format === 'table' || format.startsWith('table ')) {
    const tpl = compile(format === 'table' ? defaultTable.slice(6) : format.slice(6));
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
    return tabwrite([head, ...rows.map((r) => tpl.render(r))].map((l) => l.split('\t')));
  }
  const tpl = compile(format);
  return rows.map((r) => `${tpl.render(r)}\n`).join('');
}
