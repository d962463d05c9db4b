// The one door to the kernel: every `ip`/`iptables` call goes through a Runner. Core and
// drivers receive it; only this file spawns those processes. It uses node:child_process
// directly: importing execa costs ~22 ms even bundled, more than every other module of a
// connect together, and a Runner needs only argv in, stdout/stderr/status out.
import { spawn } from 'node:child_process';
import { SystemError } from '../lib/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  input?: string;
}

export interface Runner {
  /** Runs file with args (never through a shell). Resolves on any exit code; rejects only if it cannot start. */
  run(file: string, args: string[], opts?: RunOptions): Promise<RunResult>;
}

const PACKAGES: Record<string, string> = { ip: 'iproute2', nsenter: 'util-linux' };

export const packageOf = (file: string): string => PACKAGES[file] ?? (file.startsWith('iptables') ? 'iptables' : file);

export class ProcessRunner implements Runner {
  /** Counts the processes spawned (tests hold the per-command budget with it). */
  spawned = 0;

  constructor(private readonly debug?: (line: string) => void) {}

  run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const t0 = performance.now();
    this.spawned++;
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
        this.debug?.(`${file} ${args.join(' ')}${opts.input ? ` <<< ${JSON.stringify(opts.input)}` : ''} -> exit ${r.exitCode} (${(performance.now() - t0).toFixed(1)} ms)`);
        resolve(r);
      });
      child.stdin.on('error', () => undefined); // the child may exit before reading everything
      child.stdin.end(opts.input ?? '');
    });
  }
}
