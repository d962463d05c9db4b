// `netctl exec`: run a user command inside a sandbox's netns with its /etc/netns files
// (exactly what `ip netns exec` provides), with the terminal, signals and exit status passed
// through. execa does the child handling here; it is loaded only for this command.
import { SystemError } from '../lib/errors.js';

export async function execIn(netns: string, argv: string[]): Promise<number> {
  const { execa } = await import('execa');
  const [file, args] = netns ? ['ip', ['netns', 'exec', netns, ...argv]] : [argv[0] ?? '', argv.slice(1)];
  const r = await execa(file, args, { stdio: 'inherit', reject: false });
  if (r.failed && r.exitCode === undefined && !r.signal)
    throw new SystemError(`cannot run ${argv[0]}: ${r.shortMessage}`);
  return r.exitCode ?? 128 + (r.signal ? signalNumber(r.signal) : 1);
}

function signalNumber(sig: string): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };
  return table[sig] ?? 1;
}
