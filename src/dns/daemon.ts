// netctl's resolver process (docs/reference.md §14): one per state root, in the network
// namespace of the host it serves. Started by the first command that leaves an endpoint on a
// network with a resolver (dns/control.ts); exits when the store shows none, or when the state
// root is gone. Its state is the store's, read at every sync; it never writes the store.
// Bundled apart as dist/src/bundle/resolver.cjs: no command loads the DNS message library.
import { createWriteStream, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { FileStore } from '../store/file.js';
import { controlName, type Request, type ResolverStatus } from './control.js';
import { DnsServer } from './server.js';
import { HostUpstreams } from './upstream.js';
import { dnsView, viewDigest } from './view.js';

const root = process.argv[process.argv.indexOf('--root') + 1] ?? '';
const log = (m: string) => process.stderr.write(`${new Date().toISOString()} resolver ${process.pid}: ${m}\n`);

const upstreams = new HostUpstreams();
const dns = new DnsServer(() => upstreams.servers());
let digest = '';
let control: Server | undefined;

/** The store as it is now, served; false when there is nothing left to serve. */
async function reload(): Promise<boolean> {
  const view = await new FileStore(root).view(dnsView);
  await dns.apply(view);
  digest = viewDigest(view);
  for (const [addr, why] of dns.errors) log(`${addr}: ${why}`);
  return view.networks.length > 0;
}

const status = (): ResolverStatus => ({ pid: process.pid, digest, networks: dns.stats() });

/** Syncs one at a time: each reads the store as the last commit left it. */
let queue: Promise<unknown> = Promise.resolve();

function handle(req: Request): Promise<ResolverStatus> {
  const next = queue.then(async () => {
    if (req.op === 'status') return status();
    if (req.digest !== digest && !(await reload())) {
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
  if (!(await reload())) return stop('nothing to serve');
  log(
    `serves ${dns
      .stats()
      .map((n) => `${n.name} on ${n.address}`)
      .join(', ')}`,
  );
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
