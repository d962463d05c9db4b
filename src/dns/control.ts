// How commands reach this host's resolver (docs/reference.md §14, protocol.ts). A command that
// changed the store hands the resolver the new view before it lets go of the lock, and waits
// for it: names are current when the command returns, and two commands' views arrive in the
// order of their commits. It starts the resolver when none runs and there is something to serve.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../kernel/runner.js';
import { controlName, type Request, type ResolverStatus } from './protocol.js';
import { digestOf, type DnsView } from './view.js';

/** The resolver's bundle, beside the CLI's (dist/src/bundle/). */
const resolverBundle = (): string => fileURLToPath(new URL('../bundle/resolver.cjs', import.meta.url));

/** One request and its answer; null when no resolver listens. */
export async function ask(root: string, req: Request, timeoutMs = 10_000): Promise<ResolverStatus | null> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const c = net.createConnection({ path: controlName(root) });
    let buf = '';
    let settled = false;
    const done = (v: ResolverStatus | null, err?: Error) => {
      if (settled) return;
      settled = true;
      c.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    c.setTimeout(timeoutMs, () => done(null, new Error(`netctl's resolver did not answer within ${timeoutMs} ms`)));
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(JSON.parse(buf.slice(0, nl)) as ResolverStatus);
    });
    // No listener (ECONNREFUSED), or one that went away before answering (it was stopping).
    c.on('error', () => done(null));
    c.on('close', () => done(null));
  });
}

/**
 * Brings this host's resolver to `view`: a running one takes it (or stops, when it is empty);
 * with none running and networks to serve, one is started. Returns its status, or null when
 * none runs.
 */
export async function syncResolver(root: string, view: DnsView, runner: Runner): Promise<ResolverStatus | null> {
  const digest = digestOf(JSON.stringify(view));
  const wanted = view.networks.length > 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const st = await ask(root, { op: 'sync', digest, view });
    if (st) return st.pid > 0 ? st : null;
    if (!wanted) return null;
    await start(root, runner); // then ask it (or the one another command started first)
  }
  throw new Error(`netctl's resolver for ${root} did not start (see ${join(root, 'resolver.log')})`);
}

/** Starts the resolver unless one runs; it waits a few seconds for the sync that says what to serve. */
export async function ensureResolver(root: string, runner: Runner): Promise<void> {
  if (!(await ask(root, { op: 'status' }))) await start(root, runner);
}

/** Starts the resolver and waits until it listens on its control socket; false if it did not. */
function start(root: string, runner: Runner): Promise<boolean> {
  if (!runner.serve) return Promise.resolve(false);
  return runner.serve(process.execPath, [resolverBundle(), '--root', root], join(root, 'resolver.log'));
}
