// The one door to the kernel: every `ip`/`iptables` call goes through a Runner. Core and
// drivers receive it; only this file spawns those processes. It uses node:child_process
// directly: importing execa costs ~22 ms even bundled, more than every other module of a
// connect together, and a Runner needs only argv in, stdout/stderr/status out.
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { SystemError } from '../lib/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  input?: string;
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
}

const PACKAGES: Record<string, string> = { ip: 'iproute2', nsenter: 'util-linux' };

export const packageOf = (file: string): string => PACKAGES[file] ?? (file.startsWith('iptables') ? 'iptables' : file);

/**
 * `ip netns exec H netctl ...` runs netctl in a private *slave* mount namespace: a netns it
 * made would be bound under /run/netns only there and vanish with the process. When that is the
 * case, `ip` runs in the mount namespace of the parent (where the caller lives), from which the
 * binding propagates back to us. Returns the nsenter prefix, or [] (the usual case: two readlinks).
 */
export function mountNsPrefix(): string[] {
  try {
    const mine = readlinkSync('/proc/self/ns/mnt');
    const parent = `/proc/${process.ppid}/ns/mnt`;
    if (readlinkSync(parent) === mine) return [];
    const netnsMount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/run/netns').pop();
    return netnsMount && / master:\d+/.test(netnsMount) ? ['nsenter', `--mount=${parent}`, '--'] : [];
  } catch {
    return [];
  }
}

export class ProcessRunner implements Runner {
  /** Counts the processes spawned (tests hold the per-command budget with it). */
  spawned = 0;
  private readonly ipPrefix = mountNsPrefix();

  constructor(private readonly debug?: (line: string) => void) {}

  run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (file === 'ip' && this.ipPrefix.length) return this.spawnRun(this.ipPrefix[0] ?? '', [...this.ipPrefix.slice(1), file, ...args], opts);
    return this.spawnRun(file, args, opts);
  }

  private spawnRun(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
    const t0 = this.debug ? process.hrtime.bigint() : 0n; // not performance.now(): it loads perf_hooks
    this.spawned++;
    const report = (outcome: string) => this.debug?.(`${file} ${args.join(' ')}${opts.input ? ` <<< ${JSON.stringify(opts.input)}` : ''} -> ${outcome} (${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e: NodeJS.ErrnoException) => {
        reject(e.code === 'ENOENT'
          ? new SystemError(`${file} not found`, `install it: apt-get install ${packageOf(file)}`)
          : new SystemError(`cannot run ${file}: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        const r = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), exitCode: code ?? (signal ? 128 : 1) };
        report(`exit ${r.exitCode}`);
        resolve(r);
      });
      child.stdin.on('error', () => undefined); // the child may exit before reading everything
      child.stdin.end(opts.input ?? '');
      const { settled } = opts;
      if (!settled) return;
      const poll = setInterval(() => {
        if (!settled()) return;
        clearInterval(poll);
        report('done, exit not awaited');
        child.removeAllListeners('close');
        child.stdin.destroy();
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        resolve({ stdout: '', stderr: '', exitCode: 0 });
      }, 1);
      child.once('close', () => clearInterval(poll));
    });
  }
}
