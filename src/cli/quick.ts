// The quick path of `ls` and `inspect` (docs/performance.md), bundled apart per command
// (quick-ls.cjs, quick-inspect.cjs): the shim offers it the arguments first. It runs the
// forms it knows from the store alone, without commander and the controller (a bundle a
// small part of the CLI's), and answers undefined for anything else: another option or word,
// a cluster store, no store yet, or an exception. The full CLI then runs the command as it
// always does. What the command prints is held until it has finished, so a fallback starts
// from nothing written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { served } from '../dns/control.js';
import { defaultBackend } from '../firewall/choice.js';
import { mark } from '../lib/trace.js';
import { snapshot } from '../store/state.js';
import { chosenBackend, loadConfig } from './config.js';
import { fdWriter, type Io } from './io.js';
import type { Reads } from './reads.js';
import type { LsFlags } from './table.js';

export interface Parsed {
  root: string;
  word: 'ls' | 'inspect';
  flags: LsFlags & { format?: string };
  refs: string[];
}

/** The value of `--name V` / `--name=V` at args[i] (and the index it ends at); undefined: not this flag. */
function valued(args: string[], i: number, names: string[]): { v: string; end: number } | undefined {
  const a = args[i] ?? '';
  for (const n of names) {
    if (a === n && i + 1 < args.length) return { v: args[i + 1] ?? '', end: i + 1 };
    if (n.startsWith('--') && a.startsWith(`${n}=`)) return { v: a.slice(n.length + 1), end: i };
  }
  return undefined;
}

/** The arguments as commander would parse them, for the plain forms only; undefined for any other. */
export function parseQuick(args: string[], env: NodeJS.ProcessEnv = process.env): Parsed | undefined {
  let root: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] ?? '';
    const r = valued(args, i, ['--root']);
    if (r) {
      root = r.v;
      i = r.end;
    } else if (a !== '--debug' && a !== '--no-color') break;
  }
  const w = args[i];
  const word = w === 'ls' || w === 'list' ? 'ls' : w === 'inspect' ? 'inspect' : undefined;
  if (!word) return undefined;
  const flags: Parsed['flags'] = {};
  const refs: string[] = [];
  for (i++; i < args.length; i++) {
    const a = args[i] ?? '';
    if (word === 'ls' && (a === '-q' || a === '--quiet')) flags.quiet = true;
    else if (word === 'ls' && a === '--no-trunc') flags.trunc = false;
    else if (!a.startsWith('-') && word === 'inspect') refs.push(a);
    else {
      const f = word === 'ls' ? valued(args, i, ['-f', '--filter']) : undefined;
      const v = valued(args, i, word === 'ls' ? ['--format'] : ['-f', '--format']);
      if (f) (flags.filter ??= []).push(f.v);
      else if (v) flags.format = v.v;
      else return undefined;
      i = (f ?? v)?.end ?? i;
    }
  }
  if (word === 'inspect' && !refs.length) return undefined;
  // commander's .env('NETCTL_ROOT'): a value set in the environment, even empty, over the default.
  return { root: root ?? env['NETCTL_ROOT'] ?? '/var/lib/netctl', word, flags, refs };
}

/** What one command does with the reads, the parsed arguments and a held output. */
export type QuickCommand = (reads: Reads, io: Io, p: Parsed) => Promise<number>;

/**
 * Runs `word` when the arguments are one of its plain forms; its exit code, or undefined: the
 * full CLI's to run. Each command's entry (quick-ls.ts, quick-inspect.ts) is a bundle of its
 * own, so that `ls` compiles none of inspect's code (the drivers' among it).
 */
export async function runQuick(
  args: string[],
  word: Parsed['word'],
  command: QuickCommand,
): Promise<number | undefined> {
  const p = parseQuick(args);
  if (!p || p.word !== word || process.env['NETCTL_CLUSTER_STORE']) return undefined;
  try {
    const { cfg, file } = loadConfig(p.root);
    if (cfg['cluster-store'] !== undefined) return undefined;
    // No store yet: the first command makes it, under the lock.
    if (!existsSync(join(p.root, 'store.json'))) return undefined;
    let backend: string | undefined;
    const reads: Reads = {
      view: async (fn) => fn(snapshot(p.root)),
      get firewallName() {
        return (backend ??= chosenBackend(cfg, file) ?? defaultBackend());
      },
      served: () => served(p.root),
      canInit: false,
    };
    const held: Array<[1 | 2, string]> = [];
    const io: Io = { out: (s) => held.push([1, s]), err: (s) => held.push([2, s]) };
    const code = await command(reads, io, p);
    const out = fdWriter(1, () => process.stdout);
    const err = fdWriter(2, () => process.stderr);
    for (const [fd, s] of held) (fd === 1 ? out : err)(s);
    mark(`quick: ${p.word} done`);
    return code;
  } catch {
    return undefined;
  }
}
