// netctl's entry point, bundled to dist/src/bundle/netctl.cjs (bin/netctl answers --version
// before loading it). The command tree is imported lazily; `netctl cni` (what bin/netctl-cni
// runs) skips commander altogether: its input is the environment and stdin, not argv.
import { mark } from '../lib/trace.js';
import { closeAll } from '../lib/closers.js';

mark('bundle running');
if (process.argv[2] === 'cni' && process.argv.length === 3) {
  void import('./cni.js').then(async ({ cniIo, cniMain }) => {
    process.exitCode = await cniMain(cniIo, process.env);
  });
} else
  void import('./program.js').then(async ({ io, main, outputQueued }) => {
    const { reportError } = await import('./report.js');
    await main(process.argv)
      .then(
        (code) => {
          mark('command done');
          process.exitCode = code;
        },
        async (e: unknown) => {
          await reportError(io, e, true);
          process.exitCode = 1;
        },
      )
      .finally(closeAll);
    // The command is done and its output written: exiting here skips Node's teardown of the
    // environment (~2.5 ms). 'exit' listeners still run (NETCTL_TRACE). Output
    // handed to a stream may still be queued, and then Node's own end drains it.
    if (!outputQueued()) process.exit();
  });
