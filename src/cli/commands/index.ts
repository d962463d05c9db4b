// The command registry: the one place that lists netctl's commands. A command is a module
// beside this file (its options, help, completion and handler together); adding one is a file
// and a line here. Modules are imported when their command is named, so a command defines and
// loads no other.
import type { CommandModule } from '../command.js';

export interface Entry {
  name: string;
  aliases?: string[];
  /**
   * The command's module, and for a group (sandbox, node) its subcommands and description; a
   * group with a module of its own (cni) runs it when no subcommand is named.
   */
  load?: () => Promise<{ default: CommandModule }>;
  group?: { description: string; commands: Entry[] };
  /** Takes no argument nor option (the CNI plugin reads the environment and stdin): alone, run without the parser. */
  bare?: boolean;
}

export const COMMANDS: readonly Entry[] = [
  { name: 'create', load: () => import('./network/create.js') },
  { name: 'connect', load: () => import('./network/connect.js') },
  { name: 'disconnect', load: () => import('./network/disconnect.js') },
  { name: 'inspect', load: () => import('./network/inspect.js') },
  { name: 'ls', aliases: ['list'], load: () => import('./network/ls.js') },
  { name: 'rm', aliases: ['remove'], load: () => import('./network/rm.js') },
  { name: 'update', load: () => import('./network/update.js') },
  { name: 'export', load: () => import('./topology/export.js') },
  { name: 'apply', load: () => import('./topology/apply.js') },
  { name: 'graph', load: () => import('./topology/graph.js') },
  { name: 'prune', load: () => import('./network/prune.js') },
  {
    name: 'sandbox',
    aliases: ['container'],
    group: {
      description: 'Manage sandboxes (network namespaces of containers)',
      commands: [
        { name: 'create', load: () => import('./sandbox/create.js') },
        { name: 'ls', aliases: ['list'], load: () => import('./sandbox/ls.js') },
        { name: 'inspect', load: () => import('./sandbox/inspect.js') },
        { name: 'start', load: () => import('./sandbox/start.js') },
        { name: 'stop', load: () => import('./sandbox/stop.js') },
        { name: 'rm', aliases: ['remove'], load: () => import('./sandbox/rm.js') },
        { name: 'attach', load: () => import('./sandbox/attach.js') },
        { name: 'prune', load: () => import('./sandbox/prune.js') },
      ],
    },
  },
  { name: 'exec', load: () => import('./sandbox/exec.js') },
  { name: 'completion', load: () => import('./host/completion.js') },
  {
    name: 'cni',
    // Alone, the plugin itself; with a subcommand, what helps a runtime use it.
    load: () => import('./host/cni.js'),
    bare: true,
    group: {
      description: 'Run as a CNI plugin; conflist and install help a runtime use it',
      commands: [
        { name: 'conflist', load: () => import('./host/cni-conflist.js') },
        { name: 'install', load: () => import('./host/cni-install.js') },
      ],
    },
  },
  { name: 'doctor', load: () => import('./network/doctor.js') },
  {
    name: 'node',
    group: {
      description: 'Hosts of the cluster store (overlay networks)',
      commands: [
        { name: 'ls', aliases: ['list'], load: () => import('./node/ls.js') },
        { name: 'rm', aliases: ['remove'], load: () => import('./node/rm.js') },
      ],
    },
  },
  { name: 'agent', load: () => import('./node/agent.js') },
  { name: 'restore', load: () => import('./network/restore.js') },
  {
    name: 'policy',
    group: {
      description: 'Egress policy: what a sandbox may open connections to',
      commands: [
        { name: 'set', load: () => import('./policy/set.js') },
        { name: 'add', load: () => import('./policy/add.js') },
        { name: 'rm', aliases: ['remove'], load: () => import('./policy/rm.js') },
        { name: 'show', load: () => import('./policy/show.js') },
        { name: 'clear', load: () => import('./policy/clear.js') },
      ],
    },
  },
  {
    name: 'dns',
    group: {
      description: "netctl's resolver: names for every container on user-defined networks",
      commands: [{ name: 'ls', aliases: ['list'], load: () => import('./dns/ls.js') }],
    },
  },
];

/** The entry a command word names (by name or alias). */
export const entryOf = (word: string, list: readonly Entry[] = COMMANDS): Entry | undefined =>
  list.find((e) => e.name === word || e.aliases?.includes(word));

/** A command named alone that runs without the parser (commands/index.ts `bare`), or undefined. */
export const bareCommand = (args: string[]): Entry | undefined => {
  const e = args.length === 1 && args[0] ? entryOf(args[0]) : undefined;
  return e?.bare ? e : undefined;
};
