// Processes and the lock's socket on the libuv handles Node's own child_process and net are
// built on (process_wrap, pipe_wrap, stream_wrap). Loading those two modules costs a mutating
// command ~5 ms (streams, net, dgram, and cluster on the first listen), and every spawn through
// them another ~1 ms of stream objects: together more than the kernel work of a connect. The
// bindings are reached through process.binding, documented as deprecated (DEP0111) but kept for
// exactly these modules; when it is missing or the handles do not look as expected, `uv()` is
// null and the callers use the public modules instead. NETCTL_NO_UV=1 forces that path.
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';

interface Handle {
  close(cb?: () => void): void;
  unref(): void;
}
interface ProcessHandle extends Handle {
  onexit: (status: number, signal: string) => void;
  spawn(options: object): number;
}
interface PipeHandle extends Handle {
  bind(name: string): number;
  listen(backlog: number): number;
  onconnection: ((status: number, client?: PipeHandle) => void) | null;
  writeUtf8String(req: WriteReq, text: string): number;
}
interface WriteReq {
  handle: PipeHandle;
  oncomplete: () => void;
}

export interface Uv {
  Process: new () => ProcessHandle;
  Pipe: new (type: number) => PipeHandle;
  WriteWrap: new () => WriteReq;
  SOCKET: number;
  SERVER: number;
  /** Whether the last write was queued (the rest goes out later, then `oncomplete`). */
  lastWriteWasAsync(): boolean;
}

let cached: Uv | null | undefined;

/**
 * Node's internal binding `name` through process.binding, or null (missing, refused, or
 * NETCTL_NO_UV=1). Never a warning, even where a Node version (or --pending-deprecation)
 * would print one.
 */
export function binding(name: string): Record<string, unknown> | null {
  const get = (process as { binding?: (name: string) => Record<string, unknown> }).binding;
  if (process.env['NETCTL_NO_UV'] === '1' || typeof get !== 'function') return null;
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    return get(name);
  } catch {
    return null;
  } finally {
    process.noDeprecation = quiet;
  }
}

export function uv(): Uv | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const { Process } = (binding('process_wrap') ?? {}) as { Process?: unknown };
    const { Pipe, constants } = (binding('pipe_wrap') ?? {}) as { Pipe?: unknown; constants?: { SOCKET?: unknown; SERVER?: unknown } };
    const { WriteWrap, streamBaseState: state, kLastWriteWasAsync: k } = (binding('stream_wrap') ?? {}) as { WriteWrap?: unknown; streamBaseState?: ArrayLike<number>; kLastWriteWasAsync?: unknown };
    const fn = (f: unknown, ...methods: string[]) =>
      typeof f === 'function' && methods.every((m) => typeof (f as { prototype: Record<string, unknown> }).prototype[m] === 'function');
    if (!fn(Process, 'spawn', 'close', 'unref') || !fn(Pipe, 'bind', 'listen', 'writeUtf8String', 'close', 'unref') || !fn(WriteWrap)) return null;
    if (typeof constants?.SOCKET !== 'number' || typeof constants.SERVER !== 'number' || typeof k !== 'number' || typeof state?.[k] !== 'number') return null;
    cached = {
      Process: Process as Uv['Process'], Pipe: Pipe as Uv['Pipe'], WriteWrap: WriteWrap as Uv['WriteWrap'],
      SOCKET: constants.SOCKET, SERVER: constants.SERVER, lastWriteWasAsync: () => state[k] !== 0,
    };
  } catch {
    cached = null;
  }
  return cached;
}

/** A libuv error code as an Error with Node's `code` ('ENOENT', 'EADDRINUSE'). */
function uvError(what: string, errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno });
}

export interface Exited {
  stdout: string;
  stderr: string;
  /** The exit status; 128 when a signal ended the process. */
  exitCode: number;
}

export interface Started {
  exited: Promise<Exited>;
  /** Stops waiting: the process finishes on its own and its output is dropped. */
  leave(): void;
}

let seq = 0;

