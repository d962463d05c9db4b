// `netctl doctor`: compares what the store says with what the kernel holds and reports every
// difference, changing nothing. `netctl restore` repairs what it finds.
import { existsSync } from 'node:fs';
import { bridgeDevice } from '../drivers/bridge.js';
import type { Firewall } from '../firewall/firewall.js';
import { firewallModel } from '../firewall/model.js';
import { listAddrs, listLinks, listRoutes } from '../kernel/ip.js';
import type { Runner } from '../kernel/runner.js';
import type { ReadTxn } from '../store/store.js';
import { electGateway } from './gateway.js';

export async function diagnose(tx: ReadTxn, runner: Runner, netnsDir: string, firewall: Firewall | undefined): Promise<string[]> {
  const drift: string[] = [];
  const links = new Map((await listLinks(runner)).map((l) => [l.ifname, l]));
  const addrs = await listAddrs(runner);
  const ourBridges = new Set<string>();
  for (const nw of tx.list('networks')) {
    if (nw.driver !== 'bridge' || !nw.driverState['ready']) continue;
    const br = bridgeDevice(nw);
    ourBridges.add(br);
    const l = links.get(br);
    if (!l) { drift.push(`network ${nw.name}: bridge ${br} is missing`); continue; }
    if (l.linkinfo?.info_kind !== 'bridge') drift.push(`network ${nw.name}: ${br} is not a bridge`);
    for (const p of nw.ipam.config) {
      const want = `${p.Gateway}/${p.Subnet.split('/')[1]}`;
      if (!(addrs.get(br) ?? []).includes(want)) drift.push(`network ${nw.name}: bridge ${br} lacks its gateway address ${want}`);
    }
  }
  const ourVeths = new Set<string>();
  for (const sb of tx.list('sandboxes')) {
    if (sb.state !== 'running' || !sb.netns || sb.mode.startsWith('container:')) continue;
    if (!existsSync(`${netnsDir}/${sb.netns}`)) { drift.push(`container ${sb.name}: netns ${sb.netns} is missing`); continue; }
    const eps = tx.list('endpoints').filter((e) => e.sandboxId === sb.id && e.hostIf);
    if (eps.length === 0) continue;
    const inner = await listAddrs(runner, sb.netns, '-4').catch(() => new Map<string, string[]>());
    for (const ep of eps) {
      const nw = tx.get('networks', ep.networkId);
      ourVeths.add(ep.hostIf);
      const host = links.get(ep.hostIf);
      if (!host) drift.push(`container ${sb.name}: veth ${ep.hostIf} (${ep.ifName} on ${nw?.name ?? '?'}) is missing`);
      else if (nw && host.master !== bridgeDevice(nw)) drift.push(`container ${sb.name}: veth ${ep.hostIf} is not attached to ${bridgeDevice(nw)}`);
      if (!inner.has(ep.ifName)) drift.push(`container ${sb.name}: interface ${ep.ifName} is missing`);
      else if (ep.ipv4 && !(inner.get(ep.ifName) ?? []).includes(ep.ipv4)) drift.push(`container ${sb.name}: ${ep.ifName} lacks ${ep.ipv4}`);
    }
    const gw = electGateway(tx, eps.sort((a, b) => a.seq - b.seq));
    if (gw?.gateway4) {
      const routes = await listRoutes(runner, sb.netns, ['-4']).catch(() => []);
      const def = routes.find((r) => r.dst === 'default');
      if (!def || def.gateway !== gw.gateway4 || def.dev !== gw.ifName) drift.push(`container ${sb.name}: default route is not via ${gw.gateway4} dev ${gw.ifName}`);
    }
  }
  // What netctl made and the store does not know: leaked bridges and veths.
  for (const [name, l] of links) {
    if (/^nc-[0-9a-f]{12}$/.test(name) && !ourBridges.has(name)) drift.push(`extra bridge ${name} (no network has it)`);
    if (l.master && ourBridges.has(l.master) && !ourVeths.has(name)) drift.push(`extra veth ${name} on ${l.master} (no endpoint has it)`);
  }
  for (const j of tx.list('journal')) drift.push(`unfinished operation: ${j.op} (pid ${j.pid})`);
  if (firewall) drift.push(...(await firewall.drift(firewallModel(tx))));
  return drift;
}
