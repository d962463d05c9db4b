// The last line of defence for iptables-restore input, as kernel/ip.ts's line() is for
// `ip -batch`. iptables-restore splits on whitespace, honours quotes and backslashes and
// drops `#` comments, and a newline starts a new command: a stray value could reshape a rule
// or add one to a chain netctl does not own. So the model's values are checked where they
// enter, and the finished text is checked line by line before it is written.
import { checkModel as checkAny, refuse as refuseFor } from '../check.js';
import type { Family, FwModel } from '../firewall.js';
import { jumps } from './rules.js';

/** A token is printable ASCII without space, quotes, backslash or `#`: nothing iptables-restore interprets. */
const token = (w: string) => /^[\x21-\x7e]+$/.test(w) && !/["'\\#]/.test(w);
/** Only netctl's own chains are declared (declaring flushes), and never with a policy. */
const DECLARE = /^:NETCTL[A-Z0-9-]* - \[0:0\]$/;

const refuse = (what: string, value: unknown): never => refuseFor(what, value, 'iptables-restore');

/** Every value the rule text of family `f` is built from, checked before anything runs. */
export const checkModel = (m: FwModel, f: Family = 4): void => checkAny(m, f, 'iptables-restore');

/**
 * Returns `text` when every line is a table header, a declaration of a netctl chain, COMMIT,
 * or a rule of single-space-separated plain tokens that appends to or deletes from a netctl
 * chain, inserts or deletes one of the fixed jumps, or deletes a netctl chain; throws SystemError otherwise.
 */
export function checkRestore(text: string, f: Family = 4): string {
  const JUMPS = jumps(f);
  const lines = text.split('\n');
  // The text ends with a newline; an empty line anywhere else is not something netctl writes.
  const last = lines.pop() ?? '';
  if (last !== '') refuse('text', last);
  let table = '';
  for (const line of lines) {
    const bad = () => refuse('text', line);
    if (line === '*filter' || line === '*nat') {
      if (table) bad();
      table = line.slice(1);
    } else if (line === 'COMMIT') {
      if (!table) bad();
      table = '';
    } else if (!table) {
      bad();
    } else if (line.startsWith(':')) {
      if (!DECLARE.test(line)) bad();
    } else {
      const words = line.split(' ');
      if (!words.every(token)) bad();
      const [op, chain = '', ...rest] = words;
      const jump = JUMPS[`${table} ${chain}`];
      if ((op === '-A' || op === '-D') && chain.startsWith('NETCTL')) {
        // netctl's own chains
      } else if (op === '-I') {
        // A built-in chain gets its one jump, nothing else.
        if (!jump || rest.join(' ') !== `1 ${jump} -m comment --comment netctl:base`) bad();
      } else if (op === '-D') {
        // ...and loses only that jump (a switch to the other backend).
        if (!jump || rest.join(' ') !== `${jump} -m comment --comment netctl:base`) bad();
      } else if (op === '-X') {
        if (!/^NETCTL[A-Z0-9-]*$/.test(chain) || rest.length) bad();
      } else {
        bad();
      }
    }
  }
  return text;
}
