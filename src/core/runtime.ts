// Containers of other runtimes as sandboxes (docs/reference.md §15): `docker:NAME|ID`,
// `podman:NAME|ID`, `ctr:[NAMESPACE/]ID`, `pid:PID`, `netns:PATH`. The runtime's own CLI, run
// with the caller's environment (DOCKER_HOST, CONTAINERS_CONF, CONTAINERD_ADDRESS, ...), says
// which process holds the container's network namespace.
import { statSync } from 'node:fs';
import { basename, resolve as resolvePath } from 'node:path';
import { ForbiddenError, InvalidArgumentError, NotFoundError } from '../lib/errors.js';
import type { RuntimeLink, SandboxRecord } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import type { Runner } from '../kernel/runner.js';
import { isHostNetns } from '../kernel/ops.js';

export type RuntimeKind = RuntimeLink['kind'];
const KINDS: readonly string[] = ['docker', 'podman', 'ctr', 'pid', 'netns'];

export interface RuntimeRef {
  kind: RuntimeKind;
  arg: string;
  ref: string;
}

/** `docker:web` and the like, or null for a plain sandbox name (which never holds a ':'). */
export function parseRuntimeRef(ref: string): RuntimeRef | null {
  const i = ref.indexOf(':');
  const kind = ref.slice(0, i);
  if (i < 0 || !KINDS.includes(kind)) return null;
  const arg = ref.slice(i + 1);
  if (!arg) throw new InvalidArgumentError(`invalid container reference ${ref}: nothing after "${kind}:"`);
  if (kind === 'pid' && !/^[1-9]\d*$/.test(arg)) throw new InvalidArgumentError(`invalid pid in ${ref}`);
  if (kind === 'netns' && !arg.startsWith('/')) throw new InvalidArgumentError(`invalid ${ref}: an absolute path`);
  return { kind: kind as RuntimeKind, arg, ref };
}

/** What the runtime says of a running container. */
export interface Found {
  /** The runtime's container ID (ctr: NAMESPACE/ID). */
  id: string;
  /** The sandbox's name: the container's. */
  name: string;
  /** The namespace's file: /proc/PID/ns/net, or the netns file given. */
  target: string;
  resolvConf?: string;
}

let nsfs: number | undefined;

/** `dev:ino` of a namespace file (through a symlink), or '' when it is gone or no namespace (a plain file). */
export function nsIdentity(path: string): string {
  try {
    nsfs ??= statSync('/proc/self/ns/net').dev;
    const st = statSync(path);
    return st.dev === nsfs ? `${st.dev}:${st.ino}` : '';
  } catch {
    return '';
  }
}

const noSuch = (r: RuntimeRef, why: string): NotFoundError =>
  new NotFoundError(`No such container: ${r.ref}${why ? ` (${why})` : ''}`);

/** The runtime's answer for a running container, checked: not the host's own namespace. */
export async function inspectRuntime(runner: Runner, r: RuntimeRef): Promise<Found> {
  const found = await ask(runner, r);
  if (isHostNetns(found.target))
    throw new ForbiddenError(`${r.ref} is the host's own network namespace (use --net host)`);
  if (!nsIdentity(found.target)) throw noSuch(r, `its network namespace ${found.target} is gone`);
  return found;
}

async function ask(runner: Runner, r: RuntimeRef): Promise<Found> {
  switch (r.kind) {
    case 'pid':
      return { id: r.arg, name: `pid-${r.arg}`, target: `/proc/${r.arg}/ns/net` };
    case 'netns': {
      const target = resolvePath(r.arg);
      return { id: target, name: basename(target), target };
    }
    case 'docker':
    case 'podman':
      return inspectEngine(runner, r);
    case 'ctr':
      return inspectCtr(runner, r);
  }
}

