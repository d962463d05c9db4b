// Root or CAP_NET_ADMIN + CAP_SYS_ADMIN, read from /proc (no spawn).
import { readProc } from './procfs.js';
import { ForbiddenError } from './errors.js';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

export function hasPrivilege(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const m = /CapEff:\s*([0-9a-f]+)/.exec(readProc('/proc/self/status'));
    const eff = BigInt(`0x${m?.[1] ?? '0'}`);
    return ((eff >> CAP_NET_ADMIN) & 1n) === 1n && ((eff >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    return false;
  }
}

export function requirePrivilege(verb: string): void {
  if (!hasPrivilege()) throw new ForbiddenError(`netctl needs root (CAP_NET_ADMIN) to ${verb}`, 'run it with sudo');
}
