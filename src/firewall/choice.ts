// Which firewall backend a host uses (docs/reference.md §11), apart from the backends
// themselves: read-only commands name it without loading them.
import { statSync } from 'node:fs';
import { InvalidArgumentError } from '../lib/errors.js';

export type BackendName = 'iptables' | 'nftables';
export const BACKENDS: readonly BackendName[] = ['iptables', 'nftables'];

/** Checks a configured backend name; `where` names its source for the message. */
export function parseBackend(v: unknown, where: string): BackendName {
  if (v === 'iptables' || v === 'nftables') return v;
  throw new InvalidArgumentError(`invalid firewall backend ${JSON.stringify(v)} in ${where}: iptables or nftables`);
}

/** An executable file `cmd` in a PATH directory. stat, not access: a miss makes no exception (~0.3 ms each, cold). */
function onPath(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const st = dir ? statSync(`${dir}/${cmd}`, { throwIfNoEntry: false }) : undefined;
    if (st?.isFile() && (st.mode & 0o111) !== 0) return true;
  }
  return false;
}

export const defaultBackend = (): BackendName => (onPath('iptables') ? 'iptables' : 'nftables');
