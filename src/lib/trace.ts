// NETCTL_TRACE=1: when the process exits, stderr gets the time since the process started at
// which each phase of the command began (docs/performance.md's breakdown of a connect comes
// from it). Off, a mark costs one comparison.
import { writeSync } from 'node:fs';

const on = process.env['NETCTL_TRACE'] === '1';
const marks: Array<[number, string]> = [];

/** process.uptime(), not performance.now(): the latter loads perf_hooks. */
export function mark(label: string): void {
  if (!on) return;
  if (marks.length === 0) {
    marks.push(...((globalThis as { __netctlShimMarks?: Array<[number, string]> }).__netctlShimMarks ?? []));
    process.once('exit', () => {
      mark('exit');
      writeSync(2, marks.map(([t, l]) => `trace: ${t.toFixed(2)} ms ${l}\n`).join(''));
    });
  }
  marks.push([process.uptime() * 1000, label]);
}
