// netctl's resolver process (docs/reference.md §14): one per state root, in the network
// namespace of the host it serves. Started by a command about to leave an endpoint on a network
// with a resolver (dns/control.ts); exits when a command's view has no network left, or when
// the state root is gone. What it serves is the view commands derive from the store under its
// lock; it never reads or writes the store itself. Bundled apart as
// dist/src/bundle/resolver.cjs, with neither the store nor the drivers: it starts fast.
import { createWriteStream, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { controlName, type DnsView, type Request, type ResolverStatus } from './protocol.js';
import { DnsServer } from './server.js';
import { HostUpstreams } from './upstream.js';

const root = process.argv[process.argv.indexOf('--root') + 1] ?? '';
const log = (m: string) => process.stderr.write(`${new Date().toISOString()} resolver ${process.pid}: ${m}\n`);

const upstreams = new HostUpstreams();
const dns = new DnsServer(() => upstreams.servers());
let digest = '';
let control: Server | undefined;
/** How long a resolver started before there is anything to serve waits for its first sync. */
const LINGER_MS = 5000;

/** Serves `view` from now on; false when there is nothing left to serve. */
async function serve(view: DnsView, viewDigest: string): Promise<boolean> {
  await dns.apply(view);
  digest = viewDigest;
  for (const [addr, why] of dns.errors) log(`${addr}: ${why}`);
  return view.networks.length > 0;
}

const status = (): ResolverStatus => ({ pid: process.pid, digest, networks: dns.stats() });

/** Requests one at a time, in the order they came (the order of the commands' commits). */
let queue: Promise<unknown> = Promise.resolve();

function handle(req: Request): Promise<ResolverStatus> {
  const next = queue.then(async () => {
    if (req.op === 'status') return status();
    if (req.digest !== digest) log(`serves ${req.view.networks.map((n) => n.name).join(', ') || 'nothing'}`);
    if (req.digest !== digest && !(await serve(req.view, req.digest))) {
      stop('no endpoint left on a network with a resolver');
      return { ...status(), pid: 0 };
    }
    return status();
  });
  queue = next.catch(() => undefined);
  return next;
}

function stop(why: string): void {
  log(`exits: ${why}`);
  control?.close();
  dns.close();
  setImmediate(() => process.exit(0));
}

/** Takes the control socket; false while another resolver of this root holds it. */
function listen(): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer((c) => {
      let buf = '';
      c.on('error', () => undefined);
      c.on('data', (d) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        handle(JSON.parse(buf.slice(0, nl)) as Request).then(
          (st) => c.end(JSON.stringify(st) + '\n'),
          (e: Error) => {
            log(`sync failed: ${e.message}`);
            c.destroy();
          },
        );
      });
    });
    srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(false) : reject(e)));
    srv.listen({ path: controlName(root), exclusive: true }, () => {
      control = srv;
      resolve(true);
    });
  });
}

async function main(): Promise<void> {
  if (!root || !existsSync(join(root, 'store.json'))) throw new Error(`no store under --root ${root}`);
  if (!(await listen())) return; // another command's resolver won the race: it serves this root
  // The command that started us sends what to serve once it commits; none by then: it failed or died.
  setTimeout(() => {
    if (!dns.view.networks.length) stop('nothing to serve');
  }, LINGER_MS).unref();
  // Ready: the command that started us may return.
  const ready = createWriteStream('', { fd: 3 });
  ready.on('error', () => undefined);
  ready.end(`${process.pid}\n`);
  // A state root removed (a test's, a host torn down) leaves nobody to stop us.
  setInterval(() => {
    if (!existsSync(join(root, 'store.json'))) stop(`state root ${root} is gone`);
  }, 2000).unref();
}

main().catch((e: Error) => {
  log(`failed: ${e.message}`);
  process.exit(1);
});
