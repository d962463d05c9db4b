// Connect and disconnect (libnetwork's CreateEndpoint + Join, Leave + Delete) and the adoption
// of a named netns made by `ip netns add`. The plans come from plan.ts; networks of another
// scope are asked of it through ctx.scope (src/core/context.ts Scope).
import { existsSync } from 'node:fs';
import { driverFor } from '../drivers/index.js';
import { listLinks } from '../kernel/ip.js';
import { ConflictError, ForbiddenError, KernelError, NotFoundError, SystemError, UsageError } from '../lib/errors.js';
import { checkName } from '../lib/validate.js';
import {
  sandboxRecord,
  sharesNetns,
  type EndpointRecord,
  type EndpointSettings,
  type NetworkRecord,
  type SandboxRecord,
  type Step,
} from '../model/records.js';
import type { Txn } from '../store/store.js';
import { checkStaticAddress, refuseHost, validateSettings } from './checks.js';
import type { Ctx, Marks } from './context.js';
import { endpointsOf, findSandbox } from './lookup.js';
import { teardown } from '../engine/engine.js';
import { execute, resolveNetwork, touch, transaction } from './operation.js';
import { dropEndpoints, planJoin, startResolverFor } from './plan.js';
import { unreserve } from './reservations.js';
import { hostFirst } from '../engine/steps.js';
import { adoptRuntime, type AdoptOptions } from './containers.js';
import { parseRuntimeRef } from './runtime.js';
import { checkPolicyNetwork, primePolicy } from './policy.js';

const SHARED_NS_ERR =
  'container sharing network namespace with another container or host cannot be connected to any other network';

/**
 * Connects one or many containers to a network in one transaction: all or nothing. Several
 * containers share one `ip -batch` on the host side; per-endpoint settings (an address, a
 * MAC, aliases) only make sense for one container and are refused for several.
 */
export async function connect(
  ctx: Ctx,
  netRef: string,
  ctrRefs: string[],
  settings: EndpointSettings,
  opts: AdoptOptions = {},
): Promise<void> {
  validateSettings(settings);
  const refs = [...new Set(ctrRefs)];
  if (refs.length > 1 && (settings.IPAMConfig || settings.MacAddress || settings.Aliases?.length)) {
    throw new UsageError(
      '--ip, --ip6, --link-local-ip, --mac-address and --alias apply to one container; connect several containers ' +
        'without them',
    );
  }
  await transaction(ctx, async (tx) => {
    try {
      await connectIn(ctx, tx, netRef, refs, settings, false, opts);
    } catch (e) {
      // An adopted namespace already had an eth<N> of someone else's: look, then try once more.
      // Not after a rollback that failed: what it left is journaled, and a retry would pile on.
      if (!(e instanceof KernelError) || e.fault !== 'exists') throw e;
      await connectIn(ctx, tx, netRef, refs, settings, true, opts);
    }
  });
}

async function connectIn(
  ctx: Ctx,
  tx: Txn,
  netRef: string,
  refs: string[],
  settings: EndpointSettings,
  probe: boolean,
  opts: AdoptOptions,
): Promise<void> {
  const found = await resolveNetwork(ctx, tx, netRef);
  const nw = found.scope === 'local' ? found : ((await ctx.scope?.prepare(ctx, tx, [found], true))?.[0] ?? found);
  const driver = driverFor(nw.driver);
  const steps: Step[] = [];
  const commits: Array<() => void> = [];
  const pending: EndpointRecord[] = [];
  const marks: Marks = new Map();
  let firewall = false;
  for (const ref of refs) {
    const rt = parseRuntimeRef(ref);
    const sb = rt ? await adoptRuntime(ctx, tx, rt, opts) : (findSandbox(tx, ref) ?? (await adopt(ctx, ref, probe)));
    if (sharesNetns(sb.mode)) throw new ForbiddenError(SHARED_NS_ERR);
    driver.checkJoin?.(nw, sb);
    if (sb.policy) checkPolicyNetwork(sb, nw);
    if (sb.networks[nw.id] || endpointsOf(tx, { sandbox: sb.id, network: nw.id }).length) {
      throw new ConflictError(`endpoint with name ${sb.name} already exists in network ${nw.name}`);
    }
    touch(ctx, tx, sb);
    const record = () => {
      sb.networks[nw.id] = { name: nw.name, settings };
      tx.put('sandboxes', sb);
    };
    if (sb.state === 'running') {
      startResolverFor(ctx, nw);
      const plan = planJoin(ctx, tx, sb, nw, settings, pending, marks);
      pending.push(plan.ep);
      steps.push(...plan.steps);
      commits.push(plan.commit, record);
      firewall ||= plan.firewall || sb.ports.length > 0 || sb.policy !== undefined;
      // A sandbox may want one more network for its way out (the overlay module's gwbridge).
      const out = await ctx.scope?.wayOutPlan(ctx, tx, sb, nw, pending, marks);
      if (out) {
        pending.push(out.ep);
        steps.push(...out.steps);
        commits.push(out.commit);
        firewall = true;
      }
    } else {
      checkStaticAddress(nw, settings); // the rest (IP free? network still there?) is checked at start
      commits.push(record);
    }
  }
  for (const ref of refs) {
    const sb = findSandbox(tx, ref);
    if (sb?.policy && sb.state === 'running') await primePolicy(ctx, tx, sb, pending);
  }
  const what = refs.length === 1 ? refs[0] : `${refs.length} containers`;
  await execute(
    ctx,
    tx,
    `connect ${what} to ${nw.name}`,
    hostFirst(steps),
    () => commits.forEach((c) => c()),
    firewall,
  );
  if (nw.scope !== 'local') await ctx.scope?.afterCommit(ctx, tx, [nw]);
  // A network joined may take the way out over; a stopped sandbox's record follows too.
  for (const ref of refs) {
    const sb = findSandbox(tx, ref);
    if (sb) await ctx.scope?.fixWayOut(ctx, tx, sb);
  }
}

