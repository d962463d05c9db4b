// netctl's entry point, bundled to dist/src/bundle/netctl.cjs (bin/netctl answers --version
// before loading it). The command tree is imported lazily.
void import('./program.js').then(async ({ io, main }) => {
  const { reportError } = await import('./report.js');
  await main(process.argv).then(
    (code) => { process.exitCode = code; },
    async (e: unknown) => { await reportError(io, e); process.exitCode = 1; },
  );
});
