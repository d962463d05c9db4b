// Dynamic shell completion, cobra's protocol: `netctl __complete ARGS... TOCOMPLETE` prints one
// candidate per line, then `:<directive>`. It walks the commander tree for subcommands and
// flags and reads names from the store without the lock; execa is never loaded.
import { driverNames } from '../drivers/index.js';
import { installedPlugins } from '../kernel/plugin.js';
import { loadDoc } from '../store/state.js';
import type { Command, Option } from 'commander';

/** cobra's ShellCompDirective bits. */
export const Directive = { Error: 1, NoSpace: 2, NoFileComp: 4 } as const;

export interface Names {
  networks: string[];
  sandboxes: string[];
}

const LS_FILTERS: Record<string, (n: Names) => string[]> = {
  driver: () => driverNames(),
  id: () => [],
  name: (n) => n.networks,
  label: () => [],
  scope: () => ['local', 'global'],
  type: () => ['custom', 'builtin'],
  dangling: () => ['true', 'false'],
};
const BRIDGE_OPTS = [
  'com.docker.network.bridge.name=',
  'com.docker.network.bridge.enable_icc=',
  'com.docker.network.bridge.enable_ip_masquerade=',
  'com.docker.network.bridge.host_binding_ipv4=',
  'com.docker.network.driver.mtu=',
  'com.docker.network.container_iface_prefix=',
];

/** What each command's positional arguments are, by index (the last entry repeats). */
const POSITIONALS: Record<string, Array<keyof Names | 'shells'>> = {
  rm: ['networks'],
  inspect: ['networks'],
  connect: ['networks', 'sandboxes', 'sandboxes'],
  disconnect: ['networks', 'sandboxes', 'sandboxes'],
  'sandbox inspect': ['sandboxes'],
  'sandbox start': ['sandboxes'],
  'sandbox stop': ['sandboxes'],
  'sandbox rm': ['sandboxes'],
  'sandbox attach': [],
  exec: ['sandboxes'],
  completion: ['shells'],
  update: ['networks'],
  export: [],
  apply: [],
  graph: [],
};

function findOption(cmds: Command[], word: string): Option | undefined {
  const flag = word.split('=')[0];
  for (const c of cmds) {
    const o = c.options.find(
      (x) => x.long === flag || x.short === flag || (flag === `--no-${x.long?.slice(5)}` && x.negate),
    );
    if (o) return o;
  }
  return undefined;
}

function optionValues(path: string, opt: Option, prefix: string, names: Names): { items: string[]; directive: number } {
  const none = { items: [], directive: Directive.NoFileComp };
  switch (opt.long) {
    case '--driver':
      return {
        items: [...driverNames(), ...installedPlugins().filter((p) => !driverNames().includes(p))],
        directive: Directive.NoFileComp,
      };
    case '--ipam-driver':
      return { items: ['default', ...installedPlugins()], directive: Directive.NoFileComp };
    case '--net':
      return {
        items: ['bridge', 'none', 'host', ...names.networks, ...names.sandboxes.map((s) => `container:${s}`)],
        directive: Directive.NoFileComp,
      };
    case '--opt':
      return { items: BRIDGE_OPTS, directive: Directive.NoFileComp | Directive.NoSpace };
    case '--format':
      if (path === 'graph') return { items: ['text', 'dot', 'svg'], directive: Directive.NoFileComp };
      return { items: path === 'inspect' ? ['json'] : ['table', 'json'], directive: Directive.NoFileComp };
    case '--output':
      return { items: ['yaml', 'json'], directive: Directive.NoFileComp };
    case '--file':
      return { items: [], directive: 0 }; // a file name: the shell completes it
    case '--filter': {
      if (path === 'prune')
        return { items: ['label=', 'label!=', 'until='], directive: Directive.NoFileComp | Directive.NoSpace };
      const eq = prefix.indexOf('=');
      if (eq < 0)
        return {
          items: Object.keys(LS_FILTERS).map((k) => `${k}=`),
          directive: Directive.NoFileComp | Directive.NoSpace,
        };
      const key = prefix.slice(0, eq);
      return { items: (LS_FILTERS[key]?.(names) ?? []).map((v) => `${key}=${v}`), directive: Directive.NoFileComp };
    }
    default:
      return none;
  }
}

/** Candidates and directive for `words` (the arguments after `netctl`, the last one being completed). */
export function complete(program: Command, words: string[], names: () => Names): string[] {
  const toComplete = words.length ? (words[words.length - 1] ?? '') : '';
  const args = words.slice(0, -1);
  let cmd = program;
  const chain: Command[] = [program];
  const positionals: string[] = [];
  let pending: Option | undefined;
  let dashdash = false;
  for (const a of args) {
    if (pending) {
      pending = undefined;
      continue;
    }
    if (!dashdash && a === '--') {
      dashdash = true;
      continue;
    }
    if (!dashdash && a.startsWith('-') && a.length > 1) {
      const o = findOption([...chain].reverse(), a);
      if (o && (o.required || o.optional) && !a.includes('=')) pending = o;
      continue;
    }
    const sub =
      positionals.length === 0 ? cmd.commands.find((c) => c.name() === a || c.aliases().includes(a)) : undefined;
    if (sub) {
      cmd = sub;
      chain.push(sub);
      continue;
    }
    positionals.push(a);
  }
  const path = chain
    .slice(1)
    .map((c) => c.name())
    .join(' ');
  const out = (items: string[], directive: number) => [
    ...new Set(items.filter((i) => i.startsWith(toComplete))),
    `:${directive}`,
  ];

  if (pending) {
    const v = optionValues(path, pending, toComplete, names());
    return out(v.items, v.directive);
  }
  if (toComplete.startsWith('-') && !dashdash) {
    const flags = chain
      .flatMap((c) => c.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short]))
      .filter((f): f is string => Boolean(f));
    return out([...new Set([...flags, '--help'])], Directive.NoFileComp);
  }
  if (cmd.commands.length && positionals.length === 0) {
    return out(
      cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name()),
      Directive.NoFileComp,
    );
  }
  const kinds = POSITIONALS[path];
  if (!kinds || dashdash) return out([], path === 'exec' ? 0 : Directive.NoFileComp);
  const kind = kinds[Math.min(positionals.length, kinds.length - 1)];
  if (path === 'exec' && positionals.length > 0) return out([], 0); // the command to run: files are fine
  if (kind === 'shells') return out(['bash', 'zsh', 'fish'], Directive.NoFileComp);
  const n = names();
  const taken = new Set(positionals);
  return out(
    (kind ? n[kind] : []).filter((x) => !taken.has(x)),
    Directive.NoFileComp,
  );
}

/** Names straight from the store file: no lock, no lowdb, and nothing at all if unreadable. */
export function readNames(root: string): Names {
  try {
    const { tables } = loadDoc(root).doc;
    return {
      networks: tables.networks
        .list()
        .map((n) => n.name)
        .sort(),
      sandboxes: tables.sandboxes.values('name').sort(), // no record parsed
    };
  } catch {
    return { networks: [], sandboxes: [] };
  }
}
