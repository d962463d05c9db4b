// The commander tree, built from the command registry (commands/index.ts): the global options,
// then the command the arguments name (or, for help and completion, all of them), each defined
// by its own module. main() parses argv with it and runs the command.
import { Command, CommanderError, Option } from 'commander';
import { NetctlError } from '../lib/errors.js';
import { mark } from '../lib/trace.js';
import { collect, type Arg, type CommandModule } from './command.js';
import { COMMANDS, entryOf, type Entry } from './commands/index.js';
import type { Globals } from './wiring.js';
import { io } from './io.js';
import { reportError } from './report.js';
import { version } from './version.js';

/** How a parsed command runs: its module's run(), or (in tests) a recorder. `path` is `sandbox create`. */
export type Dispatch = (path: string, mod: CommandModule, g: Globals, args: Arg[], opts: object) => Promise<number>;

const runModule: Dispatch = (_path, mod, g, args, opts) => mod.run(g, io, args, opts);

export interface Program {
  program: Command;
  /** The module behind each command defined (completion asks it for its arguments' values). */
  modules: Map<Command, CommandModule>;
}

/** netctl with its global options: what every command takes. */
function globalProgram(): Command {
  return new Command('netctl')
    .description('Manage container networks (bridges, veth endpoints, netns sandboxes) without a daemon')
    .version(`netctl version ${version()}`, '-v, --version', 'print the version')
    .addOption(new Option('--root <dir>', 'state root').env('NETCTL_ROOT').default('/var/lib/netctl'))
    .addOption(
      new Option('--cluster-store <url>', 'cluster store for overlay networks: etcd://HOST:PORT[,HOST:PORT...]').env(
        'NETCTL_CLUSTER_STORE',
      ),
    )
    .addOption(
      new Option(
        '--advertise-addr <ip>',
        "this host's tunnel (VTEP) address (default: the source address towards the cluster store)",
      ).env('NETCTL_ADVERTISE_ADDR'),
    )
    .option(
      '--cluster-store-opt <k=v>',
      'cluster store option (repeatable): kv.cacertfile, kv.certfile, kv.keyfile, kv.username, kv.password-file',
      collect,
    )
    .option('--debug', 'print every ip/iptables invocation to stderr')
    .option('--no-color', 'never colour the output')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      outputError: (str, write) => write(`Error: ${str.replace(/^error:\s*/i, '').trim()}\n`),
    });
}

/**
 * The command word the arguments name, when it is one; undefined (define every command) for
 * help, a completion, an unknown word (commander suggests the nearest) or none.
 */
export function commandWord(args: string[], program: Command = globalProgram()): string | undefined {
  const valued = new Set(
    program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter(Boolean)),
  );
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--help' || a === '-h') return undefined;
    if (valued.has(a)) i++;
    else if (!a.startsWith('-')) return entryOf(a) ? a : undefined;
  }
  return undefined;
}

/**
 * The program, with the command `only` names (a group with all its members) or every command.
 * Defining one command needs no other, and defining all ~30 costs every command ~1.5 ms.
 */
export async function buildProgram(
  opts: { only?: string; dispatch?: Dispatch; onExit?: (code: number) => void } = {},
): Promise<Program> {
  const program = globalProgram();
  const modules = new Map<Command, CommandModule>();
  const dispatch = opts.dispatch ?? runModule;
  const globals = (): Globals => {
    const o = program.opts<{
      root: string;
      debug?: boolean;
      clusterStore?: string;
      clusterStoreOpt?: string[];
      advertiseAddr?: string;
    }>();
    return {
      root: o.root,
      debug: o.debug ?? false,
      ...(o.clusterStore ? { clusterStore: o.clusterStore } : {}),
      ...(o.advertiseAddr ? { advertiseAddr: o.advertiseAddr } : {}),
      ...(o.clusterStoreOpt ? { clusterStoreOpts: o.clusterStoreOpt } : {}),
    };
  };
  const define = async (parent: Command, e: Entry, path: string): Promise<void> => {
    const cmd = parent.command(e.name).aliases(e.aliases ?? []);
    if (e.group) for (const m of e.group.commands) await define(cmd, m, `${path} ${m.name}`);
    if (!e.load) {
      cmd.description(e.group?.description ?? '');
      return;
    }
    const mod = (await e.load()).default;
    modules.set(mod.define(cmd), mod);
    if (e.group) cmd.description(e.group.description);
    // commander passes (...positionals, options, command).
    cmd.action(async (...parsed: unknown[]) => {
      mark(`parsed: ${path}`);
      const code = await dispatch(path, mod, globals(), parsed.slice(0, -2) as Arg[], parsed.at(-2) as object);
      opts.onExit?.(code);
    });
  };
  const only = opts.only === undefined ? undefined : entryOf(opts.only);
  for (const e of only ? [only] : COMMANDS) await define(program, e, e.name);
  return { program, modules };
}

/** `netctl __complete ...`: outside commander's parse, so any word (even an unknown flag) is accepted. */
async function completeCommand({ program, modules }: Program, words: string[]): Promise<number> {
  const { complete, readNames } = await import('./complete.js');
  // The global options only, for the store's root: --root, else NETCTL_ROOT, else the default.
  try {
    // --version would answer through commander's own listener, into the candidates.
    program.parseOptions(words.filter((w) => w !== '-v' && w !== '--version'));
  } catch {
    // a flag being typed without its value: the root stays as it is
  }
  const given = program.getOptionValueSource('root') === 'cli';
  const root = (given ? undefined : process.env['NETCTL_ROOT']) || program.opts<{ root: string }>().root;
  io.out(complete(program, modules, words, () => readNames(root)).join('\n') + '\n');
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  mark('program loaded');
  const words = argv.slice(2);
  const built = await buildProgram({ only: commandWord(words), onExit: (c) => (code = c) });
  mark('program built');
  if (words[0] === '__complete') return completeCommand(built, words.slice(1));
  try {
    await built.program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      return 125; // commander already printed the message
    }
    await reportError(io, e, true);
    return e instanceof NetctlError ? e.exitCode : 1;
  }
  return code;
}
