// sysctls through /proc (per network namespace, no spawn).
import { readFileSync, writeFileSync } from 'node:fs';

/** Sets a sysctl if it differs; returns whether it changed. */
export function ensureSysctl(key: string, value: string): boolean {
  const path = `/proc/sys/${key.replace(/\./g, '/')}`;
  try {
    if (readFileSync(path, 'utf8').trim() === value) return false;
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}
