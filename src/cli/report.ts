// One-line `Error: <message>` on stderr, then an indented hint where one helps (docs/reference.md §6).
// Whether to colour is decided at the first error, so commands that succeed load neither chalk
// nor node:tty.
import { NetctlError } from '../lib/errors.js';
import type { Io } from './io.js';

type Paint = (s: string) => string;
interface Paints {
  red: Paint;
  dim: Paint;
}
let paints: Promise<Paints> | undefined;

/** Colour only when asked for by the environment and stderr is a terminal (chalk ignores NO_COLOR). */
async function decide(): Promise<Paints> {
  const plain: Paints = { red: (s) => s, dim: (s) => s };
  const env = process.env;
  const forced = env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0' && env['FORCE_COLOR'] !== 'false';
  if (process.argv.includes('--no-color') || env['NO_COLOR'] !== undefined) return plain;
  if (!forced && !(await import('node:tty')).isatty(2)) return plain;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return { red: c.red, dim: c.dim };
}

/**
 * `crash`: e reached the top of a command. One that is not a NetctlError is a defect, and its
 * stack (in src/*.ts lines) follows the message.
 */
export async function reportError(io: Io, e: unknown, crash = false): Promise<void> {
  const { red, dim } = await (paints ??= decide());
  const msg = e instanceof Error ? e.message : String(e);
  // Keep it one line whatever the source said.
  io.err(`${red('Error:')} ${msg.replace(/\s*\n\s*/g, '; ')}\n`);
  if (e instanceof NetctlError && e.hint) io.err(`${dim(`  hint: ${e.hint}`)}\n`);
  else if (crash && !(e instanceof NetctlError) && e instanceof Error && e.stack) {
    const { sourceFrames } = await import('../lib/stack.js');
    io.err(
      sourceFrames(e.stack)
        .slice(0, 12)
        .map((l) => dim(`    ${l}`) + '\n')
        .join(''),
    );
  }
}
