// netctl's entry point (bin/netctl imports it): run the program, set the exit code.
import { io, main } from './program.js';
import { reportError } from './report.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => { reportError(io, e); process.exitCode = 1; },
);
