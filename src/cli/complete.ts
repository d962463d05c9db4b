// Dynamic shell completion, cobra's protocol: `netctl __complete ARGS... TOCOMPLETE` prints one
// candidate per line, then `:<directive>`. It walks the commander tree for subcommands and
// flags, asks the command module what its positionals and option values are, and reads names
// from the store without the lock; execa is never loaded.
import type { Command, Option } from 'commander';
import { driverNames } from '../drivers/index.js';
import { installedPlugins } from '../kernel/plugin.js';
import { loadDoc } from '../store/state.js';
import { Directive, type Candidates, type CommandModule, type Names } from './command.js';

// --- option values the command modules offer (their `values`)

/** A fixed list. */
export const oneOf =
  (...items: string[]) =>
  (): Candidates => ({ items, directive: Directive.NoFileComp });

/** A file name: the shell completes it. */
export const files = (): Candidates => ({ items: [], directive: 0 });

/** `-d`: the built-in drivers and the plugins installed. */
export const drivers = (): Candidates => ({
  items: [...driverNames(), ...installedPlugins().filter((p) => !driverNames().includes(p))],
  directive: Directive.NoFileComp,
});

export const ipamDrivers = (): Candidates => ({
  items: ['default', ...installedPlugins()],
  directive: Directive.NoFileComp,
});

/** `--net`: the modes and the networks, and container:NAME. */
export const netModes = (_prefix: string, names: Names): Candidates => ({
  items: ['bridge', 'none', 'host', ...names.networks, ...names.sandboxes.map((s) => `container:${s}`)],
  directive: Directive.NoFileComp,
});

/** `-o` of a bridge network. */
export const bridgeOptions = (): Candidates => ({
  items: [
    'com.docker.network.bridge.name=',
    'com.docker.network.bridge.enable_icc=',
    'com.docker.network.bridge.enable_ip_masquerade=',
    'com.docker.network.bridge.host_binding_ipv4=',
    'com.docker.network.driver.mtu=',
    'com.docker.network.container_iface_prefix=',
  ],
  directive: Directive.NoFileComp | Directive.NoSpace,
});

/** `--filter KEY=VALUE`: the keys, then the values of the key typed. */
export const filters =
  (keys: Record<string, (n: Names) => string[]>) =>
  (prefix: string, names: Names): Candidates => {
    const eq = prefix.indexOf('=');
    if (eq < 0)
      return { items: Object.keys(keys).map((k) => `${k}=`), directive: Directive.NoFileComp | Directive.NoSpace };
    const key = prefix.slice(0, eq);
    return { items: (keys[key]?.(names) ?? []).map((v) => `${key}=${v}`), directive: Directive.NoFileComp };
  };

// --- the walk

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

/**
 * Candidates and directive for `words` (the arguments after `netctl`, the last one being
 * completed). `modules` gives the module behind each command of the tree.
 */
export function complete(
  program: Command,
  modules: Map<Command, CommandModule>,
  words: string[],
  names: () => Names,
): string[] {
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
  const out = (items: string[], directive: number) => [
    ...new Set(items.filter((i) => i.startsWith(toComplete))),
    `:${directive}`,
  ];
  const mod = modules.get(cmd);

  if (pending) {
    const values = pending.long ? mod?.values?.[pending.long] : undefined;
    const v = values?.(toComplete, names()) ?? { items: [], directive: Directive.NoFileComp };
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
  const kinds = mod?.args;
  const kind = kinds?.[Math.min(positionals.length, kinds.length - 1)];
  if (kind === 'files' || (dashdash && kinds?.includes('files'))) return out([], 0);
  if (!kind || dashdash) return out([], Directive.NoFileComp);
  if (kind === 'shells') return out(['bash', 'zsh', 'fish'], Directive.NoFileComp);
  const taken = new Set(positionals);
  return out(
    names()[kind].filter((x) => !taken.has(x)),
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
