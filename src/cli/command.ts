// What a command module is: one command's arguments, options and help, its completion data, and
// what it does, in one file under commands/ (as docker/cli's newXCommand + runX). The list of
// them is commands/index.ts; program.ts builds the commander tree from it.
import type { Command } from 'commander';
import type { Globals, Io } from './wiring.js';

/** cobra's ShellCompDirective bits (the completion protocol of complete.ts). */
export const Directive = { Error: 1, NoSpace: 2, NoFileComp: 4 } as const;

/** Names completion offers, read from the store without the lock. */
export interface Names {
  networks: string[];
  sandboxes: string[];
}

export interface Candidates {
  items: string[];
  directive: number;
}

/** What completion offers for a positional argument: names, shells, or files (the command `exec` runs). */
export type ArgKind = 'networks' | 'sandboxes' | 'shells' | 'files';

/** A positional as commander hands it: one word, or the words of a variadic argument. */
export type Arg = string | string[];

export interface CommandModule<A extends Arg[] = Arg[], O extends object = object> {
  /** Its arguments, options and help, defined on `cmd` (already named, with its aliases). */
  define(cmd: Command): Command;
  /** Completion of its positionals, by index (the last one repeats); absent: none. */
  args?: ArgKind[];
  /** Completion of its options' values, by long flag. */
  values?: Record<string, (prefix: string, names: Names) => Candidates>;
  /** Runs it with commander's positionals and options; resolves to the exit code. */
  run(g: Globals, io: Io, args: A, opts: O): Promise<number>;
}

/**
 * A command module with the types its run() takes. commander hands run() the positionals and
 * options that define() declares: this is the one place that relies on it.
 */
export const command = <A extends Arg[], O extends object>(m: CommandModule<A, O>): CommandModule =>
  m as unknown as CommandModule;

/** commander's collector of a repeatable option. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