/** os.tmpdir()'s rule, without loading node:os (~0.5 ms on every spawning command). */
export function tmpDir(): string {
  const env = process.env;
  const dir = env['TMPDIR'] || env['TMP'] || env['TEMP'] || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** An unlinked file for a child's stdout or stderr: read once the child exits, no stream or event per chunk. */
function captureFile(): number {
  const path = `${tmpDir()}/netctl-${process.pid}-${seq++}`;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'wx+', 0o600); // never through a file or link someone else put there
    unlinkSync(path);
    return fd;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw Object.assign(e as Error, { capture: true });
  }
}

function readAll(fd: number): string {
  const size = fstatSync(fd).size;
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const n = readSync(fd, buf, at, size - at, at);
    if (n === 0) break;
    at += n;
  }
  return buf.toString('utf8', 0, at);
}

/**
 * Spawns file (PATH-searched with env's PATH) with stdout and stderr captured. `input` goes to
 * stdin and then end-of-file; a promise lets the process start and wait on stdin before its
 * input is known. Throws at once (code 'ENOENT', ...) when the program cannot be run, and
 * with `capture: true` when there is no temporary file to capture into.
 */
export function spawnUv(u: Uv, file: string, args: string[], env: string[], input: string | Promise<string> | undefined): Started {
  const out = captureFile();
  let err: number;
  try {
    err = captureFile();
  } catch (e) {
    closeSync(out);
    throw e;
  }
  const stdin = input === undefined || input === '' ? null : new u.Pipe(u.SOCKET);
  const proc = new u.Process();
  let left = false;
  const closeFiles = () => {
    closeSync(out);
    closeSync(err);
  };
  const exited = new Promise<Exited>((resolve) => {
    proc.onexit = (status, signal) => {
      proc.close();
      if (left) return;
      const r = { stdout: readAll(out), stderr: readAll(err), exitCode: signal ? 128 : status };
      closeFiles();
      resolve(r);
    };
  });
  const rc = proc.spawn({
    file, args: [file, ...args], envPairs: env,
    stdio: [stdin ? { type: 'pipe', handle: stdin } : { type: 'ignore' }, { type: 'fd', fd: out }, { type: 'fd', fd: err }],
    detached: false, windowsHide: false, windowsVerbatimArguments: false,
  });
  if (rc !== 0) {
    proc.close();
    stdin?.close();
    closeFiles();
    throw uvError(`spawn ${file}`, rc);
  }
  if (stdin) void Promise.resolve(input ?? '').then((text) => write(u, stdin, text));
  return {
    exited,
    leave() {
      if (left) return;
      left = true;
      proc.unref();
      closeFiles(); // the child writes to its own copies
    },
  };
}

/** Writes text (may be none) and then closes the pipe: the reader sees end-of-file. */
function write(u: Uv, pipe: PipeHandle, text: string): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    pipe.close();
  };
  if (!text) return close();
  const req = new u.WriteWrap();
  req.handle = pipe;
  req.oncomplete = close;
  // An error (the reader is gone: EPIPE) or all of it written at once: nothing more will come.
  if (pipe.writeUtf8String(req, text) !== 0 || !u.lastWriteWasAsync()) close();
}

/**
 * Binds a unix socket name exclusively (an abstract name, '\0…', vanishes with the process);
 * null if another socket has it. A connection to it is answered with this process's pid.
 * The handle never keeps the process alive; `release` frees the name.
 */
export function bindExclusive(u: Uv, name: string): (() => Promise<void>) | null {
  const srv = new u.Pipe(u.SERVER);
  const rc = srv.bind(name);
  if (rc !== 0) {
    srv.close();
    const e = uvError(`bind ${JSON.stringify(name)}`, rc);
    if (e.code === 'EADDRINUSE') return null;
    throw e;
  }
  srv.onconnection = (status, client) => {
    if (status === 0 && client) write(u, client, String(process.pid));
  };
  const lrc = srv.listen(16);
  if (lrc !== 0) {
    srv.close();
    throw uvError(`listen on ${JSON.stringify(name)}`, lrc);
  }
  srv.unref();
  return () => new Promise<void>((r) => srv.close(() => r()));
}