/** Runs a runtime's CLI; one that is missing is a container that cannot be found. */
async function cli(runner: Runner, r: RuntimeRef, file: string, args: string[]): Promise<string> {
  let res;
  try {
    res = await runner.run(file, args, { env: 'caller' });
  } catch (e) {
    throw noSuch(r, (e as Error).message); // "docker not found": the runtime is not installed
  }
  if (res.exitCode !== 0)
    throw noSuch(
      r,
      res.stderr
        .trim()
        .split('\n')
        .pop()
        ?.replace(/^Error:\s*/i, '') ?? '',
    );
  return res.stdout;
}

interface EngineInspect {
  Id?: string;
  Name?: string;
  State?: { Running?: boolean; Pid?: number };
  ResolvConfPath?: string;
}

/** docker and podman answer `inspect` with the same shape (podman: a list). */
async function inspectEngine(runner: Runner, r: RuntimeRef): Promise<Found> {
  const out = await cli(runner, r, r.kind, ['container', 'inspect', r.arg]);
  let c: EngineInspect | undefined;
  try {
    const v = JSON.parse(out) as EngineInspect | EngineInspect[];
    c = Array.isArray(v) ? v[0] : v;
  } catch {
    c = undefined;
  }
  if (!c?.Id) throw noSuch(r, `${r.kind} inspect answered no container`);
  const pid = c.State?.Pid ?? 0;
  if (!c.State?.Running || pid <= 0) throw new NotFoundError(`container ${r.ref} is not running`);
  return {
    id: c.Id,
    name: (c.Name ?? '').replace(/^\//, '') || c.Id.slice(0, 12),
    target: `/proc/${pid}/ns/net`,
    ...(c.ResolvConfPath ? { resolvConf: c.ResolvConfPath } : {}),
  };
}

/** containerd: `ctr -n NS task ls` lists TASK PID STATUS; the namespace defaults as ctr's does. */
async function inspectCtr(runner: Runner, r: RuntimeRef): Promise<Found> {
  const slash = r.arg.indexOf('/');
  const ns = slash >= 0 ? r.arg.slice(0, slash) : (process.env['CONTAINERD_NAMESPACE'] ?? 'default');
  const id = slash >= 0 ? r.arg.slice(slash + 1) : r.arg;
  const out = await cli(runner, r, 'ctr', ['-n', ns, 'task', 'ls']);
  const row = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[0] === id);
  if (!row) throw noSuch(r, `no task ${id} in containerd namespace ${ns}`);
  const pid = Number(row[1]);
  if (row[2] !== 'RUNNING' || !(pid > 0)) throw new NotFoundError(`container ${r.ref} is not running`);
  // ctr manages no resolv.conf: the file is the one in the container's root.
  const target = `/proc/${pid}/ns/net`;
  return { id: `${ns}/${id}`, name: id, target, resolvConf: `/proc/${pid}/root/etc/resolv.conf` };
}

/**
 * The sandbox a reference names, from the store alone (rm, disconnect, inspect work on an
 * exited container the runtime may have forgotten): by the reference first given, the
 * container's ID or its prefix, or the name it was adopted under.
 */
export function findByRuntime(tx: ReadTxn, r: RuntimeRef): SandboxRecord | undefined {
  const mine = tx
    .values('sandboxes', 'id', { field: 'ownsNetns', value: false })
    .map((id) => tx.get('sandboxes', id))
    .filter((sb): sb is SandboxRecord => sb?.runtime?.kind === r.kind);
  const target = r.kind === 'netns' ? resolvePath(r.arg) : r.arg;
  return (
    mine.find((sb) => sb.runtime?.ref === r.ref || sb.runtime?.id === target) ??
    mine.find((sb) => sb.name === target) ??
    (/^[0-9a-f]{3,}$/.test(r.arg) ? mine.find((sb) => sb.runtime?.id.startsWith(r.arg)) : undefined)
  );
}

/** Whether a runtime sandbox's namespace is still the one it was adopted with. */
export const isLive = (netnsDir: string, sb: SandboxRecord): boolean =>
  !sb.runtime || nsIdentity(`${netnsDir}/${sb.netns}`) === sb.runtime.ns;
