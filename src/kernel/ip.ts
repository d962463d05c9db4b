// iproute2 operations, one small function each (as CNI's pkg/ip). Writes go through
// `ip -batch` so one process applies many changes; reads use `ip -j` JSON.
import type { KernelCmd } from '../model/records.js';
import { KernelError, SystemError, type KernelFault } from '../lib/errors.js';
import type { Runner } from './runner.js';

/**
 * Refuses tokens ip's batch parser would split or treat as a comment, and control characters
 * (a NUL ends ip's C string early, dropping the rest of the command): a last line of defence.
 */
function line(args: string[]): string {
  for (const a of args) {
    if (a === '' || /[\s#"'\\\x00-\x1f\x7f]/.test(a))
      throw new SystemError(`refusing unsafe argument ${JSON.stringify(a)} for ip`);
  }
  return args.join(' ');
}

const nsArgs = (ns?: string): string[] => (ns ? ['-n', ns] : []);

/**
 * VXLAN FDB entries are iproute2's `bridge fdb`, not `ip`: a step's `fdb …` lines go to one
 * `bridge -batch` after its `ip` lines (they only need the devices those make). Host only.
 */
export const isFdb = (c: string[]): boolean => c[0] === 'fdb';

/** Applies the commands in order in one process; stops at the first failure. */
export async function ipBatch(runner: Runner, ns: string | undefined, cmds: string[][]): Promise<void> {
  const fdb = cmds.filter(isFdb);
  const ipCmds = fdb.length ? cmds.filter((c) => !isFdb(c)) : cmds;
  if (fdb.length && ns) throw new SystemError(`refusing fdb commands inside netns ${ns}`);
  fdb.forEach(line); // checked before the ip lines run: a refusal leaves nothing half done
  if (ipCmds.length) {
    const lines = ipCmds.map(line);
    // A single command needs no stdin; several share one process.
    const r =
      ipCmds.length === 1
        ? await runner.run('ip', [...nsArgs(ns), ...(ipCmds[0] ?? [])])
        : await runner.run('ip', [...nsArgs(ns), '-batch', '-'], { input: lines.join('\n') + '\n' });
    if (r.exitCode !== 0) throw ipError(r.stderr, ns);
  }
  if (fdb.length) {
    const r = await runner.run('bridge', ['-batch', '-'], { input: fdb.map(line).join('\n') + '\n' });
    if (r.exitCode !== 0) throw ipError(r.stderr, undefined, 'bridge');
  }
}

/**
 * A batch whose process is already running: `send` gives it its commands, `cancel` lets it exit
 * having done nothing (both resolve once it has exited).
 */
export interface StartedBatch {
  send(cmds: string[][]): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * Starts `ip -batch -` in `ns` before its commands are known. Spawning costs ~3 ms; started
 * early, it overlaps the journal write and the step before. The process waits on stdin, so it
 * changes nothing until `send`: the undo journal still comes before the first kernel change,
 * and if netctl dies first, ip reads end-of-file and exits.
 */
export function startBatch(runner: Runner, ns: string | undefined): StartedBatch {
  let give: (text: string) => void = () => undefined;
  const done = runner.run('ip', [...nsArgs(ns), '-batch', '-'], {
    input: new Promise<string>((r) => {
      give = r;
    }),
  });
  done.catch(() => undefined); // a failure to start surfaces at send; cancelled, it needs no handler
  return {
    async send(cmds) {
      let text: string;
      try {
        text = cmds.map(line).join('\n') + '\n';
      } catch (e) {
        give('');
        throw e;
      }
      give(text);
      const r = await done;
      if (r.exitCode !== 0) throw ipError(r.stderr, ns);
    },
    cancel() {
      give('');
      return done.then(
        () => undefined,
        () => undefined,
      );
    },
  };
}

function ipError(stderr: string, ns?: string, tool = 'ip'): KernelError {
  const msg = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('Command failed'))
    .join('; ');
  return new KernelError(`${tool}${ns ? ` (netns ${ns})` : ''}: ${msg || 'failed'}`, faultOf(msg));
}

/** The kernel's answer as a KernelFault: the one place that reads its text for a decision. */
export function faultOf(msg: string): KernelFault {
  if (/File exists/.test(msg)) return 'exists';
  // EXFULL from enslaving a port to a bridge: the kernel's BR_MAX_PORTS.
  if (/Exchange full/.test(msg)) return 'exchange-full';
  return GONE.test(msg) ? 'gone' : 'other';
}

/** What "already gone" looks like: teardown treats these as success. */
const GONE = new RegExp(
  [
    'Cannot find device',
    'No such device',
    'does not exist',
    'No such process',
    'Cannot open network namespace',
    'No such file or directory',
    'Cannot assign requested address',
    'Invalid argument.*netns',
    'RTNETLINK answers: No such',
  ].join('|'),
);

/**
 * Best-effort, idempotent teardown: runs every command (ip -force), groups by namespace,
 * ignores "already gone" and returns the other errors together.
 */
export async function ipCleanup(runner: Runner, cmds: KernelCmd[]): Promise<string[]> {
  const groups = new Map<string, string[][]>();
  for (const c of cmds) {
    const key = c.ns ?? '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)?.push(c.args);
  }
  // Every line is checked before the first group runs: a refusal leaves nothing half done.
  for (const c of cmds) line(c.args);
  const errors: string[] = [];
  // Host namespace first: deleting a host veth end also removes the peer.
  const keys = [...groups.keys()].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : 0));
  for (const key of keys) {
    const ns = key || undefined;
    const all = groups.get(key) ?? [];
    const fdb = ns ? [] : all.filter(isFdb);
    const group = fdb.length ? all.filter((c) => !isFdb(c)) : all;
    if (fdb.length) {
      // Entries go before the devices: a deleted device takes its entries with it anyway.
      const r = await runner.run('bridge', ['-force', '-batch', '-'], { input: fdb.map(line).join('\n') + '\n' });
      for (const l of r.exitCode === 0 ? [] : r.stderr.split('\n')) {
        const t = l.trim();
        if (t && !t.startsWith('Command failed') && faultOf(t) !== 'gone') errors.push(`bridge: ${t}`);
      }
    }
    if (group.length === 0) continue;
    const list = groupDeletes(group);
    const r = await runner.run('ip', [...nsArgs(ns), '-force', '-batch', '-'], {
      input: list.map(line).join('\n') + '\n',
    });
    if (r.exitCode === 0) continue;
    for (const l of r.stderr.split('\n')) {
      const t = l.trim();
      if (!t || t.startsWith('Command failed') || faultOf(t) === 'gone') continue;
      errors.push(`ip${ns ? ` (netns ${ns})` : ''}: ${t}`);
    }
  }
  return errors;
}

