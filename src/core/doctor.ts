// `netctl doctor`: compares what the store says with what the kernel holds and reports every
// difference, changing nothing (no lock, no write). Drivers compare their own devices, the
// firewall backend its rules; the core checks each sandbox's namespace, interfaces,
// addresses and default route. `netctl restore` repairs what it finds.
import { existsSync } from 'node:fs';
import { allDrivers, driverFor } from '../drivers/index.js';
import type { DriverReads } from '../drivers/driver.js';
import { firewallModel } from '../firewall/model.js';
import { KernelView } from '../kernel/ip.js';
import { electGateway } from '../model/gateway.js';
import { sharedNetnsOf } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import type { Ctx } from './context.js';
import { dnsView, viewDigest } from '../dns/view.js';
import { endpointsOf, networkOf } from './lookup.js';
import { isLive } from './runtime.js';
import { NETNS_DIR } from '../kernel/ops.js';

export async function diagnose(ctx: Ctx, tx: ReadTxn): Promise<string[]> {
  const drift: string[] = [];
  const kernel = new KernelView(ctx.runner);
  const dctx: DriverReads = { tx, kernel };
  for (const nw of tx.list('networks')) {
    if (!nw.driverState['ready']) continue;
    const c = await driverFor(nw.driver).checkNetwork?.(dctx, nw);
    drift.push(...(c?.drift ?? []).map((d) => `network ${nw.name}: ${d}`));
  }
  for (const sb of tx.list('sandboxes')) {
    // A runtime container that exited is no drift: its sandbox waits for it, or for prune (§15).
    if (sb.runtime && (sb.state === 'exited' || !isLive(ctx.netnsDir ?? NETNS_DIR, sb))) {
      ctx.warn(`container ${sb.name} (${sb.runtime.ref}) exited; netctl sandbox prune removes it`);
      continue;
    }
    if (sb.state !== 'running' || !sb.netns || sharedNetnsOf(sb.mode) !== undefined) continue;
    if (!existsSync(`${ctx.netnsDir}/${sb.netns}`)) {
      drift.push(`container ${sb.name}: netns ${sb.netns} is missing`);
      continue;
    }
    const eps = endpointsOf(tx, { sandbox: sb.id }).filter((e) => e.ifName);
    if (eps.length === 0) continue;
    const inner = await kernel.addrs(sb.netns, '-4');
    for (const ep of eps) {
      const nw = tx.get('networks', ep.networkId);
      if (nw)
        drift.push(
          ...((await driverFor(nw.driver).checkEndpoint?.(dctx, nw, ep, sb))?.drift ?? []).map(
            (d) => `container ${sb.name}: ${d}`,
          ),
        );
      if (!inner.has(ep.ifName)) drift.push(`container ${sb.name}: interface ${ep.ifName} is missing`);
      else if (ep.ipv4 && !(inner.get(ep.ifName) ?? []).includes(ep.ipv4))
        drift.push(`container ${sb.name}: ${ep.ifName} lacks ${ep.ipv4}`);
    }
    const gw = electGateway(eps, networkOf(tx));
    if (gw?.gateway4) {
      const def = (await kernel.routes(sb.netns, ['-4'])).find((r) => r.dst === 'default');
      if (!def || def.gateway !== gw.gateway4 || def.dev !== gw.ifName)
        drift.push(`container ${sb.name}: default route is not via ${gw.gateway4} dev ${gw.ifName}`);
    }
  }
  // What netctl made and the store does not know: leaked bridges and veths.
  for (const d of allDrivers()) for (const l of (await d.leftovers?.(dctx)) ?? []) drift.push(`extra ${l.what}`);
  for (const j of tx.list('journal')) drift.push(`unfinished operation: ${j.op} (pid ${j.pid})`);
  if (ctx.firewall) drift.push(...(await ctx.firewall.drift(firewallModel(tx))));
  if (ctx.resolver) drift.push(...(await resolverDrift(ctx, tx)));
  return drift;
}

/** This host's resolver against the store: missing, serving an older state, or unable to listen. */
async function resolverDrift(ctx: Ctx, tx: ReadTxn): Promise<string[]> {
  const view = dnsView(tx);
  const st = await ctx.resolver?.status();
  const names = view.networks.map((n) => n.name).join(', ');
  if (!st) return view.networks.length ? [`resolver: not running (networks ${names})`] : [];
  if (!view.networks.length) return [`resolver: pid ${st.pid} runs with nothing to serve`];
  const out = st.digest === viewDigest(view) ? [] : [`resolver: pid ${st.pid} is stale (serves an older state)`];
  for (const n of st.networks) if (n.error) out.push(`resolver of network ${n.name}: ${n.error}`);
  return out;
}
