// How commands reach this host's resolver (docs/reference.md §14, protocol.ts). A command that
// changed the store hands the resolver the new view once it committed, before it lets go of
// the lock, and waits for it: names are current when the command returns, and views arrive in
// commit order. It starts the resolver when none runs and there is something to serve, and
// replaces one that no longer answers.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../kernel/runner.js';
import { mark } from '../lib/trace.js';
import {
  controlPath,
  pidPath,
  servedPath,
  viewDigest,
  type Request,
  type ResolverStatus,
  type Served,
  type ViewChange,
} from './protocol.js';

/** How long a resolver gets to answer one request (a view of 10,000 names applies in ~0.15 s). */
const ANSWER_MS = 3000;

/** The resolver's bundle, beside the CLI's (dist/src/bundle/). */
const resolverBundle = (): string => fileURLToPath(new URL('../bundle/resolver.cjs', import.meta.url));

class NotAnswering extends Error {}
/** NETCTL_CHECK_DNS (the tests): a patched view that is not the store's fails the command. */
class DivergedView extends Error {}

/** One request and its answer; null when no resolver listens; NotAnswering when one listens and says nothing. */
export async function ask(root: string, req: Request, timeoutMs = ANSWER_MS): Promise<ResolverStatus | null> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const c = net.createConnection({ path: controlPath(root) });
    let buf = '';
    let settled = false;
    const done = (v: ResolverStatus | null, err?: Error) => {
      if (settled) return;
      settled = true;
      c.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    c.setTimeout(timeoutMs, () =>
      done(null, new NotAnswering(`netctl's resolver did not answer within ${timeoutMs} ms`)),
    );
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        done(JSON.parse(buf.slice(0, nl)) as ResolverStatus);
      } catch {
        done(null, new NotAnswering("netctl's resolver answered with something that is not JSON"));
      }
    });
    // No listener (ENOENT, ECONNREFUSED): none runs. One that closed without a word was stopping.
    c.on('error', () => done(null));
    c.on('close', () => done(null));
  });
}

/** Whether pid is this root's resolver (a pid a dead one left may have gone to anything). */
function isResolver(pid: number, root: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return pid > 1 && cmd.includes('resolver.cjs') && cmd.includes(root);
  } catch {
    return false;
  }
}

/**
 * What this root's resolver serves, from resolver.served; null when none runs. A resolver of
 * an older netctl writes no such file: that one is asked.
 */
export async function served(root: string): Promise<Served | null> {
  const text = readOrNull(servedPath(root));
  if (text === null) {
    const pid = Number(readOrNull(pidPath(root)) ?? 0);
    return isResolver(pid, root) ? ask(root, { op: 'status' }).catch(() => null) : null;
  }
  try {
    const s = JSON.parse(text) as Served;
    return isResolver(s.pid, root) ? s : null;
  } catch {
    return null; // not the resolver's (it replaces the file whole)
  }
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The commands' side of the resolver: ctx.resolver (core/context.ts Resolver). */
export class ResolverClient {
  private starting: Promise<unknown> | undefined;

  constructor(
    private readonly root: string,
    private readonly runner: Runner,
    private readonly warn: (m: string) => void,
  ) {}

  prestart(): void {
    mark('resolver: prestart');
    this.starting ??= this.ensure().catch(() => undefined);
  }

  async sync(change: ViewChange): Promise<void> {
    try {
      await this.starting;
      mark('resolver: sync');
      const st = await this.syncOnce(change);
      mark('resolver: synced');
      for (const n of st?.networks ?? []) if (n.error) this.warn(`resolver of network ${n.name}: ${n.error}`);
    } catch (e) {
      if (e instanceof DivergedView) throw e;
      this.warn(`names of this host are not served: ${(e as Error).message}`);
    }
  }

  async status(): Promise<ResolverStatus | null> {
    return ask(this.root, { op: 'status' }).catch(() => null);
  }

  async abandon(): Promise<void> {
    if (!this.starting) return;
    await this.starting;
    await ask(this.root, { op: 'release' }).catch(() => null);
  }

  /** Starts the resolver unless one answers; it waits a few seconds for the sync that says what to serve. */
  private async ensure(): Promise<void> {
    const st = await ask(this.root, { op: 'status' }).catch((e: Error) =>
      e instanceof NotAnswering ? this.kill() : null,
    );
    if (!st) await this.start();
  }

  /**
   * A running resolver takes the change as a patch when it serves the view the change started
   * from, else the whole view (or stops, when it is empty); with none and networks to serve,
   * one starts.
   */
  private async syncOnce(change: ViewChange): Promise<ResolverStatus | null> {
    const patch = change.patch();
    if (patch) {
      const st = await ask(this.root, { op: 'patch', since: change.since, gen: change.gen, ...patch }).catch(
        () => null, // not answering: the full sync below replaces it
      );
      if (st && !st.stale) {
        if (process.env['NETCTL_CHECK_DNS'] && st.pid > 0 && st.digest !== viewDigest(change.view()))
          throw new DivergedView(`the resolver's patched view differs from the store's (${st.digest})`);
        return st.pid > 0 ? st : null;
      }
      if (!st && patch.networks.length === 0) return null; // none runs, and nothing to serve
    }
    const view = change.view();
    const req = { op: 'sync', gen: change.gen, view } as const;
    for (let attempt = 0; attempt < 3; attempt++) {
      const st = await ask(this.root, req).catch(async (e: Error) => {
        if (!(e instanceof NotAnswering)) throw e;
        this.warn(`${e.message}: replaced`);
        return this.kill();
      });
      if (st) return st.pid > 0 ? st : null;
      if (view.networks.length === 0) return null;
      await this.start();
    }
    throw new Error(`netctl's resolver did not start (see ${join(this.root, 'resolver.log')})`);
  }

  private start(): Promise<boolean> {
    if (!this.runner.serve) return Promise.resolve(false);
    // A young generation of 1 MB (V8's default is 16 MB or more): the resolver allocates little
    // per query, and it holds ~15 MB less at 100 networks x 100 names (bench/dns.mjs).
    return this.runner.serve(
      process.execPath,
      ['--max-semi-space-size=1', resolverBundle(), '--root', this.root],
      join(this.root, 'resolver.log'),
    );
  }

  /** Kills a resolver that listens and does not answer (its pid file names it), and clears its socket. */
  private kill(): null {
    try {
      const pid = Number(readFileSync(pidPath(this.root), 'utf8').trim());
      if (isResolver(pid, this.root)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    for (const f of [controlPath, pidPath, servedPath]) rmSync(f(this.root), { force: true });
    return null;
  }
}
