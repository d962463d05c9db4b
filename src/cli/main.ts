// netctl's entry point, bundled to dist/src/bundle/netctl.cjs (bin/netctl answers --version
// before loading it). The command tree is imported lazily.
import { mark } from '../lib/trace.js';

mark('bundle running');
void import('./program.js').then(async ({ io, main }) => {
  const { reportError } = await import('./report.js');
  await main(process.argv).then(
    (code) => { mark('command done'); process.exitCode = code; },
    async (e: unknown) => { await reportError(io, e); process.exitCode = 1; },
  );
});
