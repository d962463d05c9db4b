// The collaborators every core operation receives explicitly (netavark's one context object):
// the store, the one Runner, the firewall backend, the name files, the executors of journaled
// calls, the scope of networks beyond this host, and the clock and id source. `op` is the state
// of the operation in progress; each transaction starts it anew (operation.ts).
import type { EngineCtx, Executors } from '../engine/engine.js';
import type { Driver } from '../drivers/driver.js';
import { remember, syncFirewall, type FwApplied } from '../firewall/sync.js';
import { DEFAULT_POOLS, type DefaultPool } from '../ipam/ipam.js';
import type { Firewall } from '../firewall/firewall.js';
import { NETNS_DIR } from '../kernel/ops.js';
import { Plugins, type PluginClient } from '../kernel/plugin.js';
import type { Runner } from '../kernel/runner.js';
import { randomBytes } from '../lib/random.js';
import { InvalidArgumentError } from '../lib/errors.js';
import type {
  EndpointRecord,
  EndpointSettings,
  JournalEntry,
  KernelCmd,
  NetworkRecord,
  PluginCall,
  SandboxRecord,
  Step,
} from '../model/records.js';
import type { NetworkCreate } from '../model/requests.js';
import type { ReadTxn, Store, Txn } from '../store/store.js';
import type { NameFiles } from './names.js';
import type { ViewChange } from '../dns/protocol.js';
import type { ResolverStatus } from '../dns/protocol.js';

export interface CoreDeps {
  store: Store;
  runner: Runner;
  /** Where named network namespaces live (`ip netns`); engine tests point it at a temp dir. */
  netnsDir?: string;
  defaultPools?: DefaultPool[];
  /** Programs netctl's firewall; absent in engine tests that only look at `ip`. */
  firewall?: Firewall;
  /** Writes /etc/netns/<name>/{hosts,resolv.conf}; absent in engine tests. */
  names?: NameFiles;
  /** Remote drivers' plugins (found and activated on first use). */
  plugins?: PluginClient;
  /** This host's DNS resolver (src/dns/); absent in engine tests. */
  resolver?: Resolver;
  /** Networks of global scope (overlays): the module above the core that handles them. */
  scope?: Scope;
  /** Non-fatal notices (recovered journal entries, ...). */
  warn?: (msg: string) => void;
  /** --debug notes. */
  debug?: (msg: string) => void;
  /** Clock and id source, injectable for deterministic tests. */
  now?: () => Date;
  id?: () => string;
}

/** This host's resolver as commands see it (docs/reference.md §14). */
export interface Resolver {
  /** After a commit: the resolver serves the change (started or stopped as it needs) before this returns. */
  sync(change: ViewChange): Promise<void>;
  /** What it serves now, or null when none runs. */
  status(): Promise<ResolverStatus | null>;
  /** An endpoint is planned on a network with a resolver: start one if none runs (sync waits for it). */
  prestart(): void;
  /** The operation failed: a resolver prestart() started stops unless it serves something. */
  abandon(): Promise<void>;
}

export interface OpState {
  /** Sandboxes the operation changed, with the networks they were on before: their peers' name files are rewritten. */
  touched: Map<string, { sb: SandboxRecord; nets: Set<string> }>;
  /** What the firewall holds, as far as this operation knows (null: unknown, rewrite all). */
  fwApplied: FwApplied | null;
  /**
   * Set while `apply -f` runs several operations in one transaction (core/apply.ts): they run
   * in its `tx` without taking the lock again, and each keeps its journal entry in `kept` until
   * the whole plan succeeded, so a crash or a later failure undoes all of them.
   */
  outer?: { tx: Txn; kept: JournalEntry[] };
  /** Undone at once if the operation fails (a runtime container's name made for it). */
  onAbort?: Array<() => void>;
}

export interface Ctx
  extends
    Required<Omit<CoreDeps, 'firewall' | 'names' | 'defaultPools' | 'scope' | 'resolver'>>,
    Omit<EngineCtx, 'op' | 'settle'> {
  settle(tx: ReadTxn, full: boolean): Promise<void>;
  pools: DefaultPool[];
  firewall: Firewall | undefined;
  names: NameFiles | undefined;
  scope: Scope | undefined;
  resolver: Resolver | undefined;
  executors: Executors;
  op: OpState;
}

/** IPAM's marks per network as one operation moves them (several endpoints may join one network). */
export type Marks = Map<string, Record<string, string>>;

/** One endpoint of a running sandbox, planned (core/plan.ts): steps to run, then `commit`. */
export interface JoinPlan {
  ep: EndpointRecord;
  steps: Step[];
  /** Records the endpoint once the steps succeeded. */
  commit: () => void;
  /** The firewall must be synced (a network comes into use). */
  firewall: boolean;
}

/**
 * Networks of another scope than this host's (global: overlays whose truth is a cluster store)
 * are the business of a module above the core (src/overlay/), which the CLI plugs in. The core
 * asks it through these hooks and names no such module; a core without one serves local
 * networks only.
 */
