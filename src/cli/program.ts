// The commander tree. Command bodies are imported lazily so `--help` and
// `--version` load neither the controller nor execa.
import { readFileSync, writeSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { NetctlError, UsageError } from '../lib/errors.js';
import type { Globals, Io } from './context.js';
import { reportError } from './report.js';
import { version } from './version.js';
import { mark } from '../lib/trace.js';

let streamed = false;
/** Whether some output went to a stream, whose writes may still be queued at the end. */
export const outputQueued = (): boolean => streamed;

/**
 * Writes straight to the file descriptor: touching process.stdout builds a stream (tty or net
 * and their internals, ~3 ms of start-up) for output that is a few lines. A non-blocking
 * descriptor that is full (EAGAIN) hands the rest, and all later output, to the stream; a closed
 * reader (EPIPE, `netctl ls | head -1`) ends the output quietly, as Docker's does.
 */
export function fdWriter(fd: 1 | 2, stream: () => NodeJS.WritableStream): (s: string) => void {
  let mode: 'fd' | 'stream' | 'closed' = 'fd';
  return (s) => {
    if (mode === 'closed') return;
    if (mode === 'stream') {
      stream().write(s);
      return;
    }
    const buf = Buffer.from(s);
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        mode = 'closed';
        return;
      }
      if (code !== 'EAGAIN') throw e;
      mode = 'stream';
      streamed = true;
      stream().write(buf.subarray(off));
    }
  };
}

export const io: Io = {
  out: fdWriter(1, () => process.stdout),
  err: fdWriter(2, () => process.stderr),
};

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** What each command does with its parsed arguments; main() passes lazy imports, tests a recorder. */
export type Handler = (g: Globals, ...args: any[]) => Promise<number>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Handlers = Record<string, Handler>;

export function lazyHandlers(): Handlers {
  const net = () => import('./commands/network.js');
  const show = () => import('./commands/network-show.js');
  const sbx = () => import('./commands/sandbox.js');
  const ops = () => import('./commands/operator.js');
  return {
    create: async (g, name, o) => (await net()).create(g, io, name, o),
    connect: async (g, n, c, o) => (await net()).connect(g, io, n, c, o),
    disconnect: async (g, n, c, o) => (await net()).disconnect(g, io, n, c, o),
    inspect: async (g, refs, o) => (await show()).inspect(g, io, refs, o),
    ls: async (g, o) => (await show()).ls(g, io, o),
    rm: async (g, refs, o) => (await net()).rm(g, io, refs, o),
    prune: async (g, o) => (await net()).prune(g, io, o),
    'sandbox create': async (g, name, o) => (await sbx()).create(g, io, name, o),
    'sandbox ls': async (g, o) => (await sbx()).ls(g, io, o),
    'sandbox inspect': async (g, names) => (await sbx()).inspect(g, io, names),
    'sandbox start': async (g, names) => (await sbx()).start(g, io, names),
    'sandbox stop': async (g, names) => (await sbx()).stop(g, io, names),
    'sandbox rm': async (g, names, o) => (await sbx()).rm(g, io, names, o),
    'sandbox attach': async (g, name, o) => (await sbx()).attach(g, io, name, o),
    exec: async (g, name, argv) => (await sbx()).exec(g, io, name, argv),
    update: async (g, n, o) => (await ops()).update(g, io, n, o),
    export: async (g, o) => (await ops()).exportCmd(g, io, o),
    apply: async (g, o) => (await ops()).apply(g, io, o),
    graph: async (g, o) => (await ops()).graph(g, io, o),
    restore: async (g) => (await net()).restore(g, io),
    // Reached only as `netctl [--root R] cni`: main.ts runs a bare `netctl cni` itself.
    cni: async () => {
      const m = await import('./cni.js');
      return m.cniMain(m.cniIo, process.env);
    },
    doctor: async (g) => (await net()).doctor(g, io),
    'node ls': async (g, o) => (await import('./commands/cluster.js')).nodeLs(g, io, o),
    'node rm': async (g, hosts) => (await import('./commands/cluster.js')).nodeRm(g, io, hosts),
    agent: async (g, o) => (await import('./commands/cluster.js')).agent(g, io, o),
    completion: async (_g, shell: string) => {
      if (!['bash', 'zsh', 'fish'].includes(shell))
        throw new UsageError(`unsupported shell "${shell}": use bash, zsh or fish`);
      const file = { bash: 'netctl.bash', zsh: '_netctl', fish: 'netctl.fish' }[shell as 'bash' | 'zsh' | 'fish'];
      io.out(readFileSync(new URL(`../../../completions/${file}`, import.meta.url), 'utf8'));
      return 0;
    },
  };
}

