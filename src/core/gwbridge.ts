// The gwbridge (Swarm's docker_gwbridge): overlay endpoints carry no default route, so a
// sandbox whose networks are all overlays gets one more endpoint, on a local bridge network
// `netctl_gwbridge` (made on first use: no traffic between its sandboxes, masquerade on), that
// takes it out. Internal overlays never get one.
import { driverFor } from '../drivers/index.js';
import { OPT } from '../drivers/bridge.js';
import { defaultPool } from '../ipam/ipam.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/records.js';
import { electGateway } from '../model/gateway.js';
import type { Txn } from '../store/store.js';
import type { Ctx } from './context.js';
import { planJoin, type JoinPlan, type Marks } from './endpoints.js';
import { endpointsOf, networkOf } from './lookup.js';
import { newNetworkRecord, takenPrefixes } from './predefined.js';

export const GWBRIDGE = 'netctl_gwbridge';

/** The join to the gwbridge that `sb` needs now, if it has no other way out (the network made if missing). */
export async function gwbridgeJoin(ctx: Ctx, tx: Txn, sb: SandboxRecord, pending: EndpointRecord[], marks: Marks): Promise<JoinPlan | undefined> {
  const live = [...endpointsOf(tx, { sandbox: sb.id }), ...pending.filter((p) => p.sandboxId === sb.id)];
  if (electGateway(live, networkOf(tx))) return undefined;
  const existing = tx.list('networks').find((n) => n.name === GWBRIDGE);
  if (existing && live.some((e) => e.networkId === existing.id)) return undefined;
  const net = existing ?? (await ensureGwbridge(ctx, tx));
  // Its interface comes after those being planned for the sandox (their eth<N> is not counted yet).
  const probe = { ...sb, nextIf: sb.nextIf + pending.filter((p) => p.sandboxId === sb.id && p.ifName).length };
  const plan = planJoin(ctx, tx, probe, net, {}, pending, marks);
  const commit = plan.commit;
  plan.commit = () => {
    commit();
    sb.nextIf = Math.max(sb.nextIf, probe.nextIf);
    sb.networks[net.id] = { name: net.name, settings: {} };
    tx.put('sandboxes', sb);
  };
  return plan;
}

/** The gwbridge network, made (as a record; its bridge comes with its first endpoint) if missing. */
export async function ensureGwbridge(ctx: Ctx, tx: Txn): Promise<NetworkRecord> {
  const have = tx.list('networks').find((n) => n.name === GWBRIDGE);
  if (have) return have;
  const gw = newNetworkRecord(ctx, GWBRIDGE, 'bridge', false);
  gw.options = { [OPT.icc]: 'false', [OPT.masquerade]: 'true' };
  gw.ipam.config = [defaultPool(ctx.pools, await takenPrefixes(ctx, tx, true))];
  gw.driverState = { ...driverFor('bridge').initState(gw), ready: false };
  tx.put('networks', gw);
  return gw;
}

/**
 * On leaving `eps` (a global network's): the sandbox's gwbridge endpoint, when no other global
 * network is left to need it; its record goes too.
 */
export function gwbridgeLeave(tx: Txn, sb: SandboxRecord, eps: EndpointRecord[]): EndpointRecord[] {
  const gw = tx.list('networks').find((n) => n.name === GWBRIDGE);
  if (!gw) return [];
  const rest = endpointsOf(tx, { sandbox: sb.id }).filter((e) => !eps.includes(e));
  if (rest.some((e) => tx.get('networks', e.networkId)?.scope === 'global')) return [];
  const mine = rest.filter((e) => e.networkId === gw.id);
  if (mine.length) {
    delete sb.networks[gw.id];
    tx.put('sandboxes', sb);
  }
  return mine;
}
