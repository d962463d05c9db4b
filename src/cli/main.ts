// netctl's entry point (bin/netctl loads it). `--version` is answered before commander and
// the command tree load: it is the floor every script pays.
import { version } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`netctl version ${version()}\n`);
} else {
  void import('./program.js').then(async ({ io, main }) => {
    const { reportError } = await import('./report.js');
    await main(process.argv).then(
      (code) => { process.exitCode = code; },
      (e: unknown) => { reportError(io, e); process.exitCode = 1; },
    );
  });
}
