// netctl's stdout and stderr, written straight to their file descriptors.
import { writeSync } from 'node:fs';

/** Where a command writes: stdout and stderr, or what a test or the quick path holds. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
}

/**
 * Writes straight to the file descriptor: touching process.stdout builds a stream (tty or net
 * and their internals, ~3 ms of start-up) for output that is a few lines. A non-blocking
 * descriptor that is full (EAGAIN) hands the rest, and all later output, to the stream; a closed
 * reader (EPIPE, `netctl ls | head -1`) ends the output quietly, as Docker's does.
 */
export function fdWriter(fd: 1 | 2, stream: () => NodeJS.WritableStream): (s: string) => void {
  let mode: 'fd' | 'stream' | 'closed' = 'fd';
  return (s) => {
    if (mode === 'closed') return;
    if (mode === 'stream') {
      stream().write(s);
      return;
    }
    const buf = Buffer.from(s);
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        mode = 'closed';
        return;
      }
      if (code !== 'EAGAIN') throw e;
      mode = 'stream';
      stream().write(buf.subarray(off));
    }
  };
}

export const io: Io = {
  out: fdWriter(1, () => process.stdout),
  err: fdWriter(2, () => process.stderr),
};
