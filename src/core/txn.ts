// The transaction engine. Each operation runs in one store transaction under the lock and has
// three phases:
//   1. validate and plan, touching nothing (every user error is raised here);
//   2. apply the drivers' kernel steps, journaling their undo first, rolling back on failure;
//   3. commit the records.
// Removals run the other way round: commit the records with a journal of the teardown, then
// tear down best-effort (a crash in between is finished by the next command).
import { firewallModel } from '../firewall/model.js';
import { existsSync } from 'node:fs';
import { ipBatch, ipCleanup, isFdb, startBatch, type StartedBatch } from '../kernel/ip.js';
import { PluginRefused, PluginUnreachable } from '../kernel/plugin.js';
import { ClusterUnreachable } from '../cluster/etcd.js';
import { sendClusterCall } from './global.js';
import { ConflictError, SystemError } from '../lib/errors.js';
import type { JournalEntry, KernelCmd, PluginCall, SandboxRecord, Step } from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx } from './context.js';
import { ensurePredefined } from './predefined.js';
import { mergeSteps, parallelWave, runWave } from './steps.js';

/** Read-only access without the lock; on a fresh root, root users get the predefined networks made first. */
export async function view<T>(ctx: Ctx, fn: (tx: ReadTxn) => T, canInit: boolean): Promise<T> {
  if (canInit && !(await ctx.store.exists())) await update(ctx, async () => undefined);
  return ctx.store.view(fn);
}

/** Mutating access: lock, finish any interrupted operation, make sure predefined networks exist. */
export function update<T>(ctx: Ctx, fn: (tx: Txn) => Promise<T>): Promise<T> {
  const outer = ctx.op.outer;
  if (outer) return fn(outer.tx); // one step of `apply -f`: already under the lock
  return ctx.store.update(async (tx) => {
    ctx.op = { touched: new Map(), fwApplied: firewallModel(tx) };
    await recover(ctx, tx);
    await ensurePredefined(ctx, tx);
    const out = await fn(tx);
    refreshNames(ctx, tx);
    return out;
  });
}

/** Remembers that `sb` changes in this operation (call before the change). */
export function touch(ctx: Ctx, tx: ReadTxn, sb: SandboxRecord): void {
  const nets = ctx.op.touched.get(sb.id)?.nets ?? new Set<string>();
  for (const e of tx.find('endpoints', 'sandboxId', sb.id)) nets.add(e.networkId);
  ctx.op.touched.set(sb.id, { sb: structuredClone(sb), nets });
}

/**
 * Rewrites the name files of every touched sandbox and of every sandbox netctl made that
 * shares a user-defined network with one (the only files a peer's change shows in).
 */
function refreshNames(ctx: Ctx, tx: ReadTxn): void {
  const { names, op } = ctx;
  if (!names || op.touched.size === 0) return;
  const nets = new Set<string>();
  const ids = new Set(op.touched.keys());
  for (const [id, t] of op.touched) {
    t.nets.forEach((n) => nets.add(n));
    for (const e of tx.find('endpoints', 'sandboxId', id)) nets.add(e.networkId);
  }
  const owned = new Set(tx.values('sandboxes', 'id', { field: 'ownsNetns', value: true }));
  for (const n of owned.size ? nets : []) {
    if (tx.get('networks', n)?.predefined !== false) continue;
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
      }
    } catch (e) {
      ctx.warn(`name files of container ${sb?.name ?? id}: ${(e as Error).message}`);
    }
  }
}

/** How long a journaled cluster call that found the store unreachable waits before a command tries it again. */
const CLUSTER_RETRY_MS = 30_000;

/** A journal entry found under the lock belongs to a process that died mid-way: finish it. */
async function recover(ctx: Ctx, tx: Txn): Promise<void> {
  const stale = tx.list('journal');
  if (stale.length === 0) return;
  const now = ctx.now().getTime();
  for (const j of stale) {
    // Only cluster calls left, and the store was unreachable lately: local commands do not wait on it again.
    if (j.retryAt && Date.parse(j.retryAt) > now && j.cleanup.every((c) => c.call?.kind === 'ClusterStore')) continue;
    const { errs, left } = await cleanup(ctx, j.cleanup);
    if (left.length) {
      // Still failing: keep what is left so the next command (or restore) tries again.
      const later = left.every((c) => c.call?.kind === 'ClusterStore')
        ? { retryAt: new Date(now + CLUSTER_RETRY_MS).toISOString() }
        : {};
      tx.put('journal', { ...j, cleanup: left, ...later });
      ctx.warn(
        `could not finish an interrupted ${j.op} (pid ${j.pid}): ${errs.join('; ') || 'a plugin is unreachable'}`,
      );
      continue;
    }
    for (const name of j.names ?? []) ctx.names?.remove(name);
    ctx.warn(`cleaned up after an interrupted ${j.op} (pid ${j.pid})`);
    tx.delete('journal', j.id);
  }
  if (stale.some((j) => j.firewall)) await syncFirewall(ctx, tx, true);
  await tx.flush();
}

