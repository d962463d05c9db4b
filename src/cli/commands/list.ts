// What `ls` and `sandbox ls` share: -q, --no-trunc and --format (rendered by table.ts renderList).
import type { Command } from 'commander';
import { oneOf } from '../complete.js';

export const lsOptions = (c: Command): Command =>
  c
    .option('-q, --quiet', 'only display IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('--format <format>', 'table, table TEMPLATE, json or TEMPLATE');

export const lsFormats = oneOf('table', 'json');
