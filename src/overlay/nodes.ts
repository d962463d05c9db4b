// Hosts of the cluster (`node ls`, `node rm`) and the agent that keeps this host's overlay
// peers in step with the cluster store while it runs.
import type { NodeRecord, Peer, Snapshot } from './cluster.js';
import { ForbiddenError, NotFoundError } from '../lib/errors.js';
import type { Ctx } from '../core/context.js';
import { transaction } from '../core/operation.js';
import { clusterOf, reconcileHost, snapshotOf } from './global.js';

export interface NodeRow extends NodeRecord {
  endpoints: number;
  self: boolean;
}

export async function listNodes(ctx: Ctx): Promise<NodeRow[]> {
  const cluster = await clusterOf(ctx);
  const snap = await cluster.snapshot();
  const rows = snap.nodes.map((n) => ({
    ...n,
    endpoints: snap.peers.filter((p) => p.vtep === n.addr).length,
    self: n.addr === cluster.me.addr,
  }));
  // A host that has endpoints but whose node record is gone still shows (its endpoints block rm).
  for (const addr of new Set(snap.peers.map((p) => p.vtep))) {
    if (rows.some((r) => r.addr === addr)) continue;
    const any = snap.peers.find((p) => p.vtep === addr);
    rows.push({
      name: any?.node ?? addr,
      addr,
      seen: '',
      endpoints: snap.peers.filter((p) => p.vtep === addr).length,
      self: addr === cluster.me.addr,
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.addr.localeCompare(b.addr));
}

function findNode(snap: Snapshot, ref: string): NodeRecord {
  const known: NodeRecord[] = [...snap.nodes];
  for (const p of snap.peers)
    if (!known.some((n) => n.addr === p.vtep)) known.push({ name: p.node, addr: p.vtep, seen: '' });
  const hits = known.filter((n) => n.addr === ref || n.name === ref);
  if (hits.length === 0) throw new NotFoundError(`node ${ref} not found`);
  if (hits.length > 1)
    throw new NotFoundError(`node ${ref} is ambiguous: ${hits.map((h) => h.addr).join(', ')} (name it by its address)`);
  return hits[0] as NodeRecord;
}

/** Removes a dead host's endpoints and addresses cluster-wide; this host's peers follow at once. */
export async function removeNode(ctx: Ctx, ref: string): Promise<Peer[]> {
  const cluster = await clusterOf(ctx);
  return transaction(ctx, async (tx) => {
    const snap = await snapshotOf(ctx);
    const node = findNode(snap, ref);
    if (node.addr === cluster.me.addr)
      throw new ForbiddenError(`node ${node.name} (${node.addr}) is this host: disconnect its containers instead`);
    const gone = await cluster.removeNode(node, snap);
    await reconcileHost(ctx, tx, false);
    return gone;
  });
}

/**
 * `netctl agent`: a first pass from the kernel, then a pass whenever the cluster changes (a
 * watch on the prefix), and a full one every `period` seconds to heal what a lost watch or a
 * partition missed. Each pass reads the cluster outside the lock, then takes it briefly.
 */
export async function runAgent(
  ctx: Ctx,
  opts: { heartbeat: number; log: (m: string) => void; stop: Promise<void> },
): Promise<void> {
  const cluster = await clusterOf(ctx);
  let rev = 0;
  // One pass at a time (drain), so an older read is never applied after a newer one.
  const pass = async (fromKernel: boolean) => {
    const snap = await cluster.snapshot();
    if (snap.rev < rev) return;
    await transaction(ctx, (tx) => reconcileHost(ctx, tx, fromKernel, snap));
    rev = snap.rev;
  };
  let dirty = false;
  let full = false;
  let running: Promise<void> | null = null;
  const drain = async () => {
    while (dirty) {
      dirty = false;
      const fromKernel = full;
      full = false;
      await pass(fromKernel).catch((e: Error) => {
        opts.log(`reconcile: ${e.message}`);
      });
    }
    running = null;
  };
  const kick = (fromKernel = false) => {
    dirty = true;
    full ||= fromKernel;
    running ??= drain();
  };
  await pass(true);
  await cluster.touchNode();
  opts.log(`agent of ${cluster.me.name} (${cluster.me.addr}) watching ${cluster.url} from revision ${rev + 1}`);
  let watch: { close(): Promise<void> } | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  // Nothing is tried again once the agent stops: its retry timer would keep the process alive.
  const later = () => {
    if (!stopped) retry = setTimeout(() => void rewatch(), 1000);
  };
  const rewatch = async (): Promise<void> => {
    if (stopped) return;
    try {
      watch = await cluster.watch(
        rev + 1,
        () => kick(),
        (e) => {
          opts.log(`watch: ${e.message}; reading again`);
          kick();
          later();
        },
      );
    } catch (e) {
      if (stopped) return;
      opts.log(`watch: ${(e as Error).message}; retrying`);
      later();
    }
  };
  await rewatch();
  let beats = 0;
  const timer = setInterval(() => {
    beats++;
    void cluster.touchNode().catch((e: Error) => opts.log(`heartbeat: ${e.message}`));
    if (beats % 3 === 0) kick(true);
  }, opts.heartbeat * 1000);
  await opts.stop;
  stopped = true;
  clearInterval(timer);
  clearTimeout(retry);
  await watch?.close().catch(() => undefined);
  await running;
}