/**
 * Builds the commander tree; `onExit` receives the handler's exit code. With `only`, a command
 * name or alias, just that command (or group) is defined: parsing one command needs no other,
 * and defining all ~30 costs every command ~1.5 ms.
 */
export function buildProgram(handlers: Handlers, onExit: (code: number) => void, only?: string): Command {
  const want = (...names: string[]) => only === undefined || names.includes(only);
  const program = new Command('netctl')
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
    .option('--debug', 'print every ip/iptables invocation to stderr')
    .option('--no-color', 'never colour the output')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      outputError: (str, write) => write(`Error: ${str.replace(/^error:\s*/i, '').trim()}\n`),
    });

  const globals = (): Globals => {
    const o = program.opts<{ root: string; debug?: boolean; clusterStore?: string; advertiseAddr?: string }>();
    return {
      root: o.root,
      debug: o.debug ?? false,
      ...(o.clusterStore ? { clusterStore: o.clusterStore } : {}),
      ...(o.advertiseAddr ? { advertiseAddr: o.advertiseAddr } : {}),
    };
  };
  const bind =
    (key: string) =>
    async (...args: unknown[]) => {
      // commander passes (...positionals, options, command); handlers take (...positionals, options).
      const handler = handlers[key];
      if (!handler) throw new Error(`no handler for ${key}`);
      mark(`parsed: ${key}`);
      onExit(await handler(globals(), ...args.slice(0, -1)));
    };

  if (want('create')) {
    program
      .command('create')
      .description('Create a network')
      .argument('<network>', 'network name')
      .option(
        '-d, --driver <driver>',
        'driver (bridge, macvlan, or the name of a plugin; host and null are predefined)',
        'bridge',
      )
      .option('--subnet <cidr>', 'subnet in CIDR form (repeatable)', collect)
      .option('--gateway <ip>', 'gateway for a subnet (repeatable)', collect)
      .option('--ip-range <cidr>', 'allocate container IPs from a sub-range (repeatable)', collect)
      .option('--aux-address <name=ip>', 'addresses the IPAM must not hand out (repeatable)', collect)
      .option('--ipv6', 'enable IPv6 (alias --enable-ipv6)')
      .addOption(new Option('--enable-ipv6').hideHelp())
      .option('--internal', 'restrict external access to the network')
      .option('--attachable', 'accepted and recorded (as Docker)')
      .option('-o, --opt <k=v>', 'driver option (repeatable)', collect)
      .option('--label <k[=v]>', 'metadata label (repeatable)', collect)
      .option('--ipam-driver <driver>', 'IPAM driver (default, or the name of a plugin)', 'default')
      .option('--ipam-opt <k=v>', 'IPAM driver option (repeatable)', collect)
      .action(bind('create'));
  }

  const endpointOpts = (c: Command) =>
    c
      .option('--ip <ipv4>', 'IPv4 address')
      .option('--ip6 <ipv6>', 'IPv6 address')
      .option('--alias <name>', 'network-scoped alias (repeatable)', collect)
      .option('--mac-address <mac>', 'MAC address of the interface')
      .option('--link-local-ip <ip>', 'link-local address (repeatable)', collect)
      .option('--driver-opt <k=v>', 'driver option for the endpoint (repeatable)', collect)
      .option('--gw-priority <n>', 'the highest priority endpoint carries the default route');

  if (want('connect')) {
    endpointOpts(
      program
        .command('connect')
        .description('Connect containers to a network (several at once: all or nothing)')
        .argument('<network>')
        .argument('<container...>'),
    ).action(bind('connect'));
  }

  if (want('disconnect')) {
    program
      .command('disconnect')
      .description('Disconnect a container from a network')
      .argument('<network>')
      .argument('<container>')
      .option('-f, --force', 'also clear stale endpoints; never fail on "already gone"')
      .action(bind('disconnect'));
  }

  if (want('inspect')) {
    program
      .command('inspect')
      .description('Display detailed information on one or more networks')
      .argument('<network...>')
      .option('-f, --format <format>', 'json, or a Go template')
      .action(bind('inspect'));
  }

  const lsOpts = (c: Command) =>
    c
      .option('-q, --quiet', 'only display IDs')
      .option('--no-trunc', 'do not truncate the output')
      .option('--format <format>', 'table, table TEMPLATE, json or TEMPLATE');

  if (want('ls', 'list')) {
    lsOpts(
      program
        .command('ls')
        .alias('list')
        .description('List networks')
        .option('-f, --filter <k=v>', 'filter output (driver, id, name, label, scope, type, dangling)', collect),
    ).action(bind('ls'));
  }

  if (want('rm', 'remove')) {
    program
      .command('rm')
      .alias('remove')
      .description('Remove one or more networks')
      .argument('<network...>')
      .option('-f, --force', 'do not error if the network does not exist')
      .action(bind('rm'));
  }

  if (want('update')) {
    program
      .command('update')
      .description('Change a network in place: labels, ICC, masquerade, MTU, gateway modes (endpoints stay)')
      .argument('<network>')
      .option('--label-add <k=v>', 'add or change a label (repeatable)', collect)
      .option('--label-rm <k>', 'remove a label (repeatable)', collect)
      .option('-o, --opt <k=v>', 'driver option to change (repeatable)', collect)
      .action(bind('update'));
  }

  if (want('export')) {
    program
      .command('export')
      .description('Print the topology (networks, sandboxes, endpoints, ports) as a file apply takes')
      .option('-o, --output <format>', 'yaml or json', 'yaml')
      .action(bind('export'));
  }

  if (want('apply')) {
    program
      .command('apply')
      .description('Make the host match a topology file: print the plan, apply it all or nothing')
      .option('-f, --file <file>', 'the topology (YAML or JSON; - for stdin)')
      .option('--dry-run', 'print the plan only')
      .option('--prune', 'also remove networks and sandboxes the file does not name')
      .action(bind('apply'));
  }

  if (want('graph')) {
    program
      .command('graph')
      .description('Show networks, sandboxes, endpoints and ports as a tree, Graphviz DOT or SVG')
      .option('--format <format>', 'text, dot or svg', 'text')
      .action(bind('graph'));
  }

  if (want('prune')) {
    program
      .command('prune')
      .description('Remove all networks without endpoints')
      .option('-f, --force', 'do not prompt for confirmation')
      .option('--filter <k=v>', 'label=<k[=v]>, label!=<k[=v]>, until=<time>', collect)
      .action(bind('prune'));
  }

  if (want('sandbox', 'container')) {
    const sandbox = program
      .command('sandbox')
      .alias('container')
      .description('Manage sandboxes (network namespaces of containers)');

    endpointOpts(
      sandbox
        .command('create')
        .description('Create a running sandbox')
        .argument('<name>')
        .option('--net <mode>', 'bridge (default), none, host, container:NAME, or a network name', 'bridge')
        .option('-p, --publish <[ip:]hport:cport[/proto]>', 'publish a port on the host (repeatable)', collect)
        .option('--hostname <name>', 'host name of the sandbox')
        .option('--dns <ip>', 'nameserver for its resolv.conf (repeatable)', collect)
        .option('--dns-search <domain>', 'search domain for its resolv.conf (repeatable)', collect)
        .option('--dns-option <opt>', 'resolver option for its resolv.conf (repeatable)', collect)
        .option('--add-host <name:ip>', 'extra line for its hosts file (repeatable)', collect),
    ).action(bind('sandbox create'));

    lsOpts(sandbox.command('ls').alias('list').description('List sandboxes')).action(bind('sandbox ls'));

    sandbox
      .command('inspect')
      .description('Display the network settings of sandboxes')
      .argument('<name...>')
      .action(bind('sandbox inspect'));

    sandbox
      .command('start')
      .description('Start sandboxes: recreate the netns and join every recorded network')
      .argument('<name...>')
      .action(bind('sandbox start'));

    sandbox
      .command('stop')
      .description('Stop sandboxes: leave all networks, keep the settings, delete the netns')
      .argument('<name...>')
      .action(bind('sandbox stop'));

    sandbox
      .command('rm')
      .alias('remove')
      .description('Remove sandboxes (disconnect all; delete the netns if netctl made it)')
      .argument('<name...>')
      .option('-f, --force', 'ignore sandboxes that do not exist')
      .action(bind('sandbox rm'));

    sandbox
      .command('attach')
      .description('Manage a network namespace made by another runtime (by path or by a process in it)')
      .argument('<name>')
      .option('--netns <path>', 'the namespace file, e.g. /var/run/netns/NAME or /proc/PID/ns/net')
      .option('--pid <pid>', 'a process inside the namespace')
      .action(bind('sandbox attach'));
  }

  if (want('exec')) {
    program
      .command('exec')
      .description("Run a command inside a sandbox's network namespace")
      .argument('<name>')
      .argument('<command...>')
      .allowUnknownOption()
      .action(bind('exec'));
  }

  if (want('completion')) {
    program
      .command('completion')
      .description('Print the shell completion script (bash, zsh or fish)')
      .argument('<shell>', 'bash, zsh or fish')
      .action(bind('completion'));
  }

  if (want('cni')) {
    program
      .command('cni')
      .description(
        'Run as a CNI plugin (ADD, DEL, CHECK, STATUS, GC, VERSION from CNI_COMMAND; configuration on stdin)',
      )
      .action(bind('cni'));
  }

  if (want('doctor')) {
    program
      .command('doctor')
      .description('Report every difference between the store and the kernel (changes nothing; exit 1 on drift)')
      .action(bind('doctor'));
  }

  if (want('node')) {
    const node = program.command('node').description('Hosts of the cluster store (overlay networks)');
    node
      .command('ls')
      .alias('list')
      .description('List hosts: name, advertise address, last seen, endpoints')
      .option('-q, --quiet', 'only display names')
      .option('--format <format>', 'table or json')
      .action(bind('node ls'));
    node
      .command('rm')
      .alias('remove')
      .description("Remove a dead host's endpoints and addresses cluster-wide")
      .argument('<host...>', 'node name or advertise address')
      .action(bind('node rm'));
  }

  if (want('agent')) {
    program
      .command('agent')
      .description("Keep this host's overlay peers (FDB and neighbour entries) in step with the cluster store")
      .option('--heartbeat <seconds>', 'how often to record that this host is alive', '10')
      .action(bind('agent'));
  }

  if (want('restore')) {
    program
      .command('restore')
      .description(
        'Re-create bridges, sandboxes, endpoints and firewall rules from the store (idempotent; run at boot)',
      )
      .action(bind('restore'));
  }

  return program;
}

