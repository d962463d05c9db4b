// netctl's resolver process (docs/reference.md §14): one per state root, in the network
// namespace of the host it serves. Started by a command about to leave an endpoint on a network
// with a resolver (dns/control.ts); exits when a command's view has no network left, or when
// the state root is gone. What it serves is the view commands derive from the store under its
// lock; it never reads or writes the store itself. Bundled apart as
// dist/src/bundle/resolver.cjs, with neither the store nor the drivers: it starts fast.
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { controlPath, pidPath, servedPath, type Request, type ResolverStatus, type Served } from './protocol.js';
import { DnsServer } from './server.js';
import { HostUpstreams } from './upstream.js';
import { Learner } from './learn.js';
import { ProcessRunner } from '../kernel/runner.js';

const root = process.argv[process.argv.indexOf('--root') + 1] ?? '';
const log = (m: string) => process.stderr.write(`${new Date().toISOString()} resolver ${process.pid}: ${m}\n`);

const upstreams = new HostUpstreams();
const dns = new DnsServer(upstreams, (m) => log(m));
dns.learner = new Learner(new ProcessRunner(), log);
// A fault in one query's handling is logged, never the end of names for every network here.
process.on('unhandledRejection', (e) => log(`unexpected: ${(e as Error)?.message ?? String(e)}`));
let digest = '';
/** The store generation of the view served (-1: none yet). */
let gen = -1;
let control: Server | undefined;
/** How long a resolver started before there is anything to serve waits for its first sync. */
const LINGER_MS = 5000;
/** A request line longer than this is not a command's (a view of 10,000 names is ~1.3 MB). */
const MAX_REQUEST = 64 << 20;

/** Serves what `change` sets (a view or a patch) from now on; false when there is nothing left to serve. */
async function serve(change: () => Promise<void>, viewGen: number): Promise<boolean> {
  const before = servedNames();
  await change();
  const now = servedNames();
  if (now !== before) log(`serves ${now || 'nothing'}`);
  digest = dns.digest;
  gen = viewGen;
  for (const [addr, why] of dns.errors) log(`${addr}: ${why}`);
  writeServed();
  return dns.serving > 0;
}

const servedNames = (): string =>
  dns
    .stats()
    .map((n) => n.name)
    .join(', ');

/** resolver.served, replaced whole (a reader never sees half of it). */
function writeServed(): void {
  const served: Served = { pid: process.pid, networks: dns.stats().map(({ id, error }) => ({ id, error })) };
  const file = servedPath(root);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(served), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch (e) {
    log(`cannot write ${file}: ${(e as Error).message}`);
  }
}

const status = (): ResolverStatus => ({ pid: process.pid, digest, gen, networks: dns.stats() });

/** Requests one at a time, in the order they came (the order of the commands' commits). */
let queue: Promise<unknown> = Promise.resolve();

function handle(req: Request): Promise<ResolverStatus> {
  const next = queue.then(async (): Promise<ResolverStatus> => {
    switch (req.op) {
      case 'status':
        return status();
      case 'release':
        if (dns.serving) return status();
        stop('the command that started it failed');
        return { ...status(), pid: 0 };
      case 'patch':
        if (req.since !== gen) return { ...status(), stale: true };
        if (await serve(() => dns.patch(req), req.gen)) return status();
        stop('no endpoint left on a network with a resolver');
        return { ...status(), pid: 0 };
      case 'sync':
        // The same view again is applied again while an address could not be opened: it may be free now.
        if (req.gen === gen && req.gen >= 0 && dns.errors.size === 0) return status();
        if (await serve(() => dns.apply(req.view), req.gen)) return status();
        stop('no endpoint left on a network with a resolver');
        return { ...status(), pid: 0 };
    }
  });
  queue = next.catch(() => undefined);
  return next;
}

function stop(why: string): void {
  log(`exits: ${why}`);
  control?.close();
  dns.close();
  try {
    if (readFileSync(pidPath(root), 'utf8').trim() === String(process.pid)) {
      rmSync(pidPath(root), { force: true });
      rmSync(servedPath(root), { force: true });
    }
  } catch {
    // not ours, or gone with the root
  }
  setImmediate(() => process.exit(0));
}

/** One request line on a control connection; a line that is not one closes it. */
function onControl(c: import('node:net').Socket): void {
  // Chunks kept as they come and joined once: a view is megabytes, and a growing string
  // searched at every chunk would copy it again and again (memory the resolver then keeps).
  const chunks: Buffer[] = [];
  let size = 0;
  c.on('error', () => undefined);
  c.on('data', (d: Buffer) => {
    chunks.push(d);
    size += d.length;
    const nl = d.indexOf(10);
    if (nl < 0) {
      if (size > MAX_REQUEST) c.destroy();
      return;
    }
    c.removeAllListeners('data');
    const line = Buffer.concat(chunks, size - d.length + nl).toString();
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      log('a control request that is not JSON: ignored');
      c.destroy();
      return;
    }
    handle(req).then(
      (st) => c.end(JSON.stringify(st) + '\n'),
      (e: Error) => {
        log(`${req.op} failed: ${e.message}`);
        c.destroy();
      },
    );
  });
}

/** Whether a resolver answers on the control socket (a stale socket file has nobody behind it). */
const alive = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection({ path });
    c.on('connect', () => (c.destroy(), resolve(true)));
    c.on('error', () => resolve(false));
  });

/** Takes the control socket; false while another resolver of this root answers on it. */
async function listen(): Promise<boolean> {
  const path = controlPath(root);
  for (let tries = 0; tries < 2; tries++) {
    const srv = createServer(onControl);
    const taken = await new Promise<boolean | Error>((resolve) => {
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE' ? false : e));
      srv.listen({ path, exclusive: true }, () => resolve(true));
    });
    if (taken instanceof Error) throw taken;
    if (taken) {
      control = srv;
      writeFileSync(pidPath(root), `${process.pid}\n`, { mode: 0o600 });
      return true;
    }
    if (await alive(path)) return false;
    rmSync(path, { force: true }); // left by a resolver that died
  }
  return false;
}

async function main(): Promise<void> {
  if (!root || !existsSync(root)) throw new Error(`no state root ${root}`);
  if (!(await listen())) return; // another resolver of this root answers: it serves it
  // The command that started us sends what to serve once it commits; none by then: it failed or died.
  setTimeout(() => {
    if (!dns.serving) stop('nothing to serve');
  }, LINGER_MS).unref();
  // Ready: the command that started us may return.
  const ready = createWriteStream('', { fd: 3 });
  ready.on('error', () => undefined);
  ready.end(`${process.pid}\n`);
  // A state root removed (a test's, a host torn down) leaves nobody to stop us.
  setInterval(() => {
    if (!existsSync(root)) stop(`state root ${root} is gone`);
  }, 2000).unref();
}

main().catch((e: Error) => {
  log(`failed: ${e.message}`);
  process.exit(1);
});
