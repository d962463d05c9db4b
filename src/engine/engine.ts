// The transaction engine: kernel steps with their undo, journaled before they run, rolled back
// on failure, finished after a crash. It knows steps, journal entries and executors (the ip
// batch, and whatever sends a journaled call: plugins, a cluster store); it knows no driver,
// network or scope. The core decides what the steps are (src/core/operation.ts).
//
// An operation runs in one store transaction under the lock:
//   1. the caller validates and plans, touching nothing (every user error is raised there);
//   2. execute() journals the steps' undo, runs them, and rolls back on failure;
//   3. the commit callback records the outcome, and `settle` derives what follows from the
//      records (the firewall).
// Removals run the other way round: the records are committed with a journal of the teardown,
// then teardown() runs it best-effort (a crash in between is finished by the next command).
import { existsSync } from 'node:fs';
import { ipBatch, ipCleanup, isFdb, startBatch, type StartedBatch } from '../kernel/ip.js';
import type { Runner } from '../kernel/runner.js';
import { RefusedError, RollbackError, SystemError, UnreachableError } from '../lib/errors.js';
import type { CallKind, JournalEntry, KernelCmd, PluginCall, Step } from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import { mergeSteps, parallelWave, runWave } from './steps.js';

/** Sends the journaled calls of one kind. */
export interface Executor {
  /**
   * Sends one call; resolves to its answer. Throws an UnreachableError when the peer does not
   * answer (the call is tried again by a later command) and a RefusedError when it refused
   * (nothing took effect: its undo is not sent).
   */
  send(call: PluginCall): Promise<Record<string, unknown>>;
  /** After the peer was unreachable, how long commands leave its journaled calls alone. */
  retryAfterMs?: number;
}

export type Executors = Partial<Record<CallKind, Executor>>;

/** How long calls of a kind nothing can send (no executor: not configured for this command) are left alone. */
const NO_EXECUTOR_RETRY_MS = 30_000;

/** What the engine needs of the operation's context. */
export interface EngineCtx {
  runner: Runner;
  /** Where named network namespaces live (a step's process can enter one only once it exists). */
  netnsDir: string;
  executors: Executors;
  warn(msg: string): void;
  now(): Date;
  id(): string;
  /** Derives the kernel state that follows from the records (the firewall); `full`: from scratch. */
  settle?(tx: ReadTxn, full: boolean): Promise<void>;
  /** Starts the read `settle` needs, beside the kernel steps. */
  prefetch?(): void;
  /** An interrupted removal is finished: what else went with these sandboxes (their name files). */
  forget?(sandboxNames: string[]): void;
  op: {
    /**
     * Set while several operations run in one transaction (`apply -f`): each keeps its journal
     * entry in `kept` until the whole plan succeeded, so a crash or a later failure undoes all.
     */
    outer?: { kept: JournalEntry[] };
  };
}

/** A journal entry: what undoes `op` if it never finishes. */
export function journalEntry(ctx: EngineCtx, op: string, cleanup: KernelCmd[], settle = false): JournalEntry {
  return {
    id: ctx.id(),
    pid: process.pid,
    op,
    started: ctx.now().toISOString(),
    cleanup,
    ...(settle ? { firewall: true } : {}),
  };
}

/**
 * Runs `steps`, then `commit` (record changes), then `settle` if asked. The undo of every step
 * is journaled before the first one (a call's before the call); any failure undoes what ran,
 * returns the store to where it was and rethrows.
 */
export async function execute(
  ctx: EngineCtx,
  tx: Txn,
  op: string,
  steps: Step[],
  commit: () => void,
  settle: boolean | 'full' = false,
): Promise<void> {
  const work = mergeSteps(steps);
  if (work.length === 0 && !settle) {
    commit();
    return;
  }
  // Without settling, a failure can only come before commit(): the records are untouched.
  const sp = settle ? tx.savepoint() : null;
  // A call's undo is journaled just before the call goes out (sendCall).
  const entry = journalEntry(
    ctx,
    op,
    work.filter((s) => !s.call).flatMap((s) => s.undo),
    settle !== false,
  );
  tx.put('journal', entry);
  if (settle) ctx.prefetch?.();
  const early = startEarly(ctx, work);
  const cancel = () => Promise.all([...early.values()].map((b) => b.cancel()));
  try {
    await tx.flushJournal();
  } catch (e) {
    await cancel(); // no intent on disk: nothing may act
    throw e;
  }
  let i = 0;
  let refused: Step | undefined; // a refused call took no effect: its undo is not sent
  try {
    while (i < work.length) {
      // Consecutive steps in distinct sandboxes do not depend on each other: run them together.
      const wave = parallelWave(work, i);
      i += wave.length;
      await runWave(wave, async (s) => {
        if (!s.call) return early.get(s)?.send(s.cmds) ?? ipBatch(ctx.runner, s.ns, s.later ? s.later() : s.cmds);
        const more = await sendCall(ctx, tx, entry, s).catch((e: unknown) => {
          if (e instanceof RefusedError) refused = s;
          throw e;
        });
        work.splice(i, 0, ...more); // a call runs alone in its wave: i is right after it
      });
    }
    commit();
    if (settle) await ctx.settle?.(tx, settle === 'full');
  } catch (e) {
    const undo = work
      .slice(0, i) // i is past the failed wave
      .filter((s) => s !== refused)
      .reverse()
      .flatMap((s) => s.undo);
    const { errs, left } = await cleanup(ctx, undo);
    if (sp) tx.rollback(sp);
    else tx.delete('journal', entry.id);
    if (settle) await ctx.settle?.(tx, true).catch((fe: Error) => errs.push(`firewall: ${fe.message}`));
    // An undo that failed stays journaled: the next command finishes it.
    if (errs.length || left.length) {
      tx.put('journal', { ...entry, cleanup: errs.length ? undo : left, ...(settle ? { firewall: true } : {}) });
    }
    await tx.flush();
    if (errs.length) throw new RollbackError(`${(e as Error).message} (rollback: ${errs.join('; ')})`);
    throw e;
  } finally {
    await cancel(); // those never sent exit having done nothing
  }
  if (ctx.op.outer)
    ctx.op.outer.kept.push(entry); // undone with the rest if a later step fails
  else tx.delete('journal', entry.id);
}