/**
 * A named netns made by `ip netns add` is adopted as a running sandbox (it is not deleted on
 * rm). Its eth<N> numbering starts at 0; with `probe`, after eth<N> of someone else's got in
 * the way, above the highest one there.
 */
export async function adopt(ctx: Ctx, name: string, probe: boolean): Promise<SandboxRecord> {
  checkName('container', name);
  if (!existsSync(`${ctx.netnsDir}/${name}`)) {
    throw new NotFoundError(
      `No such container: ${name}`,
      `create it with: netctl sandbox create ${name}  (or: ip netns add ${name})`,
    );
  }
  refuseHost(`${ctx.netnsDir}/${name}`, `netns:${ctx.netnsDir}/${name}`);
  const used = probe
    ? (await listLinks(ctx.runner, name))
        .map((l) => /^eth(\d+)$/.exec(l.ifname)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
    : [];
  const nextIf = used.length ? Math.max(...used) + 1 : 0;
  return sandboxRecord({ id: ctx.id(), name, created: ctx.now().toISOString() }, { nextIf });
}

export async function disconnect(ctx: Ctx, netRef: string, ctrRef: string, force: boolean): Promise<void> {
  await transaction(ctx, async (tx) => {
    let nw: NetworkRecord;
    try {
      nw = await resolveNetwork(ctx, tx, netRef);
    } catch (e) {
      if (force && e instanceof NotFoundError) return;
      throw e;
    }
    const sb = findSandbox(tx, ctrRef);
    if (!sb) {
      if (force) return;
      throw new NotFoundError(`No such container: ${ctrRef}`);
    }
    const eps = endpointsOf(tx, { sandbox: sb.id, network: nw.id });
    if (!sb.networks[nw.id] && eps.length === 0) {
      if (force) return;
      throw new NotFoundError(`container ${sb.name} is not connected to network ${nw.name}`);
    }
    if (sharesNetns(sb.mode))
      throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
    touch(ctx, tx, sb);
    delete sb.networks[nw.id];
    tx.put('sandboxes', sb);
    if (unreserve(nw, sb.id, true)) tx.put('networks', nw);
    const errs = await leave(ctx, tx, sb, nw, eps);
    if (errs.length)
      throw new SystemError(`container ${sb.name} disconnected from ${nw.name} with errors: ${errs.join('; ')}`);
  });
}

/** The records of `eps` go, then their teardown; the sandbox's way out follows. Returns the teardown's errors. */
async function leave(
  ctx: Ctx,
  tx: Txn,
  sb: SandboxRecord,
  nw: NetworkRecord,
  eps: EndpointRecord[],
): Promise<string[]> {
  const { cmds, regateway } = dropEndpoints(ctx, tx, sb, eps);
  // The default-route move is part of the journaled teardown: a crash in between still ends with a route.
  const move = sb.state === 'running' ? regateway.map((args) => ({ ns: sb.netns, args })) : [];
  const op = `disconnect ${sb.name} from ${nw.name}`;
  const errs = await teardown(ctx, tx, op, [...cmds, ...move], sb.ports.length > 0 || sb.policy !== undefined);
  await ctx.scope?.fixWayOut(ctx, tx, sb);
  return errs;
}

/** An endpoint that lost its address (a scope's: another host took it): it goes, recorded settings too. */
export async function dropOrphan(
  ctx: Ctx,
  tx: Txn,
  sb: SandboxRecord,
  nw: NetworkRecord,
  ep: EndpointRecord,
): Promise<void> {
  touch(ctx, tx, sb);
  delete sb.networks[nw.id];
  tx.put('sandboxes', sb);
  for (const e of await leave(ctx, tx, sb, nw, [ep])) ctx.warn(e);
}