/**
 * Applies kernel steps, then `commit` (record changes), then the firewall if asked. The undo of
 * every step is journaled before the first one (a plugin call's before the call); any failure
 * undoes what ran, returns the store to where it was and rethrows.
 */
export async function apply(
  ctx: Ctx,
  tx: Txn,
  op: string,
  steps: Step[],
  commit: () => void,
  firewall: boolean | 'full' = false,
): Promise<void> {
  const work = mergeSteps(steps);
  if (work.length === 0 && !firewall) {
    commit();
    return;
  }
  // Without a firewall step, a failure can only come before commit(): the records are untouched.
  const sp = firewall ? tx.savepoint() : null;
  // A plugin call's undo is journaled just before the call goes out (sendCall).
  const entry = journal(
    ctx,
    op,
    work.filter((s) => !s.call).flatMap((s) => s.undo),
    firewall !== false,
  );
  tx.put('journal', entry);
  if (firewall) ctx.firewall?.prefetch?.(); // the firewall's read runs beside the kernel steps
  const early = startEarly(ctx, work);
  try {
    await tx.flushJournal();
  } catch (e) {
    early.forEach((b) => b.cancel()); // no intent on disk: nothing may act
    throw e;
  }
  let i = 0;
  let refused: Step | undefined; // a call the plugin refused took no effect: its undo is not sent
  try {
    while (i < work.length) {
      // Consecutive steps in distinct sandboxes do not depend on each other: run them together.
      const wave = parallelWave(work, i);
      i += wave.length;
      await runWave(wave, async (s) => {
        if (!s.call) return early.get(s)?.send(s.cmds) ?? ipBatch(ctx.runner, s.ns, s.later ? s.later() : s.cmds);
        const more = await sendCall(ctx, tx, entry, s).catch((e: unknown) => {
          if (e instanceof PluginRefused) refused = s;
          throw e;
        });
        work.splice(i, 0, ...more); // a call runs alone in its wave: i is right after it
      });
    }
    commit();
    if (firewall) await syncFirewall(ctx, tx, firewall === 'full');
  } catch (e) {
    const undo = work
      .slice(0, i)
      .filter((s) => s !== refused)
      .reverse()
      .flatMap((s) => s.undo); // i is past the failed wave
    const { errs, left } = await cleanup(ctx, undo);
    if (sp) tx.rollback(sp);
    else tx.delete('journal', entry.id);
    if (firewall) await syncFirewall(ctx, tx, true).catch((fe: Error) => errs.push(`firewall: ${fe.message}`));
    // An undo that failed stays journaled: the next command finishes it.
    if (errs.length || left.length)
      tx.put('journal', { ...entry, cleanup: errs.length ? undo : left, firewall: firewall !== false });
    await tx.flush();
    if (errs.length) throw new SystemError(`${(e as Error).message} (rollback: ${errs.join('; ')})`);
    // EXFULL from enslaving a veth: the kernel's BR_MAX_PORTS, which Docker reports as it comes.
    if (/Exchange full/.test((e as Error).message)) {
      throw new ConflictError(
        `cannot ${op}: its bridge has 1024 ports, the most a Linux bridge takes`,
        'connect the container to another network',
      );
    }
    throw e;
  } finally {
    early.forEach((b) => b.cancel()); // those never sent exit having done nothing
  }
  if (ctx.op.outer)
    ctx.op.outer.kept.push(entry); // undone with the rest if a later step fails
  else tx.delete('journal', entry.id);
}

/**
 * One plugin call of `apply`: its undo journaled first, then the request; returns the steps its
 * answer asks for, whose undo (and what the answer handed out) is journaled before they run.
 */
async function sendCall(ctx: Ctx, tx: Txn, entry: JournalEntry, s: Step): Promise<Step[]> {
  if (!s.call) return [];
  const { then, when, ...req } = s.call;
  if (when && !when()) {
    s.undo = [];
    return [];
  }
  // Calls are undone newest first, after the kernel's commands (cleanup).
  const calls = () => entry.cleanup.filter((c) => c.call);
  entry.cleanup = [...entry.cleanup.filter((c) => !c.call), ...s.undo, ...calls()];
  tx.put('journal', entry);
  await tx.flushJournal();
  const answer = await callOf(ctx, req);
  const extra: KernelCmd[] = [];
  const more = mergeSteps(then?.(answer, extra) ?? []);
  s.undo.unshift(...extra); // what the answer handed out goes back before the call is undone, as in the journal
  if (more.length === 0 && extra.length === 0) return [];
  entry.cleanup = [
    ...more.filter((m) => !m.call).flatMap((m) => m.undo),
    ...entry.cleanup.filter((c) => !c.call),
    ...extra,
    ...calls(),
  ];
  tx.put('journal', entry);
  await tx.flushJournal();
  return more;
}

/**
 * The first two steps' processes, started before the journal is written when their namespace
 * exists already (a netns made by an earlier step cannot be entered yet): spawning overlaps
 * the journal write and the step before, and none acts before it is sent its commands. Two,
 * because a connect is two; a bulk connect's hundred sandboxes start as their wave comes.
 */
