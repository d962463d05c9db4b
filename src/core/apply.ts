// `netctl apply -f FILE` (docs/reference.md §13): make the host match a declarative topology. The plan is
// the difference between the file and the store, worked out before anything changes (every
// refusal comes first) and carried out by the same operations the commands use, all in ONE
// store transaction under the lock: removals first (they are final, as a teardown always is),
// then every creation with its journal entry kept until the whole plan succeeded, so that a
// failure, or a crash, undoes every creation, not only the last one. The file describing what
// is there already makes an empty plan: applying twice changes nothing.
import { driverFor, PREDEFINED, resolveDriver } from '../drivers/index.js';
import { buildPools } from '../ipam/ipam.js';
import { checkName } from '../lib/validate.js';
import { validateNaming, validateSettings } from './checks.js';
import { ConflictError, RollbackError, SystemError } from '../lib/errors.js';
import {
  sharedNetnsOf,
  type EndpointSettings,
  type NetworkRecord,
  type PortMapping,
  type SandboxRecord,
} from '../model/records.js';
import type { NetworkCreate, PolicyChange } from '../model/requests.js';
import type { ReadTxn } from '../store/store.js';
import type { Ctx } from './context.js';
import { connect, disconnect } from './endpoints.js';
import { createNetwork, removeNetworks } from './networks.js';
import { createSandbox, removeSandboxes, startSandbox, stopSandbox } from './sandboxes.js';
import { cleanup, journalEntry } from '../engine/engine.js';
import { transaction } from './operation.js';
import { applyChange, changePolicy } from './policy.js';
import { planUpdate, updateNetwork, type NetworkUpdate } from './update.js';

export interface DesiredSandbox {
  name: string;
  state: 'running' | 'stopped';
  /** `container:NAME`; otherwise the first network is the sandbox's `--net`. */
  net?: string;
  hostname?: string;
  networks: Array<{ network: string; settings: EndpointSettings }>;
  ports: PortMapping[];
  dns?: { servers: string[]; search: string[]; options: string[] };
  extraHosts?: Array<{ name: string; ip: string }>;
  /** Its egress policy (docs/reference.md §16); absent: none. */
  egress?: PolicyChange & { op: 'set' };
}

export interface Topology {
  networks: NetworkCreate[];
  sandboxes: DesiredSandbox[];
}

export interface Change {
  sign: '+' | '~' | '-';
  /** `network web`, `endpoint a on web: ...`: what the plan prints. */
  text: string;
}

interface Step extends Change {
  /** Order of execution: below CREATE, removals (final); from CREATE on, undone together on failure. */
  phase: number;
  run: () => Promise<void>;
}

const P = {
  rmSandbox: 0,
  disconnect: 1,
  stop: 2,
  rmNetwork: 3,
  CREATE: 4,
  network: 4,
  updateNetwork: 5,
  sandbox: 6,
  sharing: 7,
  connect: 8,
  policy: 8.5, // after the networks it names (a name rule needs a resolver network), before a start
  start: 9,
};

/** JSON with sorted keys and without empty values, to compare what a file and a record say. */
function canon(v: unknown): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.length ? x.map(norm) : undefined;
    if (x && typeof x === 'object') {
      const e = Object.entries(x)
        .map(([k, y]) => [k, norm(y)] as const)
        .filter(([, y]) => y !== undefined && y !== 0 && y !== '');
      return e.length ? Object.fromEntries(e.sort(([a], [b]) => (a < b ? -1 : 1))) : undefined;
    }
    return x;
  };
  return JSON.stringify(norm(v) ?? null);
}

const portKey = (ps: PortMapping[]) =>
  ps
    .map((p) => `${p.hostIP}:${p.hostPort}:${p.containerPort}/${p.proto}`)
    .sort()
    .join(',');

async function ok(r: Promise<{ results: Array<Error | null>; errors: string[] }>): Promise<void> {
  const { results, errors } = await r;
  const e = results.find((x) => x);
  if (e) throw e;
  if (errors.length) throw new SystemError(errors.join('; '));
}

