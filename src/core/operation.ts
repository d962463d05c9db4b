// One operation of the core: the store transaction under the lock, what every operation does
// before (finish an interrupted one, the predefined networks) and after (the name files of the
// sandboxes it touched), and the firewall the records imply. The kernel steps themselves go
// through the engine (src/engine/engine.ts).
import { appliedBefore, remember } from '../firewall/sync.js';
import { dnsOnlyModel } from '../firewall/model.js';
import { execute as run, journalEntry, recover, teardown } from '../engine/engine.js';
import { ConflictError, KernelError } from '../lib/errors.js';
import type { NetworkRecord, SandboxRecord, Step } from '../model/records.js';
import { dependents, findNetwork } from './lookup.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx } from './context.js';
import { dnsPatch, dnsView, resolverFor } from '../dns/view.js';
import { ensurePredefined } from './predefined.js';
import { listsPeers, pointResolvConf } from './names.js';
import { isLive } from './runtime.js';
import { NETNS_DIR, netnsDel } from '../kernel/ops.js';
import { dropEndpoints } from './plan.js';

/** Read-only access without the lock; on a fresh root, root users get the predefined networks made first. */
export async function view<T>(ctx: Ctx, fn: (tx: ReadTxn) => T, canInit: boolean): Promise<T> {
  if (canInit && !(await ctx.store.exists())) await transaction(ctx, async () => undefined);
  return ctx.store.view(fn);
}

/**
 * Mutating access: lock, finish any interrupted operation, make sure predefined networks exist.
 * Once committed, before the lock is let go, this host's resolver serves what the store now
 * says: names are current when the command returns, and views reach it in commit order.
 */
export async function transaction<T>(ctx: Ctx, fn: (tx: Txn) => Promise<T>): Promise<T> {
  const outer = ctx.op.outer;
  if (outer) return fn(outer.tx); // one step of `apply -f`: already under the lock
  try {
    return await ctx.store.update(async (tx) => {
      ctx.op = { touched: new Map(), fwApplied: appliedBefore(tx) };
      await recover(ctx, tx);
      await ensurePredefined(ctx, tx);
      await noticeExited(ctx, tx);
      const out = await fn(tx);
      await settleDnsOnly(ctx, tx);
      refreshNames(ctx, tx);
      const { resolver } = ctx;
      if (resolver)
        tx.onCommit(() => {
          const { start, now } = tx.generation();
          const touched = [...ctx.op.touched.keys()];
          return resolver.sync({ since: start, gen: now, patch: () => dnsPatch(tx, touched), view: () => dnsView(tx) });
        });
      return out;
    });
  } catch (e) {
    ctx.op.onAbort?.forEach((undo) => undo());
    await ctx.resolver?.abandon(); // a resolver this command started for a join that failed
    throw e;
  }
}

/**
 * A network came into use or went out of it here with an address for the resolver alone (an
 * overlay has no other firewall part): its DNS-only filter follows, whatever the operation.
 */
async function settleDnsOnly(ctx: Ctx, tx: Txn): Promise<void> {
  const applied = ctx.op.fwApplied;
  if (!ctx.firewall || !applied) return;
  if (JSON.stringify(dnsOnlyModel(tx)) === JSON.stringify(applied.dnsOnly)) return;
  // Journaled: a crash in the middle leaves the next command a whole rewrite to do.
  const intent = journalEntry(ctx, 'firewall: DNS-only addresses', [], true);
  tx.put('journal', intent);
  await tx.flushJournal();
  try {
    await ctx.settle(tx, false);
    tx.delete('journal', intent.id);
  } catch (e) {
    ctx.warn(`firewall: ${(e as Error).message}; netctl restore writes it again`);
  }
}

/**
 * Runtime containers (§15) that exited since the last command: their namespace and veths went
 * with them. Each leaves its networks as a stopped sandbox does, addresses kept; its name goes
 * (it points at nothing, or at a namespace reusing the PID), and nothing runs inside.
 */