export interface Scope {
  /** The executors of the calls this scope journals (they need the operation's context). */
  executors(ctx: Ctx): Executors;

  // --- resolve a network
  /** What a user typed, as Docker resolves it, with the scope's networks brought up to date. */
  resolveNetwork(ctx: Ctx, tx: Txn, ref: string): Promise<NetworkRecord>;
  /** `create` of a network whose driver is of this scope (`driver.global`). */
  createNetwork(ctx: Ctx, req: NetworkCreate, driver: Driver, options: Record<string, string>): Promise<string>;
  /** `rm` of one of its networks: it leaves the scope (refused while it is in use anywhere). */
  removeNetwork(ctx: Ctx, tx: Txn, nw: NetworkRecord): Promise<void>;
  /** Networks it manages, which no file or prune of this host's removes. */
  manages(nw: NetworkRecord): boolean;

  /**
   * Before endpoints join (`join`) or leave the given networks of the scope: reads what it
   * must (an unreachable store fails the command before anything changes), and before a
   * join prepares this host's part. Returns the records as they are now.
   */
  prepare(ctx: Ctx, tx: Txn, nets: NetworkRecord[], join: boolean): Promise<NetworkRecord[]>;

  // --- the address source
  /** The step that obtains `ep`'s address; `plumb` gives the steps that follow its answer. */
  addressStep(
    nw: NetworkRecord,
    ep: EndpointRecord,
    sb: SandboxRecord,
    settings: EndpointSettings,
    plumb: () => Step[],
  ): Step;
  /** What gives `ep`'s address back when it leaves. */
  releaseAddress(nw: NetworkRecord, ep: EndpointRecord): KernelCmd[];
  /** When the last endpoint of `nw` left this host: what goes with it (its devices here). */
  idle(tx: Txn, nw: NetworkRecord): KernelCmd[];

  // --- after commit
  /** After endpoints of the scope's networks changed here: bring this host's peers up to date. */
  afterCommit(ctx: Ctx, tx: Txn, nets: NetworkRecord[]): Promise<void>;
  /** `restore`: this host's part of every network of the scope, from what the kernel has. */
  restore(ctx: Ctx, tx: Txn): Promise<void>;

  // --- the sandbox's way out
  /** The join to the way-out network, planned beside a connect to `adding` (undefined: none wanted). */
  wayOutPlan(
    ctx: Ctx,
    tx: Txn,
    sb: SandboxRecord,
    adding: NetworkRecord,
    pending: EndpointRecord[],
    marks: Marks,
  ): Promise<JoinPlan | undefined>;
  /** A new sandbox's record: the way-out network added when it wants one. */
  recordWayOut(ctx: Ctx, tx: Txn, sb: SandboxRecord): Promise<void>;
  /** After `sb`'s networks changed: joins or leaves the way-out network as it now wants. */
  fixWayOut(ctx: Ctx, tx: Txn, sb: SandboxRecord): Promise<void>;
}

/** The scope a network of global scope needs. */
export function requireScope(ctx: Ctx): Scope {
  if (!ctx.scope) throw new InvalidArgumentError('networks of global scope need the overlay module');
  return ctx.scope;
}

export const newId = (): string => randomBytes(32).toString('hex');

export function makeCtx(deps: CoreDeps): Ctx {
  const plugins = deps.plugins ?? new Plugins();
  const viaPlugin = { send: (c: PluginCall) => plugins.call(c) };
  const ctx: Ctx = {
    store: deps.store,
    runner: deps.runner,
    netnsDir: deps.netnsDir ?? NETNS_DIR,
    pools: deps.defaultPools ?? DEFAULT_POOLS,
    firewall: deps.firewall,
    names: deps.names,
    plugins,
    scope: deps.scope,
    resolver: deps.resolver,
    executors: { NetworkDriver: viaPlugin, IpamDriver: viaPlugin },
    warn: deps.warn ?? (() => undefined),
    debug: deps.debug ?? (() => undefined),
    now: deps.now ?? (() => new Date()),
    id: deps.id ?? newId,
    op: { touched: new Map(), fwApplied: null },
    async settle(tx, full) {
      if (!ctx.firewall) return;
      const applied = full ? null : ctx.op.fwApplied;
      ctx.op.fwApplied = null; // unknown until this succeeds
      ctx.op.fwApplied = await syncFirewall(ctx.firewall, ctx.runner, tx, applied, ctx.debug);
      // After a whole rewrite: what the sandboxes changed so far hold now, for a later change of theirs.
      if (!applied) for (const id of ctx.op.touched.keys()) remember(ctx.op.fwApplied, tx, id);
    },
    prefetch: () => ctx.firewall?.prefetch?.(),
    forget: (names) => names.forEach((n) => ctx.names?.remove(n)),
  };
  if (deps.scope) Object.assign(ctx.executors, deps.scope.executors(ctx));
  return ctx;
}
