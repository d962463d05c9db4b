// Sandboxes that are other runtimes' containers (docs/reference.md §15): adopted by reference,
// named by a symlink under NETNS_DIR that keeps nothing alive, re-linked when the container
// runs again.
import { existsSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { listLinks } from '../kernel/ip.js';
import { NETNS_DIR, netnsDel } from '../kernel/ops.js';
import { ConflictError, NotFoundError } from '../lib/errors.js';
import { checkName } from '../lib/validate.js';
import { sandboxRecord, type RuntimeLink, type SandboxRecord } from '../model/records.js';
import type { Txn } from '../store/store.js';
import { journalEntry } from '../engine/engine.js';
import type { Ctx } from './context.js';
import { findSandbox } from './lookup.js';
import { findByRuntime, inspectRuntime, isLive, nsIdentity, type Found, type RuntimeRef } from './runtime.js';

export interface AdoptOptions {
  /** `--dns-config keep`: leave the container's resolv.conf alone. */
  dnsKeep?: boolean;
  /** `sandbox attach NAME --pid|--netns`: the name asked for, not the container's. */
  name?: string;
}

const dirOf = (ctx: Ctx): string => ctx.netnsDir ?? NETNS_DIR;

/**
 * Names `target` as `name` under NETNS_DIR by a symlink, so `ip -n NAME` reaches it. Journaled
 * first: a crash before the commit leaves an entry whose undo removes it; a failure of this
 * command removes it at once.
 */
export async function linkName(ctx: Ctx, tx: Txn, name: string, target: string): Promise<void> {
  const path = `${dirOf(ctx)}/${name}`;
  const intent = journalEntry(ctx, `name ${name}`, [{ args: netnsDel(name) }]);
  tx.put('journal', intent);
  await tx.flushJournal();
  mkdirSync(dirOf(ctx), { recursive: true, mode: 0o755 });
  symlinkSync(target, path);
  (ctx.op.onAbort ??= []).push(() => unlinkQuiet(path, target));
  tx.delete('journal', intent.id);
}

/** Removes the symlink at `path` if it is still ours (pointing at `target`). */
function unlinkQuiet(path: string, target: string): void {
  try {
    if (readlinkSync(path) === target) unlinkSync(path);
  } catch {
    // already gone
  }
}

function link(found: Found, r: RuntimeRef, was?: RuntimeLink): RuntimeLink {
  return {
    ref: was?.ref ?? r.ref,
    kind: r.kind,
    id: found.id,
    ns: nsIdentity(found.target),
    target: found.target,
    ...(found.resolvConf ? { resolvConf: found.resolvConf } : {}),
    ...(was?.dnsConfig ? { dnsConfig: was.dnsConfig } : {}),
    ...(was?.resolvSaved ? { resolvSaved: was.resolvSaved } : {}),
  };
}

/**
 * The sandbox of a runtime's container: the one already recorded for it (re-linked if its
 * namespace changed, i.e. the container ran again), or a new one named after the container.
 */
export async function adoptRuntime(ctx: Ctx, tx: Txn, r: RuntimeRef, opts: AdoptOptions = {}): Promise<SandboxRecord> {
  const known = findByRuntime(tx, r);
  if (known && isLive(dirOf(ctx), known) && known.state === 'running') return withDns(known, opts);
  const found = await inspectRuntime(ctx.runner, r);
  const same = known?.runtime?.id === found.id ? known : undefined;
  if (same) {
    await relink(ctx, tx, same, found, r);
    return withDns(same, opts);
  }
  const name = checkName('container', opts.name ?? found.name);
  const from = opts.name ? '' : ` (from ${r.ref})`;
  if (findSandbox(tx, name)?.name === name) {
    if (opts.name) throw new ConflictError(`container name ${name} is already in use`);
    throw new ConflictError(`sandbox ${name} already exists${from}`);
  }
  const own = `${dirOf(ctx)}/${name}`;
  // A file under NETNS_DIR already (`ip netns add`, another tool's name): adopted as it is.
  const named = r.kind === 'netns' && found.target === own;
  if (!named && existsSync(own))
    throw new ConflictError(
      `netns ${name} already exists${from}`,
      `attach it by its name: netctl sandbox attach ${name} --netns ${dirOf(ctx)}/${name}`,
    );
  if (!named) await linkName(ctx, tx, name, found.target);
  // Interfaces eth<N> the container already has (another runtime's) are skipped.
  const used = (await listLinks(ctx.runner, name))
    .map((l) => /^eth(\d+)$/.exec(l.ifname)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  const sb = sandboxRecord(
    { id: ctx.id(), name, created: ctx.now().toISOString() },
    { nextIf: used.length ? Math.max(...used) + 1 : 0, runtime: link(found, r), ownsName: !named },
  );
  tx.put('sandboxes', sb);
  return withDns(sb, opts);
}

function withDns(sb: SandboxRecord, opts: AdoptOptions): SandboxRecord {
  if (sb.runtime && opts.dnsKeep) sb.runtime.dnsConfig = 'keep';
  return sb;
}

/** Points a recorded container's name at the namespace it runs in now. */
async function relink(ctx: Ctx, tx: Txn, sb: SandboxRecord, found: Found, r: RuntimeRef): Promise<void> {
  // A name netctl did not make (the netns file itself) is left as it is.
  if (sb.ownsName) {
    try {
      unlinkSync(`${dirOf(ctx)}/${sb.netns}`);
    } catch {
      // gone with the exit (noticeExited), or never there
    }
    await linkName(ctx, tx, sb.netns, found.target);
  }
  sb.runtime = link(found, r, sb.runtime);
  tx.put('sandboxes', sb);
}

/** Before `sandbox start`: a runtime container must run, in the namespace it has now. */
export async function reviveRuntime(ctx: Ctx, tx: Txn, sb: SandboxRecord): Promise<void> {
  const rt = sb.runtime;
  if (!rt || isLive(dirOf(ctx), sb)) return;
  const r = { kind: rt.kind, arg: rt.id, ref: rt.ref };
  let found: Found;
  try {
    found = await inspectRuntime(ctx.runner, r);
  } catch (e) {
    if (e instanceof NotFoundError) throw new NotFoundError(`container ${sb.name} (${rt.ref}) is not running`);
    throw e;
  }
  await relink(ctx, tx, sb, found, r);
}
