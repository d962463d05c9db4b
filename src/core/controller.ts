// The NetworkController (CNM) as the CLI and the engine tests see it: one object holding the
// context, each method one operation of the modules beside this file (networks, endpoints,
// sandboxes, restore, doctor), which take that context explicitly. The operations few
// commands use (apply, update, CNI, restore, doctor) are imported when called, so `ls` or a
// connect does not load them.
import type { EndpointSettings } from '../model/records.js';
import type { NetworkCreate, PolicyChange, SandboxCreate } from '../model/requests.js';
import type { ReadTxn } from '../store/store.js';
import type { CniAdded, CniAttachment } from './cni.js';
import { makeCtx, type CoreDeps, type Ctx } from './context.js';
import { connect, disconnect } from './endpoints.js';
import { createNetwork, prune, removeNetworks } from './networks.js';
import {
  attachSandbox,
  createSandbox,
  pruneExited,
  removeSandboxes,
  startIfExited,
  startSandbox,
  stopSandbox,
} from './sandboxes.js';
import type { AdoptOptions } from './containers.js';
import { parseRuntimeRef } from './runtime.js';
import { view } from './operation.js';
import type { NetworkUpdate } from './update.js';
import type { Change, Topology } from './apply.js';
import type { PolicyLine } from './policy.js';

export type { CoreDeps as ControllerDeps } from './context.js';

type Results = Promise<{ results: Array<Error | null>; errors: string[] }>;

export class Controller {
  /** The context its operations share; the modules plugged in above the core (src/overlay/) take it too. */
  readonly ctx: Ctx;

  constructor(deps: CoreDeps) {
    this.ctx = makeCtx(deps);
  }

  /** Read-only access without the lock; on a fresh root, root users get the predefined networks made first. */
  view<T>(fn: (tx: ReadTxn) => T, canInit: boolean): Promise<T> {
    return view(this.ctx, fn, canInit);
  }

  createNetwork(req: NetworkCreate): Promise<string> {
    return createNetwork(this.ctx, req);
  }
  removeNetworks(refs: string[], force: boolean): Results {
    return removeNetworks(this.ctx, refs, force);
  }
  prune(
    labels: Array<{ key: string; value?: string; negate: boolean }>,
    until?: Date,
  ): Promise<{ removed: string[]; errors: string[] }> {
    return prune(this.ctx, labels, until);
  }

  async updateNetwork(ref: string, change: NetworkUpdate): Promise<void> {
    return (await import('./update.js')).updateNetwork(this.ctx, ref, change);
  }

  async applyTopology(top: Topology, opts: { dryRun: boolean; prune: boolean; file: string }): Promise<Change[]> {
    return (await import('./apply.js')).applyTopology(this.ctx, top, opts);
  }

  /** A runtime container that exited and runs again is started first (its endpoints rebuilt, §15). */
  async connect(netRef: string, ctrRefs: string[], settings: EndpointSettings, opts: AdoptOptions = {}): Promise<void> {
    const refs: string[] = [];
    for (const ref of ctrRefs) {
      // Revived on this network already (its recorded endpoint rebuilt): nothing more to do.
      if (parseRuntimeRef(ref) && (await startIfExited(this.ctx, ref)).includes(netRef)) continue;
      refs.push(ref);
    }
    if (refs.length || !ctrRefs.length) await connect(this.ctx, netRef, refs, settings, opts);
  }
  disconnect(netRef: string, ctrRef: string, force: boolean): Promise<void> {
    return disconnect(this.ctx, netRef, ctrRef, force);
  }

  createSandbox(req: SandboxCreate): Promise<string> {
    return createSandbox(this.ctx, req);
  }
  startSandbox(ref: string): Promise<void> {
    return startSandbox(this.ctx, ref);
  }
  stopSandbox(ref: string): Promise<void> {
    return stopSandbox(this.ctx, ref);
  }
  removeSandboxes(refs: string[], force: boolean): Results {
    return removeSandboxes(this.ctx, refs, force);
  }
  pruneExited(): Promise<string[]> {
    return pruneExited(this.ctx);
  }
  attachSandbox(name: string, src: { netns?: string; pid?: number; dnsKeep?: boolean }): Promise<string> {
    return attachSandbox(this.ctx, name, src);
  }

  /** CNI plugin operations (docs/reference.md §12). */
  async cniAdd(a: CniAttachment, settings: EndpointSettings): Promise<CniAdded> {
    return (await import('./cni.js')).cniAdd(this.ctx, a, settings);
  }
  async cniDel(a: CniAttachment): Promise<string[]> {
    return (await import('./cni.js')).cniDel(this.ctx, a);
  }
  async cniCheck(a: CniAttachment, expected: string[]): Promise<void> {
    return (await import('./cni.js')).cniCheck(this.ctx, a, expected);
  }
  async cniStatus(network: string): Promise<void> {
    return (await import('./cni.js')).cniStatus(this.ctx, network);
  }
  async cniGc(
    network: string,
    valid: Array<{ containerId: string; ifName: string }>,
  ): Promise<{ removed: string[]; errors: string[] }> {
    return (await import('./cni.js')).cniGc(this.ctx, network, valid);
  }

  /** Egress policy (docs/reference.md §16). */
  async changePolicy(ref: string, change: PolicyChange): Promise<void> {
    return (await import('./policy.js')).changePolicy(this.ctx, ref, change);
  }
  async showPolicy(ref: string): Promise<PolicyLine[]> {
    return (await import('./policy.js')).showPolicy(this.ctx, ref);
  }

  /** Re-creates kernel state from the store; returns what it repaired. */
  async restore(): Promise<string[]> {
    return (await import('./restore.js')).restore(this.ctx);
  }

  /** The firewall backend in use ('' without one). */
  get firewallName(): string {
    return this.ctx.firewall?.name ?? '';
  }

  /** Every difference between the store and the kernel; changes nothing (no lock, no write). */
  async doctor(): Promise<string[]> {
    const snapshot = await this.ctx.store.view((tx) => tx);
    return (await import('./doctor.js')).diagnose(this.ctx, snapshot);
  }
}