async function noticeExited(ctx: Ctx, tx: Txn): Promise<void> {
  const netnsDir = ctx.netnsDir ?? NETNS_DIR;
  for (const id of tx.values('sandboxes', 'id', { field: 'ownsNetns', value: false })) {
    const sb = tx.get('sandboxes', id);
    if (!sb?.runtime || sb.state !== 'running' || isLive(netnsDir, sb)) continue;
    touch(ctx, tx, sb);
    const eps = tx.find('endpoints', 'sandboxId', sb.id);
    const nets = [...new Set(eps.map((e) => e.networkId))].map((n) => tx.get('networks', n));
    const global = nets.filter((n): n is NetworkRecord => n !== undefined && n.scope !== 'local');
    if (global.length) await ctx.scope?.prepare(ctx, tx, global, false);
    const { cmds } = dropEndpoints(ctx, tx, sb, eps, true);
    const host = cmds.filter((c) => c.ns !== sb.netns);
    if (sb.ownsName) host.push({ args: netnsDel(sb.netns) });
    sb.state = 'exited';
    tx.put('sandboxes', sb);
    for (const d of dependents(tx, sb)) tx.put('sandboxes', { ...d, state: 'stopped' });
    const errs = await teardown(ctx, tx, `exited container ${sb.name}`, host, sb.ports.length > 0 || !!sb.policy);
    for (const err of errs) ctx.warn(`container ${sb.name} exited: ${err}`);
    // Kept whatever the command then does: the exit happened, and its teardown is done.
    await tx.flush();
  }
}

/** Remembers that `sb` changes in this operation (call before the change). */
export function touch(ctx: Ctx, tx: ReadTxn, sb: SandboxRecord): void {
  remember(ctx.op.fwApplied, tx, sb.id);
  const nets = ctx.op.touched.get(sb.id)?.nets ?? new Set<string>();
  for (const e of tx.find('endpoints', 'sandboxId', sb.id)) nets.add(e.networkId);
  ctx.op.touched.set(sb.id, { sb: structuredClone(sb), nets });
}

/**
 * Rewrites the name files of every touched sandbox and of every sandbox netctl made that
 * shares a network whose hosts files list peers with one (the only files a peer's change shows in).
 */
function refreshNames(ctx: Ctx, tx: Txn): void {
  const { names, op } = ctx;
  if (!names || op.touched.size === 0) return;
  const nets = new Set<string>();
  const ids = new Set(op.touched.keys());
  for (const [id, t] of op.touched) {
    t.nets.forEach((n) => nets.add(n));
    for (const e of tx.find('endpoints', 'sandboxId', id)) nets.add(e.networkId);
  }
  // Only networks whose files list peers (no resolver) reach other sandboxes' files: the
  // sandboxes netctl made are looked up (a search of every sandbox) only when one is touched.
  const peered = [...nets].filter((n) => {
    const nw = tx.get('networks', n);
    return nw !== undefined && listsPeers(nw);
  });
  const owned = new Set(peered.length ? tx.values('sandboxes', 'id', { field: 'ownsNetns', value: true }) : []);
  for (const n of owned.size ? peered : []) {
    for (const peer of tx.values('endpoints', 'sandboxId', { field: 'networkId', value: n }))
      if (owned.has(peer)) ids.add(peer);
  }
  const sections = new Map<string, string[]>(); // a network's lines, the same in every peer's file
  for (const id of ids) {
    const sb = tx.get('sandboxes', id);
    try {
      if (!sb) {
        const gone = op.touched.get(id)?.sb;
        if (gone?.ownsNetns) names.remove(gone.name);
      } else if (sb.ownsNetns) {
        names.write(tx, sb, sections, !op.touched.has(id));
      } else if (sb.runtime?.resolvConf && sb.runtime.dnsConfig !== 'keep' && sb.state === 'running') {
        const saved = pointResolvConf(sb.runtime.resolvConf, resolverFor(tx, sb.id), sb.runtime.resolvSaved);
        if (String(saved) !== String(sb.runtime.resolvSaved)) {
          if (saved) sb.runtime.resolvSaved = saved;
          else delete sb.runtime.resolvSaved;
          tx.put('sandboxes', sb);
        }
      }
    } catch (e) {
      ctx.warn(`name files of container ${sb?.name ?? id}: ${(e as Error).message}`);
    }
  }
}

/**
 * The engine's execute(): a bridge that is full (the kernel's BR_MAX_PORTS, EXFULL on enslaving
 * a port) is refused as Docker reports it.
 */
export async function execute(
  ctx: Ctx,
  tx: Txn,
  op: string,
  steps: Step[],
  commit: () => void,
  firewall: boolean | 'full' = false,
): Promise<void> {
  try {
    await run(ctx, tx, op, steps, commit, firewall);
  } catch (e) {
    if (!(e instanceof KernelError && e.fault === 'exchange-full')) throw e;
    throw new ConflictError(
      `cannot ${op}: its bridge has 1024 ports, the most a Linux bridge takes`,
      'connect the container to another network',
    );
  }
}

/** What a user typed, as Docker resolves it; with a scope plugged in, its networks too. */
export function resolveNetwork(ctx: Ctx, tx: Txn, ref: string): Promise<NetworkRecord> {
  return ctx.scope ? ctx.scope.resolveNetwork(ctx, tx, ref) : Promise.resolve(findNetwork(tx, ref));
}
