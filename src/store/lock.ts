// Host-wide lock for one state root, released by the kernel when the holder dies.
//
// Node has no flock(2). An abstract unix socket gives the same guarantee without a helper
// process or a native addon: bind() is exclusive and the name vanishes with the last fd.
// The name is derived from the root's device and inode, so two paths to one root share it.
// Abstract sockets are scoped to the network namespace — the same scope as the bridges and
// rules the lock protects.
import { statSync } from 'node:fs';
import { SystemError } from '../lib/errors.js';

/** The lock stayed busy past the timeout: the command may be tried again (CNI's code 11). */
export class LockTimeoutError extends SystemError {}

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** Called once if the lock is still busy after a second. */
  onWait?: (holderPid: string) => void;
}

export type Release = () => Promise<void>;

export function lockName(root: string): string {
  const st = statSync(root);
  return `\0netctl-lock:${st.dev}:${st.ino}`;
}

/** Binds the name exclusively, or null when another process holds it; a connection is told our pid. */
function tryBind(name: string): Promise<Release | null> {
  return import('node:net').then(
    (net) =>
      new Promise((resolve, reject) => {
        // A waiter that asks who holds the lock may be gone before the answer (EPIPE): never the holder's end.
        const srv = net.createServer((sock) => {
          sock.on('error', () => undefined);
          sock.end(String(process.pid));
        });
        srv.once('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EADDRINUSE') resolve(null);
          else reject(err);
        });
        srv.listen({ path: name, exclusive: true }, () => {
          srv.unref(); // the lock must never keep the process alive
          resolve(() => new Promise<void>((r) => srv.close(() => r())));
        });
      }),
  );
}

/** Only after a second of waiting: node:net is loaded then. */
async function askHolder(name: string): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    let buf = '';
    const c = net.createConnection({ path: name });
    const done = () => resolve(buf.trim() || 'unknown');
    c.setTimeout(500, () => c.destroy());
    c.on('data', (d) => (buf += d.toString()));
    c.on('close', done);
    c.on('error', () => undefined);
  });
}

export async function acquireLock(root: string, opts: LockOptions = {}): Promise<Release> {
  const name = lockName(root);
  const timeout = opts.timeoutMs ?? 60_000;
  const start = Date.now();
  let warned = false;
  let delay = 5;
  for (;;) {
    const release = await tryBind(name);
    if (release) return release;
    const waited = Date.now() - start;
    if (!warned && waited >= 1000 && opts.onWait) {
      warned = true;
      opts.onWait(await askHolder(name));
    }
    if (waited > timeout) {
      throw new LockTimeoutError(
        `timed out after ${Math.round(timeout / 1000)}s waiting for the netctl lock on ${root} (held by pid ` +
          `${await askHolder(name)})`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}
