// The NetworkController (CNM): networks, endpoints and sandboxes. Each operation runs in one
// store transaction under the host-wide lock and has three phases:
//   1. validate and plan, touching nothing (every user error is raised here);
//   2. apply the drivers' kernel steps, journaling their undo first, rolling back on failure;
//   3. commit the records.
// Removals run the other way round: commit the records with a journal of the teardown, then
// tear down best-effort (a crash in between is finished by the next command).
import { randomBytes } from '../lib/random.js';
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Driver, Step } from '../drivers/driver.js';
import { bridgeDevice, bridgeDriver, ifPrefix } from '../drivers/bridge.js';
import { hostDriver, nullDriver } from '../drivers/simple.js';
import type { Firewall, FwModel } from '../firewall/firewall.js';
import { firewallModel } from '../firewall/model.js';
import { ipBatch, ipCleanup, listLinks, listRoutes } from '../kernel/ip.js';
import { ensureSysctl } from '../kernel/sysctl.js';
import { diagnose } from './doctor.js';
import { electGateway } from './gateway.js';
import type { NameFiles } from './names.js';
import type { Runner } from '../kernel/runner.js';
import { DEFAULT_POOLS, allocate, buildPools, defaultPool, parseSubnet, release, type DefaultPool, type TakenPrefix } from '../ipam/ipam.js';
import { ConflictError, ForbiddenError, InvalidArgumentError, NotFoundError, SystemError, UsageError } from '../lib/errors.js';
import { contains, parseCIDR, parseIP, macFromIPv4 } from '../lib/ip.js';
import { checkName } from '../lib/validate.js';
import { checkPorts, checkStaticAddress, matchesLabel, validateNaming, validateSettings } from './checks.js';
import { mergeSteps, parallelWave, runWave } from './steps.js';
import type { ReadTxn, Store, Txn } from '../store/store.js';
import type { EndpointRecord, EndpointSettings, JournalEntry, KernelCmd, NetworkRecord, PortMapping, SandboxRecord } from './types.js';

export const newId = (): string => randomBytes(32).toString('hex');

const PREDEFINED = ['bridge', 'host', 'none'] as const;

export interface ControllerDeps {
  store: Store;
  runner: Runner;
  /** Where named network namespaces live (`ip netns`). */
  netnsDir?: string;
  defaultPools?: DefaultPool[];
  /** Programs netctl's iptables chains; absent in engine tests that only look at `ip`. */
  firewall?: Firewall;
  /** Writes /etc/netns/<name>/{hosts,resolv.conf}; absent in engine tests. */
  names?: NameFiles;
  /** Non-fatal notices (recovered journal entries, ...). */
  warn?: (msg: string) => void;
  /** --debug notes. */
  debug?: (msg: string) => void;
  /** Clock and id source, injectable for deterministic tests. */
  now?: () => Date;
  id?: () => string;
}

export interface NetworkCreate {
  name: string;
  driver: string;
  subnets: string[];
  gateways: string[];
  ipRanges: string[];
  auxAddresses: Record<string, string>;
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ipamDriver: string;
  ipamOptions: Record<string, string>;
}

export interface SandboxCreate {
  name: string;
  net: string;
  settings: EndpointSettings;
  ports: PortMapping[];
  hostname?: string;
  dns?: { servers: string[]; search: string[]; options: string[] };
  extraHosts?: Array<{ name: string; ip: string }>;
}

const DRIVERS: Record<string, Driver> = { bridge: bridgeDriver, host: hostDriver, null: nullDriver };

const SHARED_NS_ERR = 'container sharing network namespace with another container or host cannot be connected to any other network';

export class Controller {
  private readonly store: Store;
  private readonly runner: Runner;
  private readonly netnsDir: string;
  private readonly pools: DefaultPool[];
  private readonly warn: (msg: string) => void;
  private readonly debug: (msg: string) => void;
  private readonly firewall: Firewall | undefined;
  private readonly names: NameFiles | undefined;
  /** Sandboxes an operation changed, with the networks they were on before: their peers' name files are rewritten. */
  private touched = new Map<string, { sb: SandboxRecord; nets: Set<string> }>();
  /** The firewall model the kernel holds, as far as this process knows (null: unknown, rewrite all). */
  private fwApplied: FwModel | null = null;
  private readonly now: () => Date;
  private readonly id: () => string;

  constructor(deps: ControllerDeps) {
    this.store = deps.store;
    this.runner = deps.runner;
    this.netnsDir = deps.netnsDir ?? '/var/run/netns';
    this.pools = deps.defaultPools ?? DEFAULT_POOLS;
    this.warn = deps.warn ?? (() => undefined);
    this.debug = deps.debug ?? (() => undefined);
    this.firewall = deps.firewall;
    this.names = deps.names;
    this.now = deps.now ?? (() => new Date());
    this.id = deps.id ?? newId;
  }

  // ------------------------------------------------------------------ transactions

  /** Read-only access without the lock; on a fresh root, root users get the predefined networks made first. */
  async view<T>(fn: (tx: ReadTxn) => T, canInit: boolean): Promise<T> {
    if (canInit && !this.store.exists()) await this.update(async () => undefined);
    return this.store.view(fn);
  }

