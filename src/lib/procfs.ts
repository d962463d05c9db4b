// Reading a /proc file. fstat gives those a size of 0, which sends fs.readFileSync down its
// unknown-size path: ~0.8 ms the first time in a process (64 KB chunks, then a concat), against
// ~0.3 ms for one read into a small buffer, and hot paths read several (the boot id, sysctls,
// /proc/net/dev while a teardown settles).
import { closeSync, openSync, readSync } from 'node:fs';

export function readProc(path: string): string {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(4096);
    let n = 0;
    for (;;) {
      const k = readSync(fd, buf, n, buf.length - n, null);
      if (k === 0) break;
      n += k;
      if (n === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
    }
    return buf.toString('latin1', 0, n);
  } finally {
    closeSync(fd);
  }
}