/** Global options that take a value (the word after them is not a command). */
const VALUED = new Set(['--root', '--cluster-store', '--advertise-addr']);
export const COMMANDS = new Set([
  'create',
  'connect',
  'disconnect',
  'inspect',
  'ls',
  'list',
  'rm',
  'remove',
  'update',
  'export',
  'apply',
  'graph',
  'prune',
  'sandbox',
  'container',
  'exec',
  'completion',
  'cni',
  'doctor',
  'node',
  'agent',
  'restore',
]);

/**
 * The command the arguments name, when it is one; undefined (build every command) for help,
 * a completion, an unknown word (commander suggests the nearest) or none.
 */
export function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--help' || a === '-h') return undefined;
    if (VALUED.has(a)) i++;
    else if (!a.startsWith('-')) return COMMANDS.has(a) ? a : undefined;
  }
  return undefined;
}

/** `netctl __complete ...`: outside commander, so any word (even an unknown flag) is accepted. */
async function completeCommand(program: Command, words: string[]): Promise<number> {
  const { complete, readNames } = await import('./complete.js');
  const i = words.indexOf('--root');
  const root = (i >= 0 ? words[i + 1] : undefined) ?? process.env['NETCTL_ROOT'] ?? '/var/lib/netctl';
  io.out(complete(program, words, () => readNames(root)).join('\n') + '\n');
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  mark('program loaded');
  const program = buildProgram(lazyHandlers(), (c) => (code = c), commandWord(argv.slice(2)));
  mark('program built');
  if (argv[2] === '__complete') return completeCommand(program, argv.slice(3));
  try {
    await program.parseAsync(argv);
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
