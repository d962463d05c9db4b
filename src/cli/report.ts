// One-line `Error: <message>` on stderr, then an indented hint where one helps (SPEC §6).
import { NetctlError } from '../lib/errors.js';
import type { Io } from './context.js';

type Paint = (s: string) => string;
let red: Paint = (s) => s;
let dim: Paint = (s) => s;

/** Colour only when asked for by the environment and stderr is a terminal (chalk ignores NO_COLOR). */
export async function setupColor(noColorFlag: boolean, isTTY: boolean): Promise<void> {
  const env = process.env;
  const forced = env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0' && env['FORCE_COLOR'] !== 'false';
  const enabled = !noColorFlag && env['NO_COLOR'] === undefined && (forced || isTTY);
  if (!enabled) return;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  red = c.red;
  dim = c.dim;
}

export function reportError(io: Io, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  // Keep it one line whatever the source said.
  io.err(`${red('Error:')} ${msg.replace(/\s*\n\s*/g, '; ')}\n`);
  if (e instanceof NetctlError && e.hint) io.err(`${dim(`  hint: ${e.hint}`)}\n`);
}
