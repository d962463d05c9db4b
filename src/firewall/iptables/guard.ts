// The last line of defence for iptables-restore input, as kernel/ip.ts's line() is for
// `ip -batch`. iptables-restore splits on whitespace, honours quotes and backslashes and
// drops `#` comments, and a newline starts a new command: a stray value could reshape a rule
// or add one to a chain netctl does not own. So the model's values are checked where they
// enter, and the finished text is checked line by line before it is written.
import { SystemError } from '../../lib/errors.js';
import { parseCIDR, parseIPv4 } from '../../lib/ip.js';
import type { FwModel } from '../firewall.js';
import { JUMPS } from './rules.js';

const IFNAME = /^[a-zA-Z0-9_.-]{1,15}$/;
/** Lower-case alphanumerics: drift() finds a rule's owner by /netctl:[0-9a-z]+/. */
const ID = /^[0-9a-z]{1,64}$/;
/** A token is printable ASCII without space, quotes, backslash or `#`: nothing iptables-restore interprets. */
const token = (w: string) => /^[\x21-\x7e]+$/.test(w) && !/["'\\#]/.test(w);
/** Only netctl's own chains are declared (declaring flushes), and never with a policy. */
const DECLARE = /^:NETCTL[A-Z0-9-]* - \[0:0\]$/;

function refuse(what: string, value: unknown): never {
  throw new SystemError(`refusing unsafe ${what} for iptables-restore: ${JSON.stringify(value)}`);
}

const port = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** Every value the rule text is built from, checked before anything runs. */
export function checkModel(m: FwModel): void {
  for (const n of m.networks) {
    if (!ID.test(n.id12)) refuse('network id', n.id12);
    if (!IFNAME.test(n.bridge)) refuse('interface name', n.bridge);
    for (const s of n.subnets) if (parseCIDR(s)?.addr.family !== 4) refuse('subnet', s);
  }
  for (const p of m.ports) {
    if (!ID.test(p.id12)) refuse('container id', p.id12);
    if (!IFNAME.test(p.bridge)) refuse('interface name', p.bridge);
    if (!parseIPv4(p.containerIP)) refuse('address', p.containerIP);
    if (p.hostIP && !parseIPv4(p.hostIP)) refuse('address', p.hostIP);
    if (p.proto !== 'tcp' && p.proto !== 'udp') refuse('protocol', p.proto);
    if (!port(p.hostPort)) refuse('port', p.hostPort);
    if (!port(p.containerPort)) refuse('port', p.containerPort);
  }
}

/**
 * Returns `text` when every line is a table header, a declaration of a netctl chain, COMMIT,
 * or a rule of single-space-separated plain tokens that appends to or deletes from a netctl
 * chain, or inserts one of the fixed jumps; throws SystemError otherwise.
 */
export function checkRestore(text: string): string {
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
      if (op === '-A' || op === '-D') {
        if (!chain.startsWith('NETCTL')) bad();
      } else if (op === '-I') {
        // A built-in chain gets its one jump, nothing else.
        const jump = JUMPS[`${table} ${chain}`];
        if (!jump || rest.join(' ') !== `1 ${jump} -m comment --comment netctl:base`) bad();
      } else {
        bad();
      }
    }
  }
  return text;
}
