// Sandbox lifecycle (libnetwork's NewSandbox, pouch's container side): create, start, stop,
// rm, and attach of a netns another runtime made.
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { driverFor } from '../drivers/index.js';
import { linkUp, NETNS_DIR, netnsAdd, netnsDel } from '../kernel/ops.js';
import { ConflictError, InvalidArgumentError, NotFoundError, SystemError, UsageError } from '../lib/errors.js';
import { checkName } from '../lib/validate.js';
import {
  sandboxRecord,
  sharedNetnsOf,
  type EndpointRecord,
  type KernelCmd,
  type NetworkRecord,
  type SandboxRecord,
  type Step,
} from '../model/records.js';
import type { SandboxCreate } from '../model/requests.js';
import type { ReadTxn, Txn } from '../store/store.js';
import { checkPorts, refuseHost, validateNaming, validateSettings } from './checks.js';
import type { Ctx, Marks } from './context.js';
import { teardown } from '../engine/engine.js';
import { hostFirst } from '../engine/steps.js';
import { adopt } from './endpoints.js';
import { dependents, endpointsOf, findSandbox, requireSandbox, sharedWith } from './lookup.js';
import { execute, resolveNetwork, touch, transaction } from './operation.js';
import { dropEndpoints, planJoin, startResolverFor } from './plan.js';
import { unreserve } from './reservations.js';
import { adoptRuntime, reviveRuntime } from './containers.js';
import { isLive, parseRuntimeRef, type RuntimeRef } from './runtime.js';
import { applyChange, preparePolicy, primePolicy } from './policy.js';

/** The steps that make a netns of netctl's own: the name, then `lo` up inside. */
export function netnsSteps(name: string): Step[] {
  return [
    { cmds: [netnsAdd(name)], undo: [{ args: netnsDel(name) }] },
    { ns: name, cmds: [linkUp('lo')], undo: [] },
  ];
}

export async function createSandbox(ctx: Ctx, req: SandboxCreate): Promise<string> {
  checkName('container', req.name);
  validateSettings(req.settings);
  validateNaming(req);
  return transaction(ctx, async (tx) => {
    if (findSandbox(tx, req.name)?.name === req.name) {
      throw new ConflictError(
        `container name ${req.name} is already in use`,
        `remove it first: netctl sandbox rm ${req.name}`,
      );
    }
    const host = req.net === 'host';
    if (!host && existsSync(`${ctx.netnsDir}/${req.name}`)) {
      throw new ConflictError(
        `netns ${req.name} already exists`,
        `to manage it with netctl: netctl sandbox attach ${req.name} --netns ${NETNS_DIR}/${req.name}`,
      );
    }
    const shared = req.net.startsWith('container:') ? sharedWith(tx, req.net.slice('container:'.length)) : null;
    const hasEndpointFlags = Boolean(
      req.settings.IPAMConfig || req.settings.MacAddress || req.settings.Aliases?.length,
    );
    if ((host || shared) && req.ports.length) {
      throw new InvalidArgumentError(
        `conflicting options: port publishing and the ${host ? 'host' : 'container'} network mode (sandbox ` +
          `${req.name})`,
      );
    }
    const sb = sandboxRecord(
      { id: ctx.id(), name: req.name, created: ctx.now().toISOString() },
      {
        mode: 'network',
        ownsNetns: true,
        hostname: req.hostname ?? req.name,
        ports: checkPorts(tx, req.name, req.ports),
        ...(req.dns ? { dns: req.dns } : {}),
        ...(req.extraHosts?.length ? { extraHosts: req.extraHosts } : {}),
      },
    );
    if (shared) {
      if (hasEndpointFlags)
        throw new InvalidArgumentError(`conflicting options: --ip, --mac-address or --alias with --net ${req.net}`);
      Object.assign(sb, { mode: `container:${shared.id}`, netns: shared.netns, ownsNetns: false });
    } else {
      const nw = await resolveNetwork(ctx, tx, req.net);
      const driver = driverFor(nw.driver);
      if (!driver.plumbs && hasEndpointFlags) {
        throw new InvalidArgumentError(
          `--ip, --ip6, --mac-address and --alias need a network with interfaces (sandbox ${req.name} uses --net ` +
            `${req.net})`,
        );
      }
      // Docker ignores -p on such networks; saying so beats a port that silently never opens.
      if (driver.plumbs && !driver.firewall && req.ports.length) {
        throw new InvalidArgumentError(
          `port publishing needs a network netctl publishes ports on: ${nw.name} is a ${nw.driver} network (sandbox ` +
            `${req.name})`,
        );
      }
      sb.networks[nw.id] = { name: nw.name, settings: req.settings };
      await ctx.scope?.recordWayOut(ctx, tx, sb);
      sb.mode = host ? 'host' : req.net === 'none' ? 'none' : req.net === 'bridge' ? 'bridge' : 'network';
      if (host) Object.assign(sb, { netns: '', ownsNetns: false });
    }
    if (req.egress) preparePolicy(ctx, tx, sb, applyChange(sb.name, undefined, req.egress));
    const globals = await prepareJoins(ctx, tx, sb);
    const plan = planStart(ctx, tx, sb);
    touch(ctx, tx, sb);
    await execute(
      ctx,
      tx,
      `create sandbox ${sb.name}`,
      plan.steps,
      () => {
        plan.commit();
        tx.put('sandboxes', sb);
      },
      plan.firewall,
    );
    await peersAfter(ctx, tx, globals);
    return sb.id;
  });
}

