// The collaborators every core operation receives explicitly (netavark's one context object):
// the store, the one Runner, the firewall backend, the name files, and the clock and id source.
// `op` is the state of the operation in progress; the transaction engine resets it.
import type { FwModel } from '../firewall/firewall.js';
import { DEFAULT_POOLS, type DefaultPool } from '../ipam/ipam.js';
import type { Firewall } from '../firewall/firewall.js';
import { NETNS_DIR } from '../kernel/ops.js';
import { Plugins, type PluginClient } from '../kernel/plugin.js';
import type { Runner } from '../kernel/runner.js';
import { randomBytes } from '../lib/random.js';
import type { JournalEntry, SandboxRecord } from '../model/records.js';
import type { Store, Txn } from '../store/store.js';
import type { NameFiles } from './names.js';
import type { Cluster, Snapshot } from '../cluster/cluster.js';

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
  /** The cluster store for networks of global scope, connected on first use; absent without `--cluster-store`. */
  cluster?: () => Promise<Cluster>;
  /** Non-fatal notices (recovered journal entries, ...). */
  warn?: (msg: string) => void;
  /** --debug notes. */
  debug?: (msg: string) => void;
  /** Clock and id source, injectable for deterministic tests. */
  now?: () => Date;
  id?: () => string;
}

export interface OpState {
  /** Sandboxes the operation changed, with the networks they were on before: their peers' name files are rewritten. */
  touched: Map<string, { sb: SandboxRecord; nets: Set<string> }>;
  /** The firewall model the kernel holds, as far as this process knows (null: unknown, rewrite all). */
  fwApplied: FwModel | null;
  /**
   * Set while `apply -f` runs several operations in one transaction (core/apply.ts): they run
   * in its `tx` without taking the lock again, and each keeps its journal entry in `kept` until
   * the whole plan succeeded, so a crash or a later failure undoes all of them.
   */
  outer?: { tx: Txn; kept: JournalEntry[] };
  /** The cluster as this operation read it (global networks only). */
  snap?: Snapshot;
}

export interface Ctx extends Required<Omit<CoreDeps, 'firewall' | 'names' | 'defaultPools' | 'cluster'>> {
  cluster: CoreDeps['cluster'];
  pools: DefaultPool[];
  firewall: Firewall | undefined;
  names: NameFiles | undefined;
  op: OpState;
}

export const newId = (): string => randomBytes(32).toString('hex');

export function makeCtx(deps: CoreDeps): Ctx {
  return {
    store: deps.store,
    runner: deps.runner,
    netnsDir: deps.netnsDir ?? NETNS_DIR,
    pools: deps.defaultPools ?? DEFAULT_POOLS,
    firewall: deps.firewall,
    names: deps.names,
    plugins: deps.plugins ?? new Plugins(),
    cluster: deps.cluster,
    warn: deps.warn ?? (() => undefined),
    debug: deps.debug ?? (() => undefined),
    now: deps.now ?? (() => new Date()),
    id: deps.id ?? newId,
    op: { touched: new Map(), fwApplied: null },
  };
}
