// The one door to the kernel: every `ip`/`iptables` call goes through a Runner. Core and
// drivers receive it; only this file spawns those processes, through node:child_process (loaded
// on the first spawn: ls and inspect spawn nothing). Not execa: importing it costs ~22 ms even
// bundled, and a Runner needs only argv in, stdout/stderr/status out.
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { readProc } from '../lib/procfs.js';
import { SystemError } from '../lib/errors.js';
import { mark } from '../lib/trace.js';

/** stdout, stderr and the exit status (128 when a signal ended the process). */
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  /**
   * What goes to stdin. A promise lets the process start before its input is known (see
   * ip.ts startBatch): it waits on stdin, so it does nothing until the input is given.
   */
  input?: string | Promise<string>;
  /** 'caller': the caller's whole environment (a runtime's CLI finds its instance there: DOCKER_HOST, ...). */
  env?: 'caller';
}

export interface Runner {
  /** Runs file with args (never through a shell). Resolves on any exit code; rejects only if it cannot start. */
  run(file: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Sets a sysctl of the current network namespace if it differs; resolves whether it changed. */
  sysctl(key: string, value: string): Promise<boolean>;
  /**
   * Starts a long-running helper (netctl's resolver) in a session of its own, its output
   * appended to `log`; resolves true once it writes a line on descriptor 3 (it is ready), false
   * if it exits first.
   */
  serve?(file: string, args: string[], log: string): Promise<boolean>;
}

const PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  nsenter: 'util-linux',
  dot: 'graphviz',
  nft: 'nftables',
};

export const packageOf = (file: string): string => PACKAGES[file] ?? (/^ip6?tables/.test(file) ? 'iptables' : file);

/**
 * `ip netns exec H netctl ...` runs netctl in a private *slave* mount namespace: a netns it
 * made would be bound under /run/netns only there and vanish with the process. When that is the
 * case, `ip` runs in the mount namespace of the nearest ancestor outside it (where the caller
 * lives; a wrapper such as `timeout` or a shell between `ip netns exec` and netctl shares the
 * private one), from which the binding propagates back to us. Returns that namespace, or null:
 * the usual case, or an ancestry that ends (a parent gone) before another namespace.
 */
