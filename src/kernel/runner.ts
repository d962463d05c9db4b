// The one door to the kernel: every `ip`/`iptables`/`nsenter` call goes through a Runner.
// Core and drivers receive it; only this file spawns processes (execa, loaded lazily because
// importing it costs more than Node's whole start-up).
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

const PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  iptables: 'iptables',
  'iptables-restore': 'iptables',
  'iptables-save': 'iptables',
  nsenter: 'util-linux',
};

export class ExecaRunner implements Runner {
  constructor(private readonly debug?: (line: string) => void) {}

  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const { execa } = await import('execa');
    const t0 = performance.now();
    const r = await execa(file, args, {
      input: opts.input,
      reject: false,
      stripFinalNewline: false,
      env: { LC_ALL: 'C' },
    });
    if (r.failed && r.exitCode === undefined) {
      const code = (r as unknown as { code?: string }).code;
      if (code === 'ENOENT') {
        throw new SystemError(`${file} not found`, `install it: apt-get install ${PACKAGES[file] ?? (file.startsWith('iptables') ? 'iptables' : file)}`);
      }
      throw new SystemError(`cannot run ${file}: ${r.shortMessage ?? r.message}`);
    }
    this.debug?.(`${file} ${args.join(' ')}${opts.input ? ` <<< ${JSON.stringify(opts.input)}` : ''} -> exit ${r.exitCode} (${(performance.now() - t0).toFixed(1)} ms)`);
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 1 };
  }
}
