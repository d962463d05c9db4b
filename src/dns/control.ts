// How commands reach this host's resolver (docs/reference.md §14): an abstract unix socket
// named after the state root (like the store's lock, scoped to the network namespace the
// resolver serves), one JSON line each way. A command that changed the store asks the resolver
// to catch up and waits for it, so names are current when the command returns; it starts the
// resolver when there is none and there is something to serve.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../kernel/runner.js';
import { viewDigest, type DnsView, type ResolverStatus } from './view.js';

export type { ResolverStatus };

export type Request = { op: 'sync'; digest: string } | { op: 'status' };

export const controlName = (root: string): string => {
  const st = statSync(root);
  return `\0netctl-dns:${st.dev}:${st.ino}`;
};

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
 * Brings this host's resolver to `view`: asks a running one to catch up (it reads the store
 * itself), starts one when there is none and `view` has networks. Returns its status, or null
 * when none runs (nothing to serve).
 */
export async function syncResolver(root: string, view: DnsView, runner: Runner): Promise<ResolverStatus | null> {
  const digest = viewDigest(view);
  const wanted = view.networks.length > 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const st = await ask(root, { op: 'sync', digest });
    if (st) return st.pid > 0 ? st : null;
    if (!wanted) return null;
    await start(root, runner); // then ask it (or the one another command started first)
  }
  throw new Error(`netctl's resolver for ${root} did not start (see ${join(root, 'resolver.log')})`);
}

/** Starts the resolver and waits until it listens on its control socket; false if it did not. */
function start(root: string, runner: Runner): Promise<boolean> {
  if (!runner.serve) return Promise.resolve(false);
  return runner.serve(process.execPath, [resolverBundle(), '--root', root], join(root, 'resolver.log'));
}
