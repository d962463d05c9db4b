// `netctl restore`: re-creates kernel state from the store (after a reboot, a deleted bridge,
// a flushed firewall) and removes what netctl made that the store no longer knows. Each
// driver compares its own devices (the same checks doctor reports); the core re-makes
// sandboxes' namespaces and converges every interface's configuration. Idempotent: what
// exists is left alone. Returns what it repaired.
import { allDrivers, driverFor } from '../drivers/index.js';
import type { DriverReads } from '../drivers/driver.js';
import { ipCleanup, KernelView } from '../kernel/ip.js';
import { linkDel } from '../kernel/ops.js';
import { electGateway } from '../model/gateway.js';
import { sharedNetnsOf, type KernelCmd, type Step } from '../model/records.js';
import { existsSync } from 'node:fs';
import type { Ctx } from './context.js';
import { configure, joinSteps } from './plan.js';
import { endpointsOf, networkOf } from './lookup.js';
import { netnsSteps } from './sandboxes.js';
import { hostFirst } from '../engine/steps.js';
import { execute, touch, transaction } from './operation.js';

export async function restore(ctx: Ctx): Promise<string[]> {
  return transaction(ctx, async (tx) => {
    const done: string[] = [];
    for (const sb of tx.list('sandboxes')) touch(ctx, tx, sb);
    const dctx: DriverReads = { tx, kernel: new KernelView(ctx.runner) };
    const steps: Step[] = [];
    // A network whose own devices cannot be repaired (a macvlan parent gone): its endpoints are
    // left as they are, so one such network does not roll back the repair of every other.
    const broken = new Set<string>();
    for (const nw of tx.list('networks')) {
      if (!nw.driverState['ready']) continue;
      const c = await driverFor(nw.driver).checkNetwork?.(dctx, nw);
      if (!c) continue;
      if (c.drift.length && c.repair.length === 0) {
        broken.add(nw.id);
        ctx.warn(`network ${nw.name}: ${c.drift.join('; ')}; its endpoints are left as they are`);
      }
      steps.push(...c.repair);
      done.push(...c.repaired);
    }
    // What netctl made and the store does not know any more goes first.
    const extra: KernelCmd[] = [];
    for (const d of allDrivers()) {
      for (const l of (await d.leftovers?.(dctx)) ?? []) {
        extra.push({ args: linkDel(l.dev) });
        done.push(`removed leftover ${l.dev}`);
      }
    }
    const leftovers = await ipCleanup(ctx.runner, extra);
    if (leftovers.length) ctx.warn(`could not remove leftovers: ${leftovers.join('; ')}`);
    for (const sb of tx.list('sandboxes')) {
      if (sb.state !== 'running' || !sb.netns || sharedNetnsOf(sb.mode) !== undefined) continue;
      if (!existsSync(`${ctx.netnsDir}/${sb.netns}`)) {
        if (!sb.ownsNetns) {
          ctx.warn(`netns ${sb.netns} of container ${sb.name} is gone and was not made by netctl; left alone`);
          continue;
        }
        steps.push(...netnsSteps(sb.netns));
        done.push(`netns ${sb.netns}`);
      }
      const eps = endpointsOf(tx, { sandbox: sb.id });
      const gw = electGateway(eps, networkOf(tx));
      for (const ep of eps) {
        const nw = tx.get('networks', ep.networkId);
        const driver = nw && driverFor(nw.driver);
        if (!nw || !driver?.plumbs || broken.has(nw.id)) continue;
        const c = await driver.checkEndpoint?.(dctx, nw, ep, sb);
        if (c?.missing) {
          steps.push(...joinSteps(driver, nw, ep, sb, ep === gw));
          done.push(`endpoint ${ep.ifName} of container ${sb.name} on ${nw.name}`);
          continue;
        }
        steps.push(...(c?.repair ?? []));
        done.push(...(c?.repaired ?? []));
        // Inside the sandbox: address, link and default route converge (every command idempotent).
        steps.push(configure(nw, ep, sb, ep === gw, true));
      }
    }
    await execute(ctx, tx, 'restore', hostFirst(steps), () => undefined, 'full');
    // Networks of another scope: this host's part, compared with what the kernel has.
    await ctx.scope?.restore(ctx, tx);
    return done;
  });
}
