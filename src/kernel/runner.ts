// The one door to the kernel: every `ip`/`iptables` call goes through a Runner. Core and
// drivers receive it; only this file spawns those processes, on libuv's handles (lib/uv.ts)
// or else through node:child_process. Not execa: importing it costs ~22 ms even bundled, and a
// Runner needs only argv in, stdout/stderr/status out.
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { readProc } from '../lib/procfs.js';
import { SystemError } from '../lib/errors.js';
import { mark } from '../lib/trace.js';
import { spawnUv, uv, type Exited, type Started } from '../lib/uv.js';

/** stdout, stderr and the exit status (128 when a signal ended the process). */
export type RunResult = Exited;

export interface RunOptions {
  /**
   * What goes to stdin. A promise lets the process start before its input is known (see
   * ip.ts startBatch): it waits on stdin, so it does nothing until the input is given.
   */
  input?: string | Promise<string>;
  /**
   * A cheap test of the command's outcome. When it holds before the process exits, the run
   * resolves as a success and the process is left to finish on its own: deleting a link
   * unregisters it in a few ms, then `ip` waits another 15-45 ms in the kernel for the
   * device's last references (RCU) before it exits, and nothing netctl does depends on that.
   */
  settled?: () => boolean;
}

export interface Runner {
  /** Runs file with args (never through a shell). Resolves on any exit code; rejects only if it cannot start. */
  run(file: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Sets a sysctl of the current network namespace if it differs; resolves whether it changed. */
  sysctl(key: string, value: string): Promise<boolean>;
}

const PACKAGES: Record<string, string> = { ip: 'iproute2', bridge: 'iproute2', nsenter: 'util-linux', dot: 'graphviz', nft: 'nftables' };

export const packageOf = (file: string): string => PACKAGES[file] ?? (/^ip6?tables/.test(file) ? 'iptables' : file);

/**
 * `ip netns exec H netctl ...` runs netctl in a private *slave* mount namespace: a netns it
 * made would be bound under /run/netns only there and vanish with the process. When that is the
 * case, `ip` runs in the mount namespace of the parent (where the caller lives), from which the
 * binding propagates back to us. Returns the parent's mount namespace, or null (the usual case:
 * two readlinks).
 */
export function parentMountNs(ppid = process.ppid): string | null {
  try {
    const mine = readlinkSync('/proc/self/ns/mnt');
    const parent = `/proc/${ppid}/ns/mnt`;
    if (readlinkSync(parent) === mine) return null;
    const netnsMount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/run/netns').pop();
    return netnsMount && / master:\d+/.test(netnsMount) ? parent : null;
  } catch {
    return null;
  }
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
    if (file === 'mount' && this.mountNs) return this.spawnRun('nsenter', [`--mount=${this.mountNs}`, '--', file, ...args], opts);
    return this.spawnRun(file, args, opts);
  }

  /** Through /proc: no process. */
  async sysctl(key: string, value: string): Promise<boolean> {
    this.debug?.(`sysctl ${key}=${value}`);
    return ensureSysctl(key, value);
  }

  private async spawnRun(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
    const t0 = this.debug ? process.hrtime.bigint() : 0n; // not performance.now(): it loads perf_hooks
    this.spawned++;
    mark(`spawn ${file} ${args.slice(0, 2).join(' ')}`);
    let input = typeof opts.input === 'string' ? opts.input : '';
    const report = (outcome: string) => this.debug?.(`${file} ${args.join(' ')}${input ? ` <<< ${JSON.stringify(input)}` : ''} -> ${outcome} (${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);
    // A promised input is known later: kept for the debug line when it comes.
    const given = typeof opts.input === 'object' ? opts.input.then((text) => (input = text)) : opts.input;
    const failed = (e: NodeJS.ErrnoException) => e.code === 'ENOENT'
      ? new SystemError(`${file} not found`, `install it: apt-get install ${packageOf(file)}`)
      : new SystemError(`cannot run ${file}: ${e.message}`);
    let started: Started;
    try {
      started = await start(file, args, given); // spawned before the first await
    } catch (e) {
      throw failed(e as NodeJS.ErrnoException);
    }
    const exited = started.exited.then((r) => {
      report(`exit ${r.exitCode}`);
      mark(`exited ${file}`);
      return r;
    }, (e: NodeJS.ErrnoException) => Promise.reject(failed(e)));
    const { settled } = opts;
    if (!settled) return exited;
    return new Promise((resolve, reject) => {
      const poll = setInterval(() => {
        if (!settled()) return;
        clearInterval(poll);
        report('done, exit not awaited');
        started.leave();
        resolve({ stdout: '', stderr: '', exitCode: 0 });
      }, 1);
      exited.then((r) => {
        clearInterval(poll);
        resolve(r);
      }, (e: unknown) => {
        clearInterval(poll);
        reject(e);
      });
    });
  }
}

const ENV = (): Record<string, string> => ({ PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' });

/**
 * Starts a process with its output captured: on libuv's handles where Node lets us (lib/uv.ts:
 * no child_process, no streams), else through node:child_process. Throws if it cannot start.
 */
function start(file: string, args: string[], input: string | Promise<string> | undefined): Started | Promise<Started> {
  const u = uv();
  const env = ENV();
  if (u) {
    try {
      return spawnUv(u, file, args, Object.entries(env).map(([k, v]) => `${k}=${v}`), input);
    } catch (e) {
      // No file to capture into (a read-only or full temp dir): the pipes of child_process then.
      if (!(e as { capture?: boolean }).capture) throw e;
    }
  }
  return startChild(file, args, env, input);
}

/** The fallback: imported when first needed, as it loads streams, net and dgram (~3.5 ms). */
async function startChild(file: string, args: string[], env: Record<string, string>, input: string | Promise<string> | undefined): Promise<Started> {
  const child = (await import('node:child_process')).spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.on('error', () => undefined); // the child may exit before reading everything
  void Promise.resolve(input ?? '').then((text) => child.stdin.end(text));
  const exited = new Promise<Exited>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), exitCode: code ?? (signal ? 128 : 1) });
    });
  });
  return {
    exited,
    leave() {
      child.removeAllListeners('close');
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
    },
  };
}

/** Sets /proc/sys/KEY if it differs; returns whether it changed (sysctls are per netns). */
function ensureSysctl(key: string, value: string): boolean {
  const path = `/proc/sys/${key.replace(/\./g, '/')}`;
  try {
    if (readProc(path).trim() === value) return false;
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}
