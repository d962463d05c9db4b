// Random bytes from the kernel's CSPRNG. node:crypto would serve as well, but it loads ~20
// internal modules at start-up (~3 ms) for what is three syscalls here.
import { closeSync, openSync, readSync } from 'node:fs';

export function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let off = 0; off < n;) off += readSync(fd, buf, off, n - off, null);
  } finally {
    closeSync(fd);
  }
  return buf;
}