/** The networks of another scope `sbs` are on, or are recorded on (`recorded`). */
function scopedNets(tx: ReadTxn, sbs: SandboxRecord[], recorded: boolean): NetworkRecord[] {
  const ids = sbs.flatMap((sb) =>
    recorded ? Object.keys(sb.networks) : endpointsOf(tx, { sandbox: sb.id }).map((e) => e.networkId),
  );
  return [...new Set(ids)]
    .map((id) => tx.get('networks', id))
    .filter((n): n is NetworkRecord => n !== undefined && n.scope !== 'local');
}

/** The networks of another scope a starting sandbox joins: their scope reads and prepares them first. */
async function prepareJoins(ctx: Ctx, tx: Txn, sb: SandboxRecord): Promise<NetworkRecord[]> {
  const nets = scopedNets(tx, [sb], true);
  return nets.length && ctx.scope ? ctx.scope.prepare(ctx, tx, nets, true) : [];
}

async function peersAfter(ctx: Ctx, tx: Txn, nets: NetworkRecord[]): Promise<void> {
  if (nets.length) await ctx.scope?.afterCommit(ctx, tx, nets);
}

/** The netns (when netctl owns it) and an endpoint for every recorded network. */
function planStart(
  ctx: Ctx,
  tx: ReadTxn,
  sb: SandboxRecord,
): { steps: Step[]; commit: () => void; firewall: boolean; pending: EndpointRecord[] } {
  const steps: Step[] = [];
  if (sb.ownsNetns) steps.push(...netnsSteps(sb.netns));
  else if (sb.netns && !existsSync(`${ctx.netnsDir}/${sb.netns}`)) {
    throw new NotFoundError(`netns ${sb.netns} of container ${sb.name} does not exist any more`);
  }
  const pending: EndpointRecord[] = [];
  const marks: Marks = new Map();
  const commits: Array<() => void> = [];
  let firewall = sb.ports.length > 0 || sb.policy !== undefined;
  let nextIf = sb.nextIf;
  for (const [netId, rec] of Object.entries(sb.networks)) {
    const nw = tx.get('networks', netId);
    if (!nw)
      throw new NotFoundError(
        `network ${rec.name} not found (container ${sb.name} was connected to it)`,
        `netctl disconnect -f ${rec.name} ${sb.name}`,
      );
    startResolverFor(ctx, nw);
    const plan = planJoin(ctx, tx, { ...sb, nextIf }, nw, rec.settings, pending, marks);
    if (plan.ep.ifName) nextIf++;
    plan.ep.sandboxId = sb.id;
    pending.push(plan.ep);
    steps.push(...plan.steps);
    commits.push(plan.commit);
    firewall ||= plan.firewall;
  }
  return {
    // Host-namespace work first, then one batch inside the sandbox: two processes in all.
    steps: hostFirst(steps),
    firewall,
    pending,
    commit: () => {
      commits.forEach((c) => c());
      sb.nextIf = nextIf;
      sb.state = 'running';
    },
  };
}

