// `netctl exec`: run a user command inside a sandbox's netns with its /etc/netns files
// (exactly what `ip netns exec` provides), inheriting stdio; resolves to its exit status.
import { spawn } from 'node:child_process';
import { SystemError } from '../lib/errors.js';

export function execIn(netns: string, argv: string[]): Promise<number> {
  const [file, args] = netns ? ['ip', ['netns', 'exec', netns, ...argv]] : [argv[0] ?? '', argv.slice(1)];
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, args as string[], { stdio: 'inherit' });
    child.on('error', (e) => reject(new SystemError(`cannot run ${argv[0]}: ${e.message}`)));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1)));
  });
}

function signalNumber(sig: string): number | undefined {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return table[sig];
}
