// Test-only fault injection (documented in the README): NETCTL_FAULT=fail:K makes the K-th
// kernel call of the command fail as if the tool had failed; NETCTL_FAULT=kill:K kills the
// process with SIGKILL just before the K-th call, as a crash or an OOM kill would. K counts
// every Runner call from 1. Tests use it to prove rollback and the journal at every step.
import type { RunOptions, RunResult, Runner } from './runner.js';

export function parseFault(spec: string | undefined): { mode: 'fail' | 'kill'; at: number } | null {
  const m = /^(fail|kill):(\d+)$/.exec(spec ?? '');
  return m ? { mode: m[1] as 'fail' | 'kill', at: Number(m[2]) } : null;
}

export class FaultRunner implements Runner {
  private calls = 0;

  constructor(
    private readonly inner: Runner,
    private readonly fault: { mode: 'fail' | 'kill'; at: number },
  ) {}

  serve(file: string, args: string[], log: string): Promise<boolean> {
    return this.inner.serve?.(file, args, log) ?? Promise.resolve(false);
  }

  async run(file: string, args: string[], opts?: RunOptions): Promise<RunResult> {
    // A process started early is spawned now, as without a fault, and acts when its input
    // comes: that is when it counts as a call (one cancelled, with empty input, never acts).
    // A fault there withholds the input, so a kill leaves the real process waiting on stdin.
    if (opts?.input instanceof Promise) {
      let give: (text: string) => void = () => undefined;
      const running = this.inner.run(file, args, {
        ...opts,
        input: new Promise<string>((r) => {
          give = r;
        }),
      });
      const input = await opts.input;
      if (input === '' || ++this.calls !== this.fault.at) {
        give(input);
        return running;
      }
      if (this.fault.mode === 'kill') process.kill(process.pid, 'SIGKILL');
      give('');
      await running;
      return {
        stdout: '',
        stderr: `RTNETLINK answers: injected failure (NETCTL_FAULT at call ${this.calls})`,
        exitCode: 1,
      };
    }
    if (++this.calls === this.fault.at) {
      if (this.fault.mode === 'kill') process.kill(process.pid, 'SIGKILL');
      return {
        stdout: '',
        stderr: `RTNETLINK answers: injected failure (NETCTL_FAULT at call ${this.calls})`,
        exitCode: 1,
      };
    }
    return this.inner.run(file, args, opts);
  }

  sysctl(key: string, value: string): Promise<boolean> {
    return this.inner.sysctl(key, value);
  }
}