/** What cannot change in place, named; undefined when the record matches the file there. */
function fixedDiff(nw: NetworkRecord, want: NetworkCreate): string | undefined {
  if (nw.driver !== want.driver) return `driver (${nw.driver}, the file says ${want.driver})`;
  if (nw.enableIPv6 !== want.enableIPv6) return 'ipv6';
  if (nw.internal !== want.internal) return 'internal';
  if (want.subnets.length) {
    const have = nw.userSubnets
      ? nw.ipam.config
          .map((p) => p.Subnet)
          .sort()
          .join(',')
      : '';
    if (have !== [...want.subnets].sort().join(','))
      return `subnets (${nw.ipam.config.map((p) => p.Subnet).join(',')}, the file says ${want.subnets.join(',')})`;
    const gws = new Set(nw.ipam.config.map((p) => p.Gateway));
    const g = want.gateways.find((x) => !gws.has(x));
    if (g) return `gateway (the file says ${g})`;
  }
  return undefined;
}

function planNetworks(ctx: Ctx, tx: ReadTxn, top: Topology, prune: boolean, file: string): Step[] {
  const steps: Step[] = [];
  const have = new Map(tx.list('networks').map((n) => [n.name, n]));
  for (const want of top.networks) {
    if (PREDEFINED.some((p) => p.name === want.name))
      throw new ConflictError(`${file}: ${want.name} is a pre-defined network; leave it out of the file`);
    const nw = have.get(want.name);
    if (!nw) {
      const subnets = want.subnets.length ? `, ${want.subnets.join(', ')}` : '';
      steps.push({
        sign: '+',
        text: `network ${want.name} (${want.driver}${subnets})`,
        phase: P.network,
        run: async () => {
          await createNetwork(ctx, want);
        },
      });
      continue;
    }
    const fixed = fixedDiff(nw, want);
    if (fixed)
      throw new ConflictError(
        `network ${want.name} differs from ${file} in its ${fixed}, which cannot change in place`,
        `remove it first (netctl rm ${want.name}), then apply again`,
      );
    const options = driverFor(nw.driver).parseOptions({ ...nw.options, ...want.options }, nw.name);
    const change: NetworkUpdate = {
      labelAdd: Object.fromEntries(Object.entries(want.labels).filter(([k, v]) => nw.labels[k] !== v)),
      labelRm: Object.keys(nw.labels).filter((k) => !(k in want.labels)),
      options: Object.fromEntries(Object.entries(options).filter(([k, v]) => nw.options[k] !== v)),
    };
    const { changes } = planUpdate(tx, structuredClone(nw), change); // refuses what update refuses, now
    if (changes.length)
      steps.push({
        sign: '~',
        text: `network ${nw.name}: ${changes.join(', ')}`,
        phase: P.updateNetwork,
        run: () => updateNetwork(ctx, nw.id, change),
      });
  }
  if (prune) {
    const named = new Set(top.networks.map((n) => n.name));
    for (const nw of have.values()) {
      // A network of global scope, and one its scope manages (the gwbridge), are not this file's to prune.
      if (nw.predefined || named.has(nw.name) || nw.scope !== 'local' || ctx.scope?.manages(nw)) continue;
      steps.push({
        sign: '-',
        text: `network ${nw.name}`,
        phase: P.rmNetwork,
        run: () => ok(removeNetworks(ctx, [nw.id], false)),
      });
    }
  }
  return steps;
}

/** The parts of a sandbox only a new sandbox can change: mode, hostname, ports, DNS, hosts. */
function shape(tx: ReadTxn, sb: SandboxRecord): string {
  const shared = sharedNetnsOf(sb.mode);
  return canon({
    net:
      shared !== undefined
        ? `container:${tx.get('sandboxes', shared)?.name ?? shared}`
        : sb.mode === 'host'
          ? 'host'
          : '',
    hostname: sb.hostname,
    ports: portKey(sb.ports),
    dns: sb.dns,
    hosts: sb.extraHosts,
  });
}

function wantedShape(d: DesiredSandbox): string {
  return canon({
    net: d.net ?? (d.networks[0]?.network === 'host' ? 'host' : ''),
    hostname: d.hostname ?? d.name,
    ports: portKey(d.ports),
    dns: d.dns,
    hosts: d.extraHosts,
  });
}