  /** Mutating access: lock, finish any interrupted operation, make sure predefined networks exist. */
  private update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    return this.store.update(async (tx) => {
      this.touched.clear();
      this.fwApplied = firewallModel(tx);
      await this.recover(tx);
      await this.ensurePredefined(tx);
      const out = await fn(tx);
      this.refreshNames(tx);
      return out;
    });
  }

  /** Remembers that `sb` changes in this operation (call before the change). */
  private touch(tx: ReadTxn, sb: SandboxRecord): void {
    const nets = this.touched.get(sb.id)?.nets ?? new Set<string>();
    for (const e of tx.find('endpoints', 'sandboxId', sb.id)) nets.add(e.networkId);
    this.touched.set(sb.id, { sb: structuredClone(sb), nets });
  }

  /**
   * Rewrites the name files of every touched sandbox and of every sandbox netctl made that
   * shares a user-defined network with one (the only files a peer's change shows in).
   */
  private refreshNames(tx: ReadTxn): void {
    if (!this.names || this.touched.size === 0) return;
    const nets = new Set<string>();
    const ids = new Set(this.touched.keys());
    for (const [id, t] of this.touched) {
      t.nets.forEach((n) => nets.add(n));
      for (const e of tx.find('endpoints', 'sandboxId', id)) nets.add(e.networkId);
    }
    const owned = new Set(tx.values('sandboxes', 'id', { field: 'ownsNetns', value: true }));
    for (const n of owned.size ? nets : []) {
      if (tx.get('networks', n)?.predefined !== false) continue;
      for (const peer of tx.values('endpoints', 'sandboxId', { field: 'networkId', value: n })) if (owned.has(peer)) ids.add(peer);
    }
    const sections = new Map<string, string[]>(); // a network's lines, the same in every peer's file
    for (const id of ids) {
      const sb = tx.get('sandboxes', id);
      try {
        if (!sb) {
          const gone = this.touched.get(id)?.sb;
          if (gone?.ownsNetns) this.names.remove(gone.name);
        } else if (sb.ownsNetns) {
          this.names.write(tx, sb, sections, !this.touched.has(id));
        }
      } catch (e) {
        this.warn(`name files of container ${sb?.name ?? id}: ${(e as Error).message}`);
      }
    }
  }

  /** A journal entry found under the lock belongs to a process that died mid-way: finish it. */
  private async recover(tx: Txn): Promise<void> {
    const stale = tx.list('journal');
    if (stale.length === 0) return;
    for (const j of stale) {
      const errs = await ipCleanup(this.runner, j.cleanup);
      if (errs.length) {
        // Still failing: keep the entry so the next command (or restore) tries again.
        this.warn(`could not finish an interrupted ${j.op} (pid ${j.pid}): ${errs.join('; ')}`);
        continue;
      }
      for (const name of j.names ?? []) this.names?.remove(name);
      this.warn(`cleaned up after an interrupted ${j.op} (pid ${j.pid})`);
      tx.delete('journal', j.id);
    }
    if (stale.some((j) => j.firewall)) await this.syncFirewall(tx, true);
    await tx.flush();
  }

  /**
   * Applies kernel steps, then `commit` (record changes), then the firewall if asked. The undo of
   * every step is journaled before the first one; any failure undoes what ran, returns the store
   * to where it was and rethrows.
   */
  private async apply(tx: Txn, op: string, steps: Step[], commit: () => void, firewall: boolean | 'full' = false): Promise<void> {
    const work = mergeSteps(steps);
    if (work.length === 0 && !firewall) {
      commit();
      return;
    }
    // Without a firewall step, a failure can only come before commit(): the records are untouched.
    const sp = firewall ? tx.savepoint() : null;
    const entry = this.journal(op, work.flatMap((s) => s.undo), firewall !== false);
    tx.put('journal', entry);
    await tx.flushJournal();
    let i = 0;
    try {
      while (i < work.length) {
        // Consecutive steps in distinct sandboxes do not depend on each other: run them together.
        const wave = parallelWave(work, i);
        i += wave.length;
        await runWave(wave, (s) => ipBatch(this.runner, s.ns, s.cmds));
      }
      commit();
      if (firewall) await this.syncFirewall(tx, firewall === 'full');
    } catch (e) {
      const undo = work.slice(0, i).reverse().flatMap((s) => s.undo); // i is past the failed wave
      const errs = await ipCleanup(this.runner, undo);
      if (sp) tx.rollback(sp);
      else tx.delete('journal', entry.id);
      if (firewall) await this.syncFirewall(tx, true).catch((fe: Error) => errs.push(`firewall: ${fe.message}`));
      // An undo that failed stays journaled: the next command finishes it.
      if (errs.length) tx.put('journal', { ...entry, firewall: firewall !== false });
      await tx.flush();
      if (errs.length) throw new SystemError(`${(e as Error).message} (rollback: ${errs.join('; ')})`);
      // EXFULL from enslaving a veth: the kernel's BR_MAX_PORTS, which Docker reports as it comes.
      if (/Exchange full/.test((e as Error).message)) {
        throw new ConflictError(`cannot ${op}: its bridge has 1024 ports, the most a Linux bridge takes`, 'connect the container to another network');
      }
      throw e;
    }
    tx.delete('journal', entry.id);
  }

  /**
   * Teardown once the records are committed (in the transaction): journaled first so a crash
   * is finished later; best-effort; returns every error. The rules and the devices go at the
   * same time: rules match devices by name and hold no reference to them, and the records
   * that made either reachable are already gone.
   */
  private async teardown(tx: Txn, op: string, cmds: KernelCmd[], firewall = false, names: string[] = []): Promise<string[]> {
    if (cmds.length === 0 && !firewall) return [];
    const entry = { ...this.journal(op, cmds, firewall), ...(names.length ? { names } : {}) };
    tx.put('journal', entry);
    await tx.flush();
    const errs: string[] = [];
    const fw = firewall ? this.syncFirewall(tx).catch((e: Error) => { errs.push(`firewall: ${e.message}`); }) : undefined;
    errs.push(...(await ipCleanup(this.runner, cmds)));
    await fw;
    // A teardown that failed stays journaled: the next command (or restore) finishes it.
    if (errs.length === 0) tx.delete('journal', entry.id);
    return errs;
  }

  private journal(op: string, cleanup: KernelCmd[], firewall: boolean): JournalEntry {
    return { id: this.id(), pid: process.pid, op, started: this.now().toISOString(), cleanup, ...(firewall ? { firewall } : {}) };
  }

  /** Brings netctl's chains to what the store says (one iptables-save, one iptables-restore). */
  private async syncFirewall(tx: ReadTxn, full = false): Promise<void> {
    if (!this.firewall) return;
    const model = firewallModel(tx);
    if (model.networks.some((n) => !n.internal) && ensureSysctl('net.ipv4.ip_forward', '1')) {
      this.debug('enabled net.ipv4.ip_forward for bridge networks');
    }
    const prev = full ? null : this.fwApplied;
    this.fwApplied = null; // unknown until this succeeds
    await this.firewall.sync(prev, model);
    this.fwApplied = model;
  }

  private async ensurePredefined(tx: Txn): Promise<void> {
    const have = new Set(tx.list('networks').filter((n) => n.predefined).map((n) => n.name));
    const missing = PREDEFINED.filter((n) => !have.has(n));
    if (missing.length === 0) return;
    for (const name of missing) {
      const driver = name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null';
      const nw = this.newNetworkRecord(name, driver, true);
      if (name === 'bridge') nw.ipam.config = [defaultPool(this.pools, await this.takenPrefixes(tx, true))];
      nw.driverState = { ...DRIVERS[driver]?.initState(nw), ready: false };
      tx.put('networks', nw);
    }
  }

  private newNetworkRecord(name: string, driver: string, predefined: boolean): NetworkRecord {
    return {
      id: this.id(), name, driver, created: this.now().toISOString(), scope: 'local',
      enableIPv6: false, internal: false, attachable: false,
      ipam: { driver: 'default', options: {}, config: [] }, userSubnets: false,
      options: {}, labels: {}, predefined, driverState: {},
    };
  }

  /** Subnets no new pool may overlap: every network's, and (for default pools) the host's routes. */
  private async takenPrefixes(tx: ReadTxn, withRoutes: boolean): Promise<TakenPrefix[]> {
    const out: TakenPrefix[] = [];
    for (const n of tx.list('networks')) {
      for (const p of n.ipam.config) out.push({ prefix: parseSubnet(p.Subnet), owner: `network ${n.name}` });
    }
    if (withRoutes) {
      for (const r of await listRoutes(this.runner)) {
        const c = r.dst === 'default' ? null : parseCIDR(r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`);
        if (c) out.push({ prefix: c.prefix, owner: `a route${r.dev ? ` on ${r.dev}` : ''}` });
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ lookups

  static findNetwork(tx: ReadTxn, ref: string): NetworkRecord {
    const all = tx.list('networks');
    const exact = all.find((n) => n.id === ref) ?? all.find((n) => n.name === ref);
    if (exact) return exact;
    if (/^[0-9a-f]+$/.test(ref)) {
      const hits = all.filter((n) => n.id.startsWith(ref));
      if (hits.length === 1 && hits[0]) return hits[0];
      if (hits.length > 1) throw new NotFoundError(`network ${ref} is ambiguous (${hits.length} matches)`);
    }
    throw new NotFoundError(`network ${ref} not found`);
  }

  static findSandbox(tx: ReadTxn, ref: string): SandboxRecord | undefined {
    const exact = tx.get('sandboxes', ref) ?? tx.find('sandboxes', 'name', ref)[0];
    if (exact) return exact;
    if (/^[0-9a-f]+$/.test(ref)) {
      const hits = tx.ids('sandboxes').filter((id) => id.startsWith(ref));
      if (hits.length === 1) return tx.get('sandboxes', hits[0] ?? '');
      if (hits.length > 1) throw new NotFoundError(`container ${ref} is ambiguous (${hits.length} matches)`);
    }
    return undefined;
  }

  private requireSandbox(tx: ReadTxn, ref: string): SandboxRecord {
    const sb = Controller.findSandbox(tx, ref);
    if (!sb) throw new NotFoundError(`No such container: ${ref}`, `create it with: netctl sandbox create ${ref}`);
    return sb;
  }

  /** Endpoints of a sandbox and/or on a network, in join order (through the store's indexes). */
  static endpointsOf(tx: ReadTxn, of: { sandbox?: string; network?: string }): EndpointRecord[] {
    const eps = of.sandbox !== undefined
      ? tx.find('endpoints', 'sandboxId', of.sandbox).filter((e) => of.network === undefined || e.networkId === of.network)
      : tx.find('endpoints', 'networkId', of.network ?? '');
    return eps.sort((a, b) => a.seq - b.seq);
  }

  /** Ids of the networks that have endpoints (from the index: no endpoint is read). */
  static busyNetworks(tx: ReadTxn): Set<string> {
    return new Set(tx.values('endpoints', 'networkId'));
  }

  private driver(nw: NetworkRecord): Driver {
    const d = DRIVERS[nw.driver];
    if (!d) throw new NotFoundError(`plugin "${nw.driver}" not found`);
    return d;
  }

  // ------------------------------------------------------------------ networks

  async createNetwork(req: NetworkCreate): Promise<string> {
    checkName('network', req.name);
    const driver = DRIVERS[req.driver];
    if (!driver) throw new NotFoundError(`plugin "${req.driver}" not found`);
    if (req.ipamDriver !== 'default') throw new NotFoundError(`plugin "${req.ipamDriver}" not found`);
    const options = driver.parseOptions(req.options);
    for (const s of req.subnets) {
      const fam = parseSubnet(s).family;
      if (fam === 6 && !req.enableIPv6) throw new InvalidArgumentError(`IPv6 subnet ${s} needs --ipv6`);
    }
    return this.update(async (tx) => {
      if ((PREDEFINED as readonly string[]).includes(req.name)) {
        throw new ForbiddenError(`operation is not permitted on predefined ${req.name} network`);
      }
      if (tx.list('networks').some((n) => n.name === req.name)) {
        throw new ConflictError(`network with name ${req.name} already exists`, 'pick another name, or remove it first: netctl rm ' + req.name);
      }
      if (req.driver !== 'bridge') {
        throw new ForbiddenError(`only one instance of "${req.driver}" network is allowed`);
      }
      const nw = this.newNetworkRecord(req.name, req.driver, false);
      Object.assign(nw, {
        enableIPv6: req.enableIPv6, internal: req.internal, attachable: req.attachable,
        options, labels: req.labels,
        ipam: { driver: req.ipamDriver, options: req.ipamOptions, config: [] },
      });
      if (req.subnets.length > 0) {
        nw.ipam.config = buildPools(req, await this.takenPrefixes(tx, false));
        nw.userSubnets = true;
      } else {
        buildPools(req, []); // gateway / ip-range without a subnet are refused here
        nw.ipam.config = [defaultPool(this.pools, await this.takenPrefixes(tx, true))];
      }
      if (req.enableIPv6 && !nw.ipam.config.some((p) => p.Subnet.includes(':'))) {
        throw new InvalidArgumentError(`network ${req.name}: --ipv6 needs an IPv6 --subnet`);
      }
      nw.driverState = driver.initState(nw);
      await this.checkBridgeName(tx, nw, req.options['com.docker.network.bridge.name'] !== undefined);
      await this.apply(tx, `create network ${nw.name}`, driver.createNetwork(nw), () => {
        nw.driverState['ready'] = true;
        tx.put('networks', nw);
      }, driver.plumbs);
      return nw.id;
    });
  }

  /** Never adopt or re-address a bridge netctl did not create (moby#23622). */
  private async checkBridgeName(tx: ReadTxn, nw: NetworkRecord, userGiven: boolean): Promise<void> {
    const dev = nw.driverState['bridge'];
    if (typeof dev !== 'string') return;
    const other = tx.list('networks').find((n) => n.driverState['bridge'] === dev);
    if (other) throw new ConflictError(`bridge name ${dev} is already in use by network ${other.name}`);
    if (userGiven && (await listLinks(this.runner)).some((l) => l.ifname === dev)) {
      throw new ConflictError(`bridge name ${dev} is already in use`, 'netctl never takes over a device it did not create; choose another com.docker.network.bridge.name');
    }
  }

  /**
   * Removes networks in one transaction with one teardown for all (bridges in one batch, one
   * firewall transaction). Returns a result per argument, and the teardown's errors apart.
   */
  async removeNetworks(refs: string[], force: boolean): Promise<{ results: Array<Error | null>; errors: string[] }> {
    return this.update(async (tx) => {
      const results: Array<Error | null> = [];
      const cmds: KernelCmd[] = [];
      const names: string[] = [];
      for (const ref of refs) {
        try {
          const nw = this.dropNetwork(tx, ref);
          cmds.push(...this.networkTeardown(nw));
          names.push(nw.name);
          results.push(null);
        } catch (e) {
          results.push(force && e instanceof NotFoundError ? null : (e as Error));
        }
      }
      const errors = await this.teardown(tx, `rm network ${names.join(', ')}`, cmds, cmds.length > 0);
      return { results, errors };
    });
  }

  /** Record side of `rm`: refused for predefined networks and while containers are attached. */
  private dropNetwork(tx: Txn, ref: string): NetworkRecord {
    const nw = Controller.findNetwork(tx, ref);
    if (nw.predefined) throw new ForbiddenError(`${nw.name} is a pre-defined network and cannot be removed`);
    const eps = Controller.endpointsOf(tx, { network: nw.id });
    if (eps.length > 0) {
      const names = eps.map((e) => tx.get('sandboxes', e.sandboxId)?.name ?? e.sandboxId.slice(0, 12));
      throw new ConflictError(`network ${nw.name} has active endpoints (${names.join(', ')})`, `disconnect them first: netctl disconnect ${nw.name} <container>`);
    }
    tx.delete('networks', nw.id);
    return nw;
  }

  private networkTeardown(nw: NetworkRecord): KernelCmd[] {
    return nw.driverState['ready'] ? this.driver(nw).deleteNetwork(nw) : [];
  }

  async prune(labelFilters: Array<{ key: string; value?: string; negate: boolean }>, until?: Date): Promise<{ removed: string[]; errors: string[] }> {
    return this.update(async (tx) => {
      const busy = Controller.busyNetworks(tx);
      const removed: string[] = [];
      const cmds: KernelCmd[] = [];
      for (const nw of tx.list('networks').sort((a, b) => a.name.localeCompare(b.name))) {
        if (nw.predefined || busy.has(nw.id)) continue;
        if (until && new Date(nw.created) >= until) continue;
        if (!labelFilters.every((f) => matchesLabel(nw.labels, f.key, f.value) !== f.negate)) continue;
        cmds.push(...this.networkTeardown(this.dropNetwork(tx, nw.id)));
        removed.push(nw.name);
      }
      const errors = await this.teardown(tx, `prune ${removed.join(', ')}`, cmds, cmds.length > 0);
      return { removed, errors };
    });
  }

  // ------------------------------------------------------------------ endpoints

  /**
   * Connects one or many containers to a network in one transaction: all or nothing. Several
   * containers share one `ip -batch` on the host side; per-endpoint settings (an address, a
   * MAC, aliases) only make sense for one container and are refused for several.
   */
  async connect(netRef: string, ctrRefs: string[], settings: EndpointSettings): Promise<void> {
    validateSettings(settings);
    const refs = [...new Set(ctrRefs)];
    if (refs.length > 1 && (settings.IPAMConfig || settings.MacAddress || settings.Aliases?.length)) {
      throw new UsageError('--ip, --ip6, --link-local-ip, --mac-address and --alias apply to one container; connect several containers without them');
    }
    await this.update(async (tx) => {
      try {
        await this.connectIn(tx, netRef, refs, settings, false);
      } catch (e) {
        // An adopted namespace already had an eth<N> of someone else's: look, then try once more.
        if (!(e instanceof SystemError) || !/File exists/.test(e.message)) throw e;
        await this.connectIn(tx, netRef, refs, settings, true);
      }
    });
  }

  private async connectIn(tx: Txn, netRef: string, refs: string[], settings: EndpointSettings, probe: boolean): Promise<void> {
    const nw = Controller.findNetwork(tx, netRef);
    const steps: Step[] = [];
    const commits: Array<() => void> = [];
    const pending: EndpointRecord[] = [];
    const marks = new Map<string, Record<string, string>>();
    let firewall = false;
    for (const ref of refs) {
      const sb = Controller.findSandbox(tx, ref) ?? (await this.adopt(ref, probe));
      this.checkConnectable(nw, sb);
      if (sb.networks[nw.id] || Controller.endpointsOf(tx, { sandbox: sb.id, network: nw.id }).length) {
        throw new ConflictError(`endpoint with name ${sb.name} already exists in network ${nw.name}`);
      }
      this.touch(tx, sb);
      const record = () => {
        sb.networks[nw.id] = { name: nw.name, settings };
        tx.put('sandboxes', sb);
      };
      if (sb.state === 'running') {
        const plan = this.planJoin(tx, sb, nw, settings, pending, marks);
        pending.push(plan.ep);
        steps.push(...plan.steps);
        commits.push(plan.commit, record);
        firewall ||= plan.firewall || sb.ports.length > 0;
      } else {
        checkStaticAddress(nw, settings); // the rest (IP free? network still there?) is checked at start
        commits.push(record);
      }
    }
    const ordered = [...steps.filter((st) => !st.ns), ...steps.filter((st) => st.ns)];
    const what = refs.length === 1 ? refs[0] : `${refs.length} containers`;
    await this.apply(tx, `connect ${what} to ${nw.name}`, ordered, () => commits.forEach((c) => c()), firewall);
  }

  /**
   * A named netns made by `ip netns add` is adopted as a running sandbox (it is not deleted on
   * rm). Its eth<N> numbering starts at 0; with `probe`, after eth<N> of someone else's got in
   * the way, above the highest one there.
   */
  private async adopt(name: string, probe: boolean): Promise<SandboxRecord> {
    checkName('container', name);
    if (!existsSync(`${this.netnsDir}/${name}`)) {
      throw new NotFoundError(`No such container: ${name}`, `create it with: netctl sandbox create ${name}  (or: ip netns add ${name})`);
    }
    const used = probe
      ? (await listLinks(this.runner, name)).map((l) => /^eth(\d+)$/.exec(l.ifname)?.[1]).filter((n): n is string => n !== undefined).map(Number)
      : [];
    return {
      id: this.id(), name, created: this.now().toISOString(), mode: 'adopted', state: 'running',
      netns: name, ownsNetns: false, nextIf: used.length ? Math.max(...used) + 1 : 0, networks: {}, hostname: name, ports: [],
    };
  }

  /**
   * `sandbox attach`: manage a netns another runtime made. Given by PID, or by a path (a bind
   * mount such as /proc/PID/ns/net or a runtime's file), it gets a name under /var/run/netns
   * (what `ip netns attach` does), so every later `ip -n` reaches it; a name that is already
   * there is adopted as it is.
   */
  async attachSandbox(name: string, src: { netns?: string; pid?: number }): Promise<string> {
    checkName('container', name);
    if ((src.netns === undefined) === (src.pid === undefined)) throw new UsageError('give exactly one of --netns PATH or --pid PID');
    if (src.pid !== undefined && (!Number.isInteger(src.pid) || src.pid < 1)) throw new InvalidArgumentError(`invalid pid ${src.pid}`);
    if (src.netns !== undefined && (!src.netns.startsWith('/') || /[\s]/.test(src.netns))) throw new InvalidArgumentError(`invalid netns path ${src.netns}: an absolute path`);
    return this.update(async (tx) => {
      if (Controller.findSandbox(tx, name)?.name === name) throw new ConflictError(`container name ${name} is already in use`);
      const own = `${this.netnsDir}/${name}`;
      const named = src.netns !== undefined && resolvePath(src.netns) === resolvePath(own);
      const source = src.pid !== undefined ? `/proc/${src.pid}/ns/net` : src.netns ?? '';
      if (!existsSync(source)) throw new NotFoundError(src.pid !== undefined ? `process ${src.pid} does not exist` : `netns ${source} does not exist`);
      if (!named) {
        if (existsSync(own)) throw new ConflictError(`netns ${name} already exists`, `attach it by its name: netctl sandbox attach ${name} --netns ${own}`);
        // `ip netns attach NAME PID` names the netns of PID; run from inside the target netns, $$ is ip itself.
        const r = await this.runner.run('nsenter', [`--net=${source}`, 'sh', '-c', `exec ip netns attach ${name} $$`]);
        if (r.exitCode !== 0) throw new SystemError(`cannot attach ${source} as ${name}: ${r.stderr.trim()}`);
      }
      const sb = await this.adopt(name, true);
      if (!named) sb.ownsName = true;
      tx.put('sandboxes', sb);
      this.touch(tx, sb);
      return sb.id;
    });
  }

  private checkConnectable(nw: NetworkRecord, sb: SandboxRecord): void {
    if (sb.mode === 'host' || sb.mode.startsWith('container:')) throw new ForbiddenError(SHARED_NS_ERR);
    if (nw.driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
    if (nw.driver === 'null' && Object.keys(sb.networks).length > 0) {
      throw new ForbiddenError('container cannot be disconnected from none network or connected to none network');
    }
  }

  /**
   * Plans one endpoint of a running sandbox: address, interface names, kernel steps.
   * Mutates nothing; `commit` records the endpoint once the steps succeeded.
   */
  private planJoin(tx: ReadTxn, sb: SandboxRecord, nw: NetworkRecord, settings: EndpointSettings, pending: EndpointRecord[] = [],
    marks = new Map<string, Record<string, string>>()) {
    const driver = this.driver(nw);
    const live = [...Controller.endpointsOf(tx, { sandbox: sb.id }), ...pending.filter((p) => p.sandboxId === sb.id)];
    const ep: EndpointRecord = {
      id: this.id(), networkId: nw.id, sandboxId: sb.id, ifName: '', hostIf: '', mac: '',
      ipv4: '', ipv6: '', gateway4: '', gateway6: '', seq: live.reduce((m, e) => Math.max(m, e.seq + 1), 0),
      gwPriority: settings.GwPriority ?? 0,
    };
    const steps: Step[] = [];
    if (driver.plumbs) {
      // The network's addresses are searched for in the store's text: no endpoint record is read.
      const mine = pending.filter((p) => p.networkId === nw.id);
      const addrs = (e: EndpointRecord) => [e.ipv4, e.ipv6].filter(Boolean).map((a) => a.split('/')[0] ?? '');
      const onNet = { field: 'networkId', value: nw.id };
      const inUse = {
        keys: () => [...(nw.enableIPv6 ? ['ipv4', 'ipv6'] : ['ipv4']).flatMap((f) => tx.values('endpoints', f, onNet)), ...mine.flatMap(addrs)]
          .map((a) => a.split('/')[0] ?? '').filter(Boolean),
        get: (ip: string) => {
          const field = ip.includes(':') ? 'ipv6' : 'ipv4';
          const held = nw.ipam.config.flatMap((p) => tx.find('endpoints', field, `${ip}/${p.Subnet.split('/')[1] ?? ''}`)).find((e) => e.networkId === nw.id);
          const e = held ?? mine.find((p) => addrs(p).includes(ip));
          return e && `container ${tx.get('sandboxes', e.sandboxId)?.name ?? (e.sandboxId === sb.id ? sb.name : e.sandboxId.slice(0, 12))}`;
        },
      };
      // IPAM's marks as this operation moves them (several endpoints may join one network).
      const next = marks.get(nw.id) ?? { ...nw.ipam.next };
      marks.set(nw.id, next);
      const ctx = { network: nw.name, pools: nw.ipam.config, inUse, userSubnets: nw.userSubnets, next };
      ep.ipv4 = allocate(ctx, 4, settings.IPAMConfig?.IPv4Address) ?? '';
      if (nw.enableIPv6) ep.ipv6 = allocate(ctx, 6, settings.IPAMConfig?.IPv6Address) ?? '';
      else if (settings.IPAMConfig?.IPv6Address) throw new InvalidArgumentError(`network ${nw.name} does not have IPv6 enabled`);
      for (const p of nw.ipam.config) {
        const sub = parseSubnet(p.Subnet);
        const mine = parseIP((sub.family === 4 ? ep.ipv4 : ep.ipv6).split('/')[0] ?? '');
        if (mine && contains(sub, mine)) ep[sub.family === 4 ? 'gateway4' : 'gateway6'] = p.Gateway;
      }
      const v4 = parseIP(ep.ipv4.split('/')[0] ?? '');
      ep.mac = (settings.MacAddress ?? (v4 ? macFromIPv4(v4) : randomMac())).toLowerCase();
      ep.ifName = `${ifPrefix(nw)}${sb.nextIf}`;
      ep.hostIf = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
      if (!nw.driverState['ready']) steps.push(...driver.createNetwork(nw)); // predefined bridge: made on first use
    }
    const gateway = electGateway(tx, [...live, ep], nw) === ep;
    const joined = driver.join(nw, ep, sb, { gateway });
    // Taking the default route over replaces the previous one: its undo puts that one back.
    const before = gateway ? electGateway(tx, live) : undefined;
    const beforeNw = before && tx.get('networks', before.networkId);
    const inner = joined.find((st) => st.ns === sb.netns);
    if (before && beforeNw && inner) {
      inner.undo.push(...this.driver(beforeNw).setGateway(beforeNw, before, sb).flatMap((st) => st.cmds.map((args) => ({ ns: sb.netns, args }))));
    }
    steps.push(...joined);
    const commit = () => {
      if (driver.plumbs) {
        sb.nextIf++;
        nw.driverState['ready'] = true;
        nw.ipam.next = { ...marks.get(nw.id) };
        (tx as Txn).put('networks', nw);
      }
      (tx as Txn).put('endpoints', ep);
    };
    // A bridge coming into use, or a sandbox whose published ports may follow a new gateway.
    return { ep, steps, commit, firewall: driver.plumbs && !nw.driverState['ready'] };
  }

  /** Kernel commands that remove an endpoint, plus the default-route move if it carried it. */
  private planLeave(tx: ReadTxn, sb: SandboxRecord, ep: EndpointRecord): { cmds: KernelCmd[]; regateway: Step[] } {
    const nw = tx.get('networks', ep.networkId);
    const cmds = nw ? this.driver(nw).leave(nw, ep, sb) : ep.hostIf ? [{ args: ['link', 'del', ep.hostIf] }] : [];
    const live = Controller.endpointsOf(tx, { sandbox: sb.id });
    const regateway: Step[] = [];
    if (electGateway(tx, live) === ep) {
      const next = electGateway(tx, live.filter((e) => e !== ep));
      const nnw = next && tx.get('networks', next.networkId);
      if (next && nnw) regateway.push(...this.driver(nnw).setGateway(nnw, next, sb));
    }
    return { cmds, regateway };
  }

  async disconnect(netRef: string, ctrRef: string, force: boolean): Promise<void> {
    await this.update(async (tx) => {
      let nw: NetworkRecord;
      try {
        nw = Controller.findNetwork(tx, netRef);
      } catch (e) {
        if (force) return;
        throw e;
      }
      const sb = Controller.findSandbox(tx, ctrRef);
      if (!sb) {
        if (force) return;
        throw new NotFoundError(`No such container: ${ctrRef}`);
      }
      const eps = Controller.endpointsOf(tx, { sandbox: sb.id, network: nw.id });
      if (!sb.networks[nw.id] && eps.length === 0) {
        if (force) return;
        throw new NotFoundError(`container ${sb.name} is not connected to network ${nw.name}`);
      }
      if (sb.mode === 'host' || sb.mode.startsWith('container:')) {
        throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      }
      this.touch(tx, sb);
      delete sb.networks[nw.id];
      tx.put('sandboxes', sb);
      const errs = await this.removeEndpoints(tx, sb, eps, `disconnect ${sb.name} from ${nw.name}`);
      if (errs.length) throw new SystemError(`container ${sb.name} disconnected from ${nw.name} with errors: ${errs.join('; ')}`);
    });
  }

  /** Deletes endpoint records, then tears their devices down; moves the default route if needed. */
  private async removeEndpoints(tx: Txn, sb: SandboxRecord, eps: EndpointRecord[], op: string): Promise<string[]> {
    const { cmds, regateway } = this.dropEndpoints(tx, sb, eps);
    // The default-route move is part of the journaled teardown: a crash in between still ends with a route.
    const move = sb.state === 'running' ? regateway.flatMap((st) => st.cmds.map((args) => ({ ...(st.ns ? { ns: st.ns } : {}), args }))) : [];
    return this.teardown(tx, op, [...cmds, ...move], sb.ports.length > 0);
  }

  /** Deletes the endpoint records; returns their teardown and the default-route move it needs. */
  private dropEndpoints(tx: Txn, sb: SandboxRecord, eps: EndpointRecord[]): { cmds: KernelCmd[]; regateway: Step[] } {
    const cmds: KernelCmd[] = [];
    let regateway: Step[] = [];
    for (const ep of eps) {
      const plan = this.planLeave(tx, sb, ep);
      cmds.push(...plan.cmds);
      regateway = plan.regateway;
      tx.delete('endpoints', ep.id);
      // Its addresses may be handed out again: IPAM's search must start at or below them.
      const nw = tx.get('networks', ep.networkId);
      if (!nw) continue;
      let lowered = false;
      for (const a of [ep.ipv4, ep.ipv6]) lowered = release(nw.ipam.next, nw.ipam.config, a) || lowered;
      if (lowered) tx.put('networks', nw);
    }
    return { cmds, regateway };
  }

  // ------------------------------------------------------------------ doctor and restore

  /** Every difference between the store and the kernel; changes nothing (no lock, no write). */
  async doctor(): Promise<string[]> {
    const snapshot = await this.store.view((tx) => tx);
    return diagnose(snapshot, this.runner, this.netnsDir, this.firewall);
  }

  /**
   * Re-creates kernel state from the store (after a reboot, a deleted bridge, a flushed
   * iptables): bridges and their addresses, running sandboxes' netns and endpoints, veths
   * re-enslaved to recreated bridges, then every firewall rule. Idempotent: what exists is
   * left alone; returns what it repaired.
   */
  async restore(): Promise<string[]> {
    return this.update(async (tx) => {
      const done: string[] = [];
      for (const sb of tx.list('sandboxes')) this.touch(tx, sb);
      const links = new Map((await listLinks(this.runner)).map((l) => [l.ifname, l]));
      const steps: Step[] = [];
      for (const nw of tx.list('networks')) {
        const driver = this.driver(nw);
        if (!driver.plumbs || !nw.driverState['ready']) continue;
        const br = bridgeDevice(nw);
        if (!links.has(br)) {
          steps.push(...driver.createNetwork(nw));
          done.push(`bridge ${br} of network ${nw.name}`);
        } else {
          // Idempotent: an address someone removed comes back, a present one is left as it is.
          steps.push({ cmds: [...nw.ipam.config.map((p) => ['addr', 'replace', `${p.Gateway}/${p.Subnet.split('/')[1]}`, 'dev', br]), ['link', 'set', br, 'up']], undo: [] });
        }
      }
      // What netctl made and the store does not know any more goes.
      const ours = new Set(tx.list('networks').map((n) => bridgeDevice(n)).filter(Boolean));
      const veths = new Set(tx.list('endpoints').map((e) => e.hostIf));
      const extra: KernelCmd[] = [];
      for (const [name, l] of links) {
        if ((/^nc-[0-9a-f]{12}$/.test(name) && !ours.has(name)) || (l.master && ours.has(l.master) && !veths.has(name))) {
          extra.push({ args: ['link', 'del', name] });
          done.push(`removed leftover ${name}`);
        }
      }
      const leftovers = await ipCleanup(this.runner, extra);
      if (leftovers.length) this.warn(`could not remove leftovers: ${leftovers.join('; ')}`);
      for (const sb of tx.list('sandboxes')) {
        if (sb.state !== 'running' || !sb.netns || sb.mode.startsWith('container:')) continue;
        if (!existsSync(`${this.netnsDir}/${sb.netns}`)) {
          if (!sb.ownsNetns) {
            this.warn(`netns ${sb.netns} of container ${sb.name} is gone and was not made by netctl; left alone`);
            continue;
          }
          steps.push({ cmds: [['netns', 'add', sb.netns]], undo: [{ args: ['netns', 'del', sb.netns] }] });
          steps.push({ ns: sb.netns, cmds: [['link', 'set', 'lo', 'up']], undo: [] });
          done.push(`netns ${sb.netns}`);
        }
        const eps = Controller.endpointsOf(tx, { sandbox: sb.id });
        const gw = electGateway(tx, eps);
        for (const ep of eps) {
          const nw = tx.get('networks', ep.networkId);
          if (!nw || !ep.hostIf) continue;
          const host = links.get(ep.hostIf);
          if (!host) {
            steps.push(...this.driver(nw).join(nw, ep, sb, { gateway: ep === gw }));
            done.push(`endpoint ${ep.ifName} of container ${sb.name} on ${nw.name}`);
            continue;
          }
          if (host.master !== bridgeDevice(nw)) {
            steps.push({ cmds: [['link', 'set', ep.hostIf, 'master', bridgeDevice(nw), 'up']], undo: [] });
            done.push(`${ep.hostIf} re-attached to ${bridgeDevice(nw)}`);
          }
          // Inside the sandbox: address, link and default route converge (replace is idempotent).
          const inner = this.driver(nw).join(nw, ep, sb, { gateway: ep === gw }).filter((st) => st.ns);
          steps.push(...inner.map((st) => ({ ...st, cmds: st.cmds.map((c) => (c[0] === 'addr' && c[1] === 'add' ? ['addr', 'replace', ...c.slice(2)] : c)) })));
        }
      }
      // Host namespace first (bridges, netns, veths), then inside each sandbox.
      const ordered = [...steps.filter((st) => !st.ns), ...steps.filter((st) => st.ns)];
      await this.apply(tx, 'restore', ordered, () => undefined, 'full');
      return done;
    });
  }

  // ------------------------------------------------------------------ sandboxes

  async createSandbox(req: SandboxCreate): Promise<string> {
    checkName('container', req.name);
    validateSettings(req.settings);
    validateNaming(req);
    return this.update(async (tx) => {
      if (Controller.findSandbox(tx, req.name)?.name === req.name) {
        throw new ConflictError(`container name ${req.name} is already in use`, `remove it first: netctl sandbox rm ${req.name}`);
      }
      const host = req.net === 'host';
      if (!host && existsSync(`${this.netnsDir}/${req.name}`)) {
        throw new ConflictError(`netns ${req.name} already exists`, `to manage it with netctl: netctl sandbox attach ${req.name} --netns /var/run/netns/${req.name}`);
      }
      const shared = req.net.startsWith('container:') ? this.sharedWith(tx, req.net.slice('container:'.length)) : null;
      const hasEndpointFlags = Boolean(req.settings.IPAMConfig || req.settings.MacAddress || req.settings.Aliases?.length);
      if ((host || shared) && req.ports.length) {
        throw new InvalidArgumentError(`conflicting options: port publishing and the ${host ? 'host' : 'container'} network mode (sandbox ${req.name})`);
      }
      const sb: SandboxRecord = {
        id: this.id(), name: req.name, created: this.now().toISOString(), mode: '', state: 'running',
        netns: req.name, ownsNetns: true, nextIf: 0, networks: {}, hostname: req.hostname ?? req.name,
        ports: checkPorts(tx, req.name, req.ports),
        ...(req.dns ? { dns: req.dns } : {}),
        ...(req.extraHosts?.length ? { extraHosts: req.extraHosts } : {}),
      };
      if (shared) {
        if (hasEndpointFlags) throw new InvalidArgumentError(`conflicting options: --ip, --mac-address or --alias with --net ${req.net}`);
        Object.assign(sb, { mode: `container:${shared.id}`, netns: shared.netns, ownsNetns: false });
      } else {
        const nw = Controller.findNetwork(tx, req.net === 'none' ? 'none' : req.net);
        if (nw.driver !== 'bridge' && hasEndpointFlags) {
          throw new InvalidArgumentError(`--ip, --ip6, --mac-address and --alias need a bridge network (sandbox ${req.name} uses --net ${req.net})`);
        }
        sb.networks[nw.id] = { name: nw.name, settings: req.settings };
        sb.mode = host ? 'host' : req.net === 'none' ? 'none' : req.net === 'bridge' ? 'bridge' : 'network';
        if (host) Object.assign(sb, { netns: '', ownsNetns: false });
      }
      const plan = this.planStart(tx, sb);
      await this.apply(tx, `create sandbox ${sb.name}`, plan.steps, () => {
        plan.commit();
        tx.put('sandboxes', sb);
      }, plan.firewall);
      this.touch(tx, sb);
      return sb.id;
    });
  }

  /** The running sandbox whose netns a `container:OTHER` sandbox joins. */
  private sharedWith(tx: ReadTxn, ref: string): SandboxRecord {
    const other = this.requireSandbox(tx, ref);
    if (other.state !== 'running') throw new ConflictError(`cannot join the network namespace of container ${other.name}: it is not running`);
    if (other.mode === 'host' || other.mode.startsWith('container:')) {
      throw new ConflictError(`cannot join the network namespace of container ${other.name}: it shares another one itself`);
    }
    return other;
  }

  /** Sandboxes sharing `sb`'s netns (`--net container:sb`). */
  private dependents(tx: ReadTxn, sb: SandboxRecord): SandboxRecord[] {
    return tx.find('sandboxes', 'mode', `container:${sb.id}`);
  }

  /** The netns (when netctl owns it) and an endpoint for every recorded network. */
  private planStart(tx: ReadTxn, sb: SandboxRecord): { steps: Step[]; commit: () => void; firewall: boolean } {
    const steps: Step[] = [];
    if (sb.ownsNetns) {
      steps.push({ cmds: [['netns', 'add', sb.netns]], undo: [{ args: ['netns', 'del', sb.netns] }] });
      steps.push({ ns: sb.netns, cmds: [['link', 'set', 'lo', 'up']], undo: [] });
    } else if (sb.netns && !existsSync(`${this.netnsDir}/${sb.netns}`)) {
      throw new NotFoundError(`netns ${sb.netns} of container ${sb.name} does not exist any more`);
    }
    const pending: EndpointRecord[] = [];
    const marks = new Map<string, Record<string, string>>();
    const commits: Array<() => void> = [];
    let firewall = sb.ports.length > 0;
    let nextIf = sb.nextIf;
    for (const [netId, rec] of Object.entries(sb.networks)) {
      const nw = tx.get('networks', netId);
      if (!nw) throw new NotFoundError(`network ${rec.name} not found (container ${sb.name} was connected to it)`, `netctl disconnect -f ${rec.name} ${sb.name}`);
      const plan = this.planJoin(tx, { ...sb, nextIf }, nw, rec.settings, pending, marks);
      if (plan.ep.ifName) nextIf++;
      plan.ep.sandboxId = sb.id;
      pending.push(plan.ep);
      steps.push(...plan.steps);
      commits.push(plan.commit);
      firewall ||= plan.firewall;
    }
    // Host-namespace work first, then one batch inside the sandbox: two processes in all.
    const ordered = [...steps.filter((s) => !s.ns), ...steps.filter((s) => s.ns)];
    return {
      steps: ordered,
      firewall,
      commit: () => {
        commits.forEach((c) => c());
        sb.nextIf = nextIf;
        sb.state = 'running';
      },
    };
  }

  async startSandbox(ref: string): Promise<void> {
    await this.update(async (tx) => {
      const sb = this.requireSandbox(tx, ref);
      if (sb.state === 'running') return;
      if (sb.mode.startsWith('container:')) sb.netns = this.sharedWith(tx, sb.mode.slice('container:'.length)).netns;
      checkPorts(tx, sb.name, sb.ports, sb.id);
      this.touch(tx, sb);
      const plan = this.planStart(tx, sb);
      await this.apply(tx, `start sandbox ${sb.name}`, plan.steps, () => {
        plan.commit();
        tx.put('sandboxes', sb);
      }, plan.firewall);
    });
  }

  /** Leaves every network (keeping the recorded settings) and drops the netns if netctl made it. */
  /**
   * Record side of stop/rm: the sandbox leaves every network (keeping its recorded settings
   * unless removed) and those sharing its netns stop too. Returns the teardown to run.
   */
  private planStop(tx: Txn, sb: SandboxRecord, remove: boolean): { cmds: KernelCmd[]; firewall: boolean } {
    this.touch(tx, sb);
    const eps = Controller.endpointsOf(tx, { sandbox: sb.id });
    const { cmds } = this.dropEndpoints(tx, sb, eps);
    if (sb.ownsNetns && sb.state === 'running') cmds.push({ args: ['netns', 'del', sb.netns] });
    // The name binding attach made goes with the sandbox; the namespace stays with its processes.
    else if (remove && sb.ownsName) cmds.push({ args: ['netns', 'del', sb.netns] });
    const firewall = sb.ports.length > 0 && sb.state === 'running';
    sb.state = 'stopped';
    if (remove) tx.delete('sandboxes', sb.id);
    else tx.put('sandboxes', sb);
    for (const d of this.dependents(tx, sb)) tx.put('sandboxes', { ...d, state: 'stopped' });
    return { cmds, firewall };
  }

  async stopSandbox(ref: string): Promise<void> {
    await this.update(async (tx) => {
      const sb = this.requireSandbox(tx, ref);
      if (sb.state === 'stopped') return;
      const plan = this.planStop(tx, sb, false);
      const errs = await this.teardown(tx, `stop sandbox ${sb.name}`, plan.cmds, plan.firewall);
      if (errs.length) throw new SystemError(`container ${sb.name} stopped with errors: ${errs.join('; ')}`);
    });
  }

  /**
   * Removes sandboxes in one transaction with one teardown for all of them (their veths go in
   * one batch). Returns a result per argument, and the teardown's errors apart.
   */
  async removeSandboxes(refs: string[], force: boolean): Promise<{ results: Array<Error | null>; errors: string[] }> {
    return this.update(async (tx) => {
      const results: Array<Error | null> = [];
      const cmds: KernelCmd[] = [];
      let firewall = false;
      const names: string[] = [];
      const owned: string[] = [];
      for (const ref of refs) {
        try {
          const sb = Controller.findSandbox(tx, ref);
          if (!sb) {
            if (force) { results.push(null); continue; }
            throw new NotFoundError(`No such container: ${ref}`);
          }
          const users = this.dependents(tx, sb).filter((d) => d.state === 'running' && !refs.includes(d.name));
          if (users.length && !force) {
            throw new ConflictError(`container ${sb.name} is in use by ${users.map((d) => d.name).join(', ')} (sharing its network namespace)`, 'remove those first, or use -f');
          }
          if (sb.ownsNetns) owned.push(sb.name);
          const plan = this.planStop(tx, sb, true);
          cmds.push(...plan.cmds);
          firewall ||= plan.firewall;
          names.push(sb.name);
          results.push(null);
        } catch (e) {
          results.push(e as Error);
        }
      }
      const errors = await this.teardown(tx, `rm sandbox ${names.join(', ')}`, cmds, firewall, owned);
      return { results, errors };
    });
  }
}

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