function startEarly(ctx: Ctx, work: Step[]): Map<Step, StartedBatch> {
  const out = new Map<Step, StartedBatch>();
  for (const [i, s] of work.slice(0, 2).entries()) {
    if (s.call || s.later || s.cmds.some(isFdb)) continue; // not (only) an ip batch, or its commands are not known yet
    // nsenter enters the namespace as it starts: not one an earlier step adds, attaches or deletes.
    const touched = (ns: string) =>
      work.slice(0, i).some((w) => w.cmds.some((c) => c[0] === 'netns' && c.includes(ns)));
    if (s.ns && (!existsSync(`${ctx.netnsDir}/${s.ns}`) || touched(s.ns))) continue;
    out.set(s, startBatch(ctx.runner, s.ns));
  }
  return out;
}

/**
 * Teardown once the records are committed (in the transaction): journaled first so a crash
 * is finished later; best-effort; returns every error. The rules and the devices go at the
 * same time: rules match devices by name and hold no reference to them, and the records
 * that made either reachable are already gone.
 */
export async function teardown(
  ctx: Ctx,
  tx: Txn,
  op: string,
  cmds: KernelCmd[],
  firewall = false,
  names: string[] = [],
): Promise<string[]> {
  if (cmds.length === 0 && !firewall) return [];
  const entry = { ...journal(ctx, op, cmds, firewall), ...(names.length ? { names } : {}) };
  tx.put('journal', entry);
  if (firewall) ctx.firewall?.prefetch?.();
  await tx.flush();
  const errs: string[] = [];
  const fw = firewall
    ? syncFirewall(ctx, tx).catch((e: Error) => {
        errs.push(`firewall: ${e.message}`);
      })
    : undefined;
  const done = await cleanup(ctx, cmds);
  errs.push(...done.errs);
  await fw;
  // A teardown that failed stays journaled: the next command (or restore) finishes it.
  if (errs.length === 0 && done.left.length === 0) tx.delete('journal', entry.id);
  else if (errs.length === 0) tx.put('journal', { ...entry, cleanup: done.left });
  return errs;
}

/**
 * Runs undo or teardown commands: the kernel's best-effort (errors returned), then the plugin
 * calls in the order given. A plugin that refuses, or is not installed any more, cannot be made
 * to forget more: a warning, and the call counts as done (libnetwork too only warns), so a
 * removed plugin never blocks the store. A plugin installed but not answering gets the call
 * again from a later command: it is in `left`, with every kernel command if one failed.
 */
export async function cleanup(ctx: Ctx, cmds: KernelCmd[]): Promise<{ errs: string[]; left: KernelCmd[] }> {
  const kernel = cmds.filter((c) => !c.call);
  const errs = await ipCleanup(ctx.runner, kernel);
  const left = errs.length ? [...kernel] : [];
  for (const c of cmds) {
    if (!c.call) continue;
    // The cluster's record of an endpoint must go some day: without a store configured (a boot-time
    // restore without the environment), the call waits for a command that has one.
    if (c.call.kind === 'ClusterStore' && !ctx.cluster) {
      left.push(c);
      continue;
    }
    try {
      await callOf(ctx, c.call);
    } catch (e) {
      const later = e instanceof PluginUnreachable || e instanceof ClusterUnreachable;
      if (later) left.push(c);
      ctx.warn(`${c.call.method} ${later ? 'left for a later command' : 'skipped'}: ${(e as Error).message}`);
    }
  }
  return { errs, left };
}

/** A plugin's call, or one to the cluster store (journaled alike). */
const callOf = (ctx: Ctx, c: PluginCall): Promise<Record<string, unknown>> =>
  c.kind === 'ClusterStore' ? sendClusterCall(ctx, c) : ctx.plugins.call(c);

function journal(ctx: Ctx, op: string, cleanup: KernelCmd[], firewall: boolean): JournalEntry {
  return {
    id: ctx.id(),
    pid: process.pid,
    op,
    started: ctx.now().toISOString(),
    cleanup,
    ...(firewall ? { firewall } : {}),
  };
}

/** Brings netctl's firewall to what the store says (one read, one write of the backend). */
export async function syncFirewall(ctx: Ctx, tx: ReadTxn, full = false): Promise<void> {
  if (!ctx.firewall) return;
  const model = firewallModel(tx);
  if (model.networks.some((n) => !n.internal) && (await ctx.runner.sysctl('net.ipv4.ip_forward', '1'))) {
    ctx.debug('enabled net.ipv4.ip_forward for bridge networks');
  }
  // IPv6 routes between a network and the outside only with forwarding on (as Docker does for IPv6 networks).
  if (
    model.networks.some((n) => !n.internal && n.subnets.some((s) => s.includes(':'))) &&
    (await ctx.runner.sysctl('net.ipv6.conf.all.forwarding', '1'))
  ) {
    ctx.debug('enabled net.ipv6.conf.all.forwarding for IPv6 networks');
  }
  const prev = full ? null : ctx.op.fwApplied;
  ctx.op.fwApplied = null; // unknown until this succeeds
  await ctx.firewall.sync(prev, model);
  ctx.op.fwApplied = model;
}