export function parentMountNs(ppid = process.ppid): string | null {
  try {
    const mine = readlinkSync('/proc/self/ns/mnt');
    // Ours receives /run/netns's mounts from a peer group (master:N); the namespace to bind in is
    // the one that sends them (shared:N), not merely any other one up the ancestry (a container
    // sharing the host's PID namespace has host processes above it). Mountinfo has a line per
    // named netns: it is read only once an ancestor is found in another mount namespace.
    let group: string | null | undefined;
    for (let pid = ppid, hops = 0; pid >= 1 && hops < 64; pid = pid === 1 ? 0 : parentOf(pid), hops++) {
      const ns = `/proc/${pid}/ns/mnt`;
      if (readlinkSync(ns) === mine) continue;
      group ??= / master:(\d+)/.exec(netnsMount('/proc/self/mountinfo') ?? '')?.[1] ?? null;
      if (group === null) return null;
      if (new RegExp(` shared:${group}( |$)`).test(netnsMount(`/proc/${pid}/mountinfo`) ?? '')) return ns;
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * The /run/netns line of a mountinfo file (the last mount there is the one in effect). The file
 * has a line per named netns on the host: one search of it, no array of its lines.
 */
function netnsMount(file: string): string | undefined {
  let last: string | undefined;
  for (const m of readFileSync(file, 'utf8').matchAll(/^(?:\S+ ){4}\/run\/netns [^\n]*/gm)) last = m[0];
  return last;
}

/** The parent of `pid`, from /proc/PID/stat ("PID (COMM) STATE PPID ..."; COMM may hold spaces and parens). */
function parentOf(pid: number): number {
  const stat = readProc(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Where `ip netns` keeps its names (iproute2's NETNS_RUN_DIR). */
export const NETNS_DIR = '/var/run/netns';

/**
 * How `ip [-n NS] ARGS` is run. `ip -n` enters NS and then copies the mount table into a
 * namespace of its own to remount /sys there; every named netns is a mount, so with a
 * thousand sandboxes that alone took 5.5 ms instead of 1.9. nsenter only enters the network
 * namespace (2.6 ms, flat), and nothing netctl runs inside one reads /sys.
 */
export function ipArgv(args: string[], mountNs: string | null): [string, string[]] {
  const ns = args[0] === '-n' ? args[1] : undefined;
  const rest = ns !== undefined ? args.slice(2) : args;
  const enter = [...(mountNs ? [`--mount=${mountNs}`] : []), ...(ns !== undefined ? [`--net=${NETNS_DIR}/${ns}`] : [])];
  return enter.length ? ['nsenter', [...enter, '--', 'ip', ...rest]] : ['ip', rest];
}

export class ProcessRunner implements Runner {
  /** Counts the processes spawned (tests hold the per-command budget with it). */
  spawned = 0;
  private mountNsKnown: string | null | undefined;
  /** The parent as it is now: the lookup may come after a wait for the lock, when it may be gone. */
  private readonly ppid = process.ppid;
  /** Looked up at the first spawn: ls and inspect spawn nothing. */
  private get mountNs(): string | null {
    if (this.mountNsKnown === undefined) this.mountNsKnown = parentMountNs(this.ppid);
    return this.mountNsKnown;
  }

  constructor(private readonly debug?: (line: string) => void) {}

  run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (file === 'ip') return this.spawnRun(...ipArgv(args, this.mountNs), opts);
    // A bind mount under NETNS_DIR must land where `ip netns` names land (see parentMountNs).
    if (file === 'mount' && this.mountNs)
      return this.spawnRun('nsenter', [`--mount=${this.mountNs}`, '--', file, ...args], opts);
    return this.spawnRun(file, args, opts);
  }

  /** Through /proc: no process. */
  async sysctl(key: string, value: string): Promise<boolean> {
    this.debug?.(`sysctl ${key}=${value}`);
    return ensureSysctl(key, value);
  }

  async serve(file: string, args: string[], log: string): Promise<boolean> {
    this.spawned++;
    this.debug?.(`serve ${file} ${args.join(' ')} (log ${log})`);
    const { spawn } = await childProcess();
    const fd = openSync(log, 'a', 0o600);
    try {
      // Its own session, and / as its directory: it must not hold the caller's busy.
      const child = spawn(file, args, { env: ENV(), cwd: '/', detached: true, stdio: ['ignore', fd, fd, 'pipe'] });
      const ready = child.stdio[3] as import('node:stream').Readable;
      return await new Promise<boolean>((resolve) => {
        let said = '';
        const finish = (ok: boolean) => {
          ready.destroy();
          child.unref();
          resolve(ok);
        };
        ready.on('data', (d: Buffer) => {
          said += d.toString();
          if (said.includes('\n')) finish(true);
        });
        ready.on('error', () => undefined);
        child.once('exit', () => finish(said.includes('\n')));
        child.once('error', () => finish(false));
      });
    } finally {
      closeSync(fd);
    }
  }

  private async spawnRun(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
    const t0 = this.debug ? process.hrtime.bigint() : 0n; // not performance.now(): it loads perf_hooks
    this.spawned++;
    mark(`spawn ${file} ${args.slice(0, 2).join(' ')}`);
    let input = typeof opts.input === 'string' ? opts.input : '';
    // A promised input is known later: kept for the debug line when it comes.
    const given = typeof opts.input === 'object' ? opts.input.then((text) => (input = text)) : opts.input;
    const { spawn } = await childProcess();
    try {
      const r = await run(spawn, file, args, given, opts.env === 'caller' ? { ...process.env, LC_ALL: 'C' } : ENV());
      this.debug?.(
        `${file} ${args.join(' ')}${input ? ` <<< ${JSON.stringify(input)}` : ''} -> exit ${r.exitCode} ` +
          `(${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`,
      );
      mark(`exited ${file}`);
      return r;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw err.code === 'ENOENT'
        ? new SystemError(`${file} not found`, `install it: apt-get install ${packageOf(file)}`)
        : new SystemError(`cannot run ${file}: ${err.message}`);
    }
  }
}

let loaded: Promise<typeof import('node:child_process')> | undefined;
/** node:child_process loads streams, net and dgram (~2 ms): only commands that spawn pay for it. */
const childProcess = () => (loaded ??= import('node:child_process'));

const ENV = (): Record<string, string> => ({
  PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
});

/** Runs file to its exit with its output captured; rejects (code 'ENOENT', ...) when it cannot start. */
function run(
  spawn: typeof import('node:child_process').spawn,
  file: string,
  args: string[],
  input: string | Promise<string> | undefined,
  env: NodeJS.ProcessEnv,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    if (child.stdin) {
      const stdin = child.stdin;
      stdin.on('error', () => undefined); // the child may exit before reading everything (EPIPE)
      void Promise.resolve(input ?? '').then((text) => stdin.end(text));
    }
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        exitCode: code ?? (signal ? 128 : 1),
      });
    });
  });
}

/** Sets /proc/sys/KEY if it differs; returns whether it changed (sysctls are per netns). A failed write throws. */
function ensureSysctl(key: string, value: string): boolean {
  const path = `/proc/sys/${key.replace(/\./g, '/')}`;
  try {
    if (readProc(path).trim() === value) return false;
    writeFileSync(path, value);
    return true;
  } catch (e) {
    throw new SystemError(`cannot set ${key} to ${value}: ${(e as Error).message}`);
  }
}
