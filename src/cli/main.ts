// netctl's entry point, bundled to dist/src/bundle/netctl.cjs. The command tree is imported
// lazily; a command marked `bare` in the registry (the CNI plugin: its input is the
// environment and stdin, not argv) runs without commander when named alone.
import { closeAll } from '../lib/closers.js';
import { mark } from '../lib/trace.js';
import { bareCommand } from './commands/index.js';
import { io } from './io.js';

mark('bundle running');
void (async () => {
  const bare = bareCommand(process.argv.slice(2));
  const run = bare?.load
    ? bare.load().then((m) => m.default.run({ root: '', debug: false }, io, [], {}))
    : import('./program.js').then(({ main }) => main(process.argv));
  const { reportError } = await import('./report.js');
  await run
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
})();