/**
 * Several `link del` become `link set X group G` + one `link del group G`: the kernel then
 * unregisters them in one batch with one RCU grace period (50 veths: ~25 ms instead of ~1 s).
 */
export function groupDeletes(
  cmds: string[][],
  group = 1_000_000 + Math.floor(Math.random() * 2_000_000_000),
): string[][] {
  const dels = cmds.filter((c) => c.length === 3 && c[0] === 'link' && c[1] === 'del');
  if (dels.length < 2) return cmds;
  const rest = cmds.filter((c) => !dels.includes(c));
  return [
    ...dels.map((c) => ['link', 'set', c[2] ?? '', 'group', String(group)]),
    ['link', 'del', 'group', String(group)],
    ...rest,
  ];
}

export interface LinkInfo {
  ifname: string;
  link_type?: string;
  address?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  operstate?: string;
  flags?: string[];
  mtu?: number;
}

/** One `ip -j` read, parsed. */
export async function ipJson<T>(runner: Runner, ns: string | undefined, args: string[]): Promise<T> {
  const r = await runner.run('ip', [...nsArgs(ns), '-j', ...args]);
  if (r.exitCode !== 0) throw ipError(r.stderr, ns);
  return JSON.parse(r.stdout || '[]') as T;
}

export function listLinks(runner: Runner, ns?: string): Promise<LinkInfo[]> {
  return ipJson<LinkInfo[]>(runner, ns, ['-d', 'link', 'show']);
}

/** Addresses (addr/len) by interface name. */
export async function listAddrs(
  runner: Runner,
  ns?: string,
  family: '-4' | '-6' | '' = '',
): Promise<Map<string, string[]>> {
  const list = await ipJson<Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>>(
    runner,
    ns,
    [...(family ? [family] : []), 'addr', 'show'],
  );
  return new Map(list.map((a) => [a.ifname, (a.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`)]));
}

export interface RouteInfo {
  dst: string;
  dev?: string;
  gateway?: string;
}

/** Routes of the main table: both families (what default pools must not overlap), or one. */
export async function listRoutes(
  runner: Runner,
  ns?: string,
  families: Array<'-4' | '-6'> = ['-4', '-6'],
): Promise<RouteInfo[]> {
  const out: RouteInfo[] = [];
  for (const fam of families) out.push(...(await ipJson<RouteInfo[]>(runner, ns, [fam, 'route', 'show'])));
  return out;
}

/**
 * The kernel as one command sees it: each read (`ip -j`) made once, when first asked for, so
 * doctor, restore and create-time checks read only what the drivers involved need. A
 * namespace that cannot be read (gone) reads as empty.
 */
export class KernelView {
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(readonly runner: Runner) {}

  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) this.cache.set(key, (p = read()));
    return p;
  }

  links(ns?: string): Promise<Map<string, LinkInfo>> {
    return this.once(
      `links ${ns ?? ''}`,
      async () => new Map((await quiet(listLinks(this.runner, ns), ns, [])).map((l) => [l.ifname, l])),
    );
  }

  addrs(ns?: string, family: '-4' | '-6' | '' = ''): Promise<Map<string, string[]>> {
    return this.once(`addrs ${ns ?? ''} ${family}`, () =>
      quiet(listAddrs(this.runner, ns, family), ns, new Map<string, string[]>()),
    );
  }

  routes(ns?: string, families: Array<'-4' | '-6'> = ['-4', '-6']): Promise<RouteInfo[]> {
    return this.once(`routes ${ns ?? ''} ${families.join()}`, () =>
      quiet(listRoutes(this.runner, ns, families), ns, []),
    );
  }

  /** The host's IPv4 routing rules (`ip -j -4 rule`): their source and table. */
  rules(): Promise<Array<{ src?: string; table?: string }>> {
    return this.once('rules', () => ipJson(this.runner, undefined, ['-4', 'rule', 'show']));
  }
}

/** Inside a sandbox, a failed read means the netns is gone; in the host namespace it is an error. */
function quiet<T>(p: Promise<T>, ns: string | undefined, empty: T): Promise<T> {
  return ns === undefined ? p : p.catch(() => empty);
}