export async function startSandbox(ctx: Ctx, ref: string): Promise<void> {
  await transaction(ctx, async (tx) => {
    const sb = requireSandbox(tx, ref);
    if (sb.state === 'running') return;
    await reviveRuntime(ctx, tx, sb);
    const other = sharedNetnsOf(sb.mode);
    if (other !== undefined) sb.netns = sharedWith(tx, other).netns;
    checkPorts(tx, sb.name, sb.ports, sb.id);
    touch(ctx, tx, sb);
    await ctx.scope?.fixWayOut(ctx, tx, sb); // stopped: the record of what it joins now
    const globals = await prepareJoins(ctx, tx, sb);
    const plan = planStart(ctx, tx, sb);
    await primePolicy(ctx, tx, sb, plan.pending); // an adopted netns may hold processes already
    await execute(
      ctx,
      tx,
      `start sandbox ${sb.name}`,
      plan.steps,
      () => {
        plan.commit();
        tx.put('sandboxes', sb);
      },
      plan.firewall,
    );
    await peersAfter(ctx, tx, globals);
  });
}

/**
 * Record side of stop/rm: the sandbox leaves every network (keeping its recorded settings
 * unless removed) and those sharing its netns stop too. Returns the teardown to run.
 */
function planStop(ctx: Ctx, tx: Txn, sb: SandboxRecord, remove: boolean): { cmds: KernelCmd[]; firewall: boolean } {
  touch(ctx, tx, sb);
  const { cmds } = dropEndpoints(ctx, tx, sb, endpointsOf(tx, { sandbox: sb.id }), !remove);
  if (remove) freeReserved(tx, sb);
  if (sb.ownsNetns && sb.state === 'running') cmds.push({ args: netnsDel(sb.netns) });
  // The name binding attach made goes with the sandbox; the namespace stays with its processes.
  else if (remove && sb.ownsName && sb.state !== 'exited') cmds.push({ args: netnsDel(sb.netns) });
  const firewall = (sb.ports.length > 0 || sb.policy !== undefined) && sb.state === 'running';
  sb.state = 'stopped';
  if (remove) tx.delete('sandboxes', sb.id);
  else tx.put('sandboxes', sb);
  for (const d of dependents(tx, sb)) tx.put('sandboxes', { ...d, state: 'stopped' });
  return { cmds, firewall };
}

/**
 * A sandbox with endpoints on networks of another scope leaves them through that scope: it is
 * asked first, so an unreachable cluster store fails the command before anything changes.
 */
async function prepareLeaves(ctx: Ctx, tx: Txn, sbs: SandboxRecord[]): Promise<void> {
  const nets = scopedNets(tx, sbs, false);
  if (nets.length) await ctx.scope?.prepare(ctx, tx, nets, false);
}

/** A removed sandbox's kept addresses go back to its networks' IPAM. */
function freeReserved(tx: Txn, sb: SandboxRecord): void {
  for (const id of Object.keys(sb.networks)) {
    const nw = tx.get('networks', id);
    if (nw && unreserve(nw, sb.id, true)) tx.put('networks', nw);
  }
}

export async function stopSandbox(ctx: Ctx, ref: string): Promise<void> {
  await transaction(ctx, async (tx) => {
    const sb = requireSandbox(tx, ref);
    if (sb.state !== 'running') return;
    await prepareLeaves(ctx, tx, [sb]);
    const plan = planStop(ctx, tx, sb, false);
    const errs = await teardown(ctx, tx, `stop sandbox ${sb.name}`, plan.cmds, plan.firewall);
    if (errs.length) throw new SystemError(`container ${sb.name} stopped with errors: ${errs.join('; ')}`);
  });
}

/**
 * Removes sandboxes in one transaction with one teardown for all of them (their veths go in
 * one batch). Returns a result per argument, and the teardown's errors apart.
 */
export async function removeSandboxes(
  ctx: Ctx,
  refs: string[],
  force: boolean,
): Promise<{ results: Array<Error | null>; errors: string[] }> {
  return transaction(ctx, async (tx) => {
    const results: Array<Error | null> = [];
    const cmds: KernelCmd[] = [];
    let firewall = false;
    const names: string[] = [];
    const owned: string[] = [];
    for (const ref of refs) {
      try {
        const sb = findSandbox(tx, ref);
        if (!sb) {
          if (force) {
            results.push(null);
            continue;
          }
          throw new NotFoundError(`No such container: ${ref}`);
        }
        const users = dependents(tx, sb).filter((d) => d.state === 'running' && !refs.includes(d.name));
        if (users.length && !force) {
          throw new ConflictError(
            `container ${sb.name} is in use by ${users.map((d) => d.name).join(', ')} (sharing its network namespace)`,
            'remove those first, or use -f',
          );
        }
        await prepareLeaves(ctx, tx, [sb]);
        if (sb.ownsNetns) owned.push(sb.name);
        const plan = planStop(ctx, tx, sb, true);
        cmds.push(...plan.cmds);
        firewall ||= plan.firewall;
        names.push(sb.name);
        results.push(null);
      } catch (e) {
        results.push(e as Error);
      }
    }
    const errors = await teardown(ctx, tx, `rm sandbox ${names.join(', ')}`, cmds, firewall, owned);
    return { results, errors };
  });
}