/**
 * One call of `execute`: its undo journaled first, then the request; returns the steps its
 * answer asks for, whose undo (and what the answer handed out) is journaled before they run.
 */
async function sendCall(ctx: EngineCtx, tx: Txn, entry: JournalEntry, s: Step): Promise<Step[]> {
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
  const answer = await executorFor(ctx, req).send(req);
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

function executorFor(ctx: EngineCtx, call: PluginCall): Executor {
  const ex = ctx.executors[call.kind];
  if (!ex) throw new SystemError(`no way to send ${call.kind} call ${call.method} in this command`);
  return ex;
}

/**
 * The first two steps' processes, started before the journal is written when their namespace
 * exists already (a netns made by an earlier step cannot be entered yet): spawning overlaps
 * the journal write and the step before, and none acts before it is sent its commands. Two,
 * because a connect is two; a bulk connect's hundred sandboxes start as their wave comes.
 */
function startEarly(ctx: EngineCtx, work: Step[]): Map<Step, StartedBatch> {
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
 * is finished later; best-effort; returns every error. Settling and the devices go at the
 * same time: rules match devices by name and hold no reference to them, and the records
 * that made either reachable are already gone.
 */
export async function teardown(
  ctx: EngineCtx,
  tx: Txn,
  op: string,
  cmds: KernelCmd[],
  settle = false,
  sandboxNames: string[] = [],
): Promise<string[]> {
  if (cmds.length === 0 && !settle) return [];
  const entry = { ...journalEntry(ctx, op, cmds, settle), ...(sandboxNames.length ? { names: sandboxNames } : {}) };
  tx.put('journal', entry);
  if (settle) ctx.prefetch?.();
  await tx.flush();
  const errs: string[] = [];
  const fw = settle
    ? ctx.settle?.(tx, false).catch((e: Error) => {
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
 * Runs undo or teardown commands: the kernel's best-effort (errors returned), then the calls in
 * the order given. A peer that refuses, or is not installed any more, cannot be made to forget
 * more: a warning, and the call counts as done (libnetwork too only warns), so a removed plugin
 * never blocks the store. One that does not answer, or that this command cannot reach (no
 * executor), gets the call again from a later command: it is in `left`, with every kernel
 * command if one failed.
 */
export async function cleanup(ctx: EngineCtx, cmds: KernelCmd[]): Promise<{ errs: string[]; left: KernelCmd[] }> {
  const kernel = cmds.filter((c) => !c.call);
  const errs = await ipCleanup(ctx.runner, kernel);
  const left = errs.length ? [...kernel] : [];
  for (const c of cmds) {
    if (!c.call) continue;
    const ex = ctx.executors[c.call.kind];
    if (!ex) {
      left.push(c);
      continue;
    }
    try {
      await ex.send(c.call);
    } catch (e) {
      const later = e instanceof UnreachableError;
      if (later) left.push(c);
      ctx.warn(`${c.call.method} ${later ? 'left for a later command' : 'skipped'}: ${(e as Error).message}`);
    }
  }
  return { errs, left };
}

/** How long commands leave a call alone once it could not be sent (0: the next command tries again). */
function retryDelay(ctx: EngineCtx, c: KernelCmd): number {
  if (!c.call) return 0;
  const ex = ctx.executors[c.call.kind];
  return ex ? (ex.retryAfterMs ?? 0) : NO_EXECUTOR_RETRY_MS;
}

/** A journal entry found under the lock belongs to a process that died mid-way: finish it. */
export async function recover(ctx: EngineCtx, tx: Txn): Promise<void> {
  const stale = tx.list('journal');
  if (stale.length === 0) return;
  const now = ctx.now().getTime();
  for (const j of stale) {
    // Only calls left whose peer was unreachable lately: commands do not wait on it again yet.
    if (j.retryAt && Date.parse(j.retryAt) > now && j.cleanup.every((c) => retryDelay(ctx, c) > 0)) continue;
    const { errs, left } = await cleanup(ctx, j.cleanup);
    if (left.length) {
      // Still failing: keep what is left so the next command (or restore) tries again.
      const wait = Math.min(...left.map((c) => retryDelay(ctx, c)));
      tx.put('journal', { ...j, cleanup: left, ...(wait > 0 ? { retryAt: new Date(now + wait).toISOString() } : {}) });
      ctx.warn(`could not finish an interrupted ${j.op} (pid ${j.pid}): ${errs.join('; ') || 'a peer is unreachable'}`);
      continue;
    }
    if (j.names?.length) ctx.forget?.(j.names);
    ctx.warn(`cleaned up after an interrupted ${j.op} (pid ${j.pid})`);
    tx.delete('journal', j.id);
  }
  // A firewall that cannot be written now (a read-only /proc/sys) must not block every command,
  // the one that would remove the cause included: said, and tried again by the next settle.
  if (stale.some((j) => j.firewall)) {
    await ctx.settle?.(tx, true).catch((e: Error) => ctx.warn(`firewall not brought up to date: ${e.message}`));
  }
  await tx.flush();
}