function createStep(ctx: Ctx, d: DesiredSandbox): Step {
  const [first, ...rest] = d.networks;
  const where = d.net ?? d.networks.map((n) => n.network).join(', ');
  return {
    sign: '+',
    text:
      `sandbox ${d.name} ` +
      `(${where}${d.ports.length ? `; ${d.ports.length} port(s)` : ''}${d.state === 'stopped' ? '; stopped' : ''})`,
    phase: d.net ? P.sharing : P.sandbox,
    run: async () => {
      await createSandbox(ctx, {
        name: d.name,
        net: d.net ?? first?.network ?? 'bridge',
        settings: first?.settings ?? {},
        ports: d.ports,
        ...(d.hostname !== undefined ? { hostname: d.hostname } : {}),
        ...(d.dns ? { dns: d.dns } : {}),
        ...(d.extraHosts ? { extraHosts: d.extraHosts } : {}),
        // With more networks to join, the policy comes after them (a name rule may need one of them).
        ...(d.egress && rest.length === 0 ? { egress: d.egress } : {}),
      });
      for (const n of rest) await connect(ctx, n.network, [d.name], n.settings);
      if (d.egress && rest.length) await changePolicy(ctx, d.name, d.egress);
      if (d.state === 'stopped') await stopSandbox(ctx, d.name);
    },
  };
}

function planSandboxes(ctx: Ctx, tx: ReadTxn, top: Topology, prune: boolean): Step[] {
  const steps: Step[] = [];
  const have = new Map(tx.list('sandboxes').map((s) => [s.name, s]));
  const netName = (id: string, sb: SandboxRecord) => tx.get('networks', id)?.name ?? sb.networks[id]?.name ?? id;
  for (const d of top.sandboxes) {
    const sb = have.get(d.name);
    if (!sb) {
      steps.push(createStep(ctx, d));
      continue;
    }
    if (sb.mode === 'adopted')
      throw new ConflictError(
        `container ${d.name} belongs to another runtime (adopted); netctl apply does not manage it`,
      );
    if (shape(tx, sb) !== wantedShape(d)) {
      steps.push({
        sign: '-',
        text: `sandbox ${d.name} (replaced: its mode, hostname, ports or DNS differ)`,
        phase: P.rmSandbox,
        run: () => ok(removeSandboxes(ctx, [sb.id], false)),
      });
      steps.push(createStep(ctx, d));
      continue;
    }
    const current = new Map(Object.entries(sb.networks).map(([id, r]) => [netName(id, sb), r.settings]));
    for (const n of d.networks) {
      const was = current.get(n.network);
      if (was !== undefined && canon(was) === canon(n.settings)) continue;
      if (was !== undefined)
        steps.push({
          sign: '-',
          text: `endpoint ${d.name} on ${n.network} (settings changed)`,
          phase: P.disconnect,
          run: () => disconnect(ctx, n.network, sb.id, false),
        });
      steps.push({
        sign: was === undefined ? '+' : '~',
        text: `endpoint ${d.name} on ${n.network}`,
        phase: P.connect,
        run: () => connect(ctx, n.network, [sb.id], n.settings),
      });
    }
    const wanted = new Set(d.networks.map((n) => n.network));
    for (const name of current.keys()) {
      if (!wanted.has(name) && !d.net && !managedName(ctx, tx, name))
        steps.push({
          sign: '-',
          text: `endpoint ${d.name} on ${name}`,
          phase: P.disconnect,
          run: () => disconnect(ctx, name, sb.id, false),
        });
    }
    const want = d.egress ? applyChange(d.name, undefined, d.egress) : undefined;
    // Rules compared as a set: export writes the allows, then the denies; deny wins whatever the order.
    const policyKey = (p: typeof want) =>
      p ? canon({ default: p.default, rules: p.rules.map((r) => `${r.verdict} ${r.dest}`).sort() }) : '';
    if (policyKey(want) !== policyKey(sb.policy))
      steps.push({
        sign: '~',
        text: `sandbox ${d.name}: egress policy`,
        phase: P.policy,
        run: () => changePolicy(ctx, sb.id, d.egress ?? { op: 'clear' }),
      });
    if (sb.state !== d.state) {
      steps.push(
        d.state === 'running'
          ? { sign: '~', text: `sandbox ${d.name}: start`, phase: P.start, run: () => startSandbox(ctx, sb.id) }
          : { sign: '~', text: `sandbox ${d.name}: stop`, phase: P.stop, run: () => stopSandbox(ctx, sb.id) },
      );
    }
  }
  if (prune) {
    const named = new Set(top.sandboxes.map((s) => s.name));
    for (const sb of have.values()) {
      if (named.has(sb.name) || sb.mode === 'adopted') continue;
      steps.push({
        sign: '-',
        text: `sandbox ${sb.name}`,
        phase: P.rmSandbox,
        run: () => ok(removeSandboxes(ctx, [sb.id], false)),
      });
    }
  }
  return steps;
}