/**
 * `sandbox attach`: manage a netns another runtime made, without holding it alive. A runtime
 * reference (`docker:web`, §15) names itself; `--pid`/`--netns` adopt a namespace under NAME.
 * A name already under NETNS_DIR (someone's binding) is adopted as it is.
 */
export async function attachSandbox(
  ctx: Ctx,
  name: string,
  src: { netns?: string; pid?: number; dnsKeep?: boolean },
): Promise<string> {
  const rt = parseRuntimeRef(name);
  if (rt) {
    if (src.netns !== undefined || src.pid !== undefined)
      throw new UsageError(`--netns and --pid name a namespace; ${name} already does`);
    return transaction(ctx, async (tx) => {
      const sb = await adoptRuntime(ctx, tx, rt, { dnsKeep: src.dnsKeep });
      touch(ctx, tx, sb);
      return sb.id;
    });
  }
  checkName('container', name);
  if ((src.netns === undefined) === (src.pid === undefined))
    throw new UsageError('give exactly one of --netns PATH or --pid PID');
  if (src.pid !== undefined && (!Number.isInteger(src.pid) || src.pid < 1))
    throw new InvalidArgumentError(`invalid pid ${src.pid}`);
  if (src.netns !== undefined && (!src.netns.startsWith('/') || /[\s]/.test(src.netns)))
    throw new InvalidArgumentError(`invalid netns path ${src.netns}: an absolute path`);
  return transaction(ctx, async (tx) => {
    if (findSandbox(tx, name)?.name === name) throw new ConflictError(`container name ${name} is already in use`);
    const own = `${ctx.netnsDir}/${name}`;
    let sb: SandboxRecord;
    if (src.netns !== undefined && resolvePath(src.netns) === resolvePath(own)) {
      refuseHost(own, `netns:${own}`);
      sb = await adopt(ctx, name, true);
      tx.put('sandboxes', sb);
    } else {
      const r: RuntimeRef =
        src.pid !== undefined
          ? { kind: 'pid', arg: String(src.pid), ref: `pid:${src.pid}` }
          : { kind: 'netns', arg: src.netns ?? '', ref: `netns:${src.netns}` };
      sb = await adoptRuntime(ctx, tx, r, { name, dnsKeep: src.dnsKeep });
    }
    touch(ctx, tx, sb);
    return sb.id;
  });
}

/**
 * Starts a runtime container's sandbox that exited, if it did (before a connect names it).
 * Returns the names and IDs of the networks its endpoints were rebuilt on.
 */
export async function startIfExited(ctx: Ctx, ref: string): Promise<string[]> {
  const sb = await ctx.store.view((tx) => findSandbox(tx, ref));
  if (!sb?.runtime || (sb.state !== 'exited' && isLive(ctx.netnsDir ?? NETNS_DIR, sb))) return [];
  await startSandbox(ctx, ref);
  return Object.entries(sb.networks).flatMap(([id, r]) => [id, r.name]);
}

/** `sandbox prune`: removes every exited runtime container's sandbox, its kept addresses with it. */
export async function pruneExited(ctx: Ctx): Promise<string[]> {
  const names = await ctx.store.view((tx) =>
    tx
      .list('sandboxes')
      .filter((sb) => sb.runtime && (sb.state === 'exited' || !isLive(ctx.netnsDir ?? NETNS_DIR, sb)))
      .map((sb) => sb.name),
  );
  if (!names.length) return [];
  const { results, errors } = await removeSandboxes(ctx, names, true);
  if (errors.length) throw new SystemError(`pruned with errors: ${errors.join('; ')}`);
  return names.filter((_, i) => !results[i]);
}