/**
 * Everything of the file that can be checked without the kernel, before the plan runs: the
 * removals that come first are final, so a creation must not fail afterwards on what was
 * wrong in the file all along (a gateway outside its subnet, a bad option, name or address).
 */
function checkTopology(top: Topology, file: string): void {
  const at = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof Error) e.message = `${file}: ${what}: ${e.message}`;
      throw e;
    }
  };
  for (const n of top.networks) {
    at(`network ${n.name}`, () => {
      checkName('network', n.name);
      resolveDriver(n.driver).parseOptions(n.options, n.name);
      buildPools(n, []);
    });
  }
  for (const d of top.sandboxes) {
    at(`sandbox ${d.name}`, () => {
      checkName('container', d.name);
      for (const n of d.networks) validateSettings(n.settings);
      validateNaming({
        name: d.name,
        net: d.net ?? '',
        settings: {},
        ports: d.ports,
        ...(d.hostname !== undefined ? { hostname: d.hostname } : {}),
        ...(d.dns ? { dns: d.dns } : {}),
        ...(d.extraHosts ? { extraHosts: d.extraHosts } : {}),
      });
    });
  }
}

/**
 * Plans (and unless `dryRun`, applies) the topology; returns the plan, [] when the host
 * matches the file already.
 */
export async function applyTopology(
  ctx: Ctx,
  top: Topology,
  opts: { dryRun: boolean; prune: boolean; file: string },
): Promise<Change[]> {
  const dup = (xs: string[]) => xs.find((x, i) => xs.indexOf(x) !== i);
  const d1 = dup(top.networks.map((n) => n.name)) ?? dup(top.sandboxes.map((s) => s.name));
  if (d1) throw new ConflictError(`${opts.file}: ${d1} is named twice`);
  checkTopology(top, opts.file);
  return transaction(ctx, async (tx) => {
    const declared = new Set(top.networks.map((n) => n.name));
    for (const d of top.sandboxes) {
      for (const n of d.networks) {
        const nw = tx.list('networks').find((x) => x.name === n.network);
        if (!declared.has(n.network) && (!nw || (opts.prune && !nw.predefined))) {
          throw new ConflictError(
            `${opts.file}: sandbox ${d.name} is on network ${n.network}, which the file does not ` +
              `declare${nw ? ' (and --prune removes)' : ' and does not exist'}`,
          );
        }
      }
    }
    const steps = [...planNetworks(ctx, tx, top, opts.prune, opts.file), ...planSandboxes(ctx, tx, top, opts.prune)]
      .map((s, i) => ({ s, i }))
      .sort((a, b) => a.s.phase - b.s.phase || a.i - b.i)
      .map((x) => x.s);
    const plan = steps.map(({ sign, text }) => ({ sign, text }));
    if (opts.dryRun || steps.length === 0) return plan;
    const kept: NonNullable<Ctx['op']['outer']>['kept'] = [];
    ctx.op.outer = { tx, kept };
    try {
      for (const s of steps.filter((x) => x.phase < P.CREATE)) await s.run();
      const sp = tx.savepoint();
      try {
        for (const s of steps.filter((x) => x.phase >= P.CREATE)) await s.run();
      } catch (e) {
        // Undo every creation of the plan, newest first, and return the records to before them.
        const undo = [...kept].reverse().flatMap((j) => j.cleanup);
        const { errs, left } = await cleanup(ctx, undo);
        tx.rollback(sp);
        await ctx.settle(tx, true).catch((fe: Error) => errs.push(`firewall: ${fe.message}`));
        if (errs.length || left.length)
          tx.put('journal', journalEntry(ctx, 'apply (rollback)', errs.length ? undo : left, true));
        await tx.flush();
        throw errs.length ? new RollbackError(`${(e as Error).message} (rollback: ${errs.join('; ')})`) : e;
      }
      for (const j of kept) tx.delete('journal', j.id);
    } finally {
      ctx.op.outer = undefined;
    }
    return plan;
  });
}

/** A network a scope manages (the gwbridge): a file names it never, and apply leaves it alone. */
function managedName(ctx: Ctx, tx: ReadTxn, name: string): boolean {
  const nw = tx.list('networks').find((n) => n.name === name);
  return nw !== undefined && ctx.scope?.manages(nw) === true;
}
