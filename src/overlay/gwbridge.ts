// The gwbridge (Swarm's docker_gwbridge): overlay endpoints carry no default route, so a
// sandbox whose networks with a way out are all overlays gets one more endpoint, on a local
// bridge network `netctl_gwbridge` (made on first use: no traffic between its sandboxes,
// masquerade on), that takes it out. It is decided from the sandbox's recorded networks after
// every change: a bridge network joined takes over (the gwbridge endpoint goes), the last
// overlay left takes it away, an internal overlay alone never wants one.
import { driverFor } from '../drivers/index.js';
import { OPT } from '../drivers/bridge.js';
import { defaultPool } from '../ipam/ipam.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx, JoinPlan, Marks } from '../core/context.js';
import { endpointsOf } from '../core/lookup.js';
import { execute } from '../core/operation.js';
import { dropEndpoints, planJoin } from '../core/plan.js';
import { newNetworkRecord, takenPrefixes } from '../core/predefined.js';
import { teardown } from '../engine/engine.js';
import { hostFirst } from '../engine/steps.js';

export const GWBRIDGE = 'netctl_gwbridge';

const gwbridgeOf = (tx: ReadTxn): NetworkRecord | undefined =>
  tx.list('networks').find((n) => n.name === GWBRIDGE && n.scope === 'local');

/** Whether `sb` wants the gwbridge, from its recorded networks with `add` joining. */
export function gwbridgeWanted(tx: ReadTxn, sb: SandboxRecord, add?: NetworkRecord): boolean {
  const gw = gwbridgeOf(tx);
  const nets = Object.keys(sb.networks)
    .filter((id) => id !== gw?.id)
    .map((id) => tx.get('networks', id))
    .filter((n): n is NetworkRecord => n !== undefined);
  if (add) nets.push(add);
  // IPv6 egress from overlays is out of scope: an IPv6-only overlay wants no gwbridge.
  const out = (n: NetworkRecord) =>
    !n.internal && driverFor(n.driver).plumbs && n.ipam.config.some((p) => !p.Subnet.includes(':'));
  return nets.some((n) => n.scope === 'global' && out(n)) && !nets.some((n) => n.scope !== 'global' && out(n));
}

export const onGwbridge = (tx: ReadTxn, sb: SandboxRecord): boolean => {
  const gw = gwbridgeOf(tx);
  return gw !== undefined && sb.networks[gw.id] !== undefined;
};

/** The gwbridge network, made (as a record; its bridge comes with its first endpoint) if missing. */
export async function ensureGwbridge(ctx: Ctx, tx: Txn): Promise<NetworkRecord> {
  const have = gwbridgeOf(tx);
  // No names on the gwbridge (as Docker's): its sandboxes share nothing but the way out. A
  // gwbridge made before the resolver existed gets the option now.
  if (have && have.options[OPT.dns] !== 'false') {
    have.options[OPT.dns] = 'false';
    tx.put('networks', have);
  }
  if (have) return have;
  const gw = newNetworkRecord(ctx, GWBRIDGE, 'bridge', false);
  gw.options = { [OPT.icc]: 'false', [OPT.masquerade]: 'true', [OPT.dns]: 'false' };
  gw.ipam.config = [defaultPool(ctx.pools, await takenPrefixes(ctx, tx, true))];
  gw.driverState = { ...driverFor('bridge').initState(gw), ready: false };
  tx.put('networks', gw);
  return gw;
}

/** The join to the gwbridge, planned beside others for the sandbox (`pending`); recorded by its commit. */
export async function gwbridgeJoin(
  ctx: Ctx,
  tx: Txn,
  sb: SandboxRecord,
  pending: EndpointRecord[],
  marks: Marks,
): Promise<JoinPlan> {
  const net = await ensureGwbridge(ctx, tx);
  // Its interface comes after those being planned for the sandbox (their eth<N> is not counted yet).
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

/**
 * After a change of `sb`'s networks: joins or leaves the gwbridge as it now wants (a stopped
 * sandbox only has its record changed; its start joins what is recorded).
 */
export async function fixGwbridge(ctx: Ctx, tx: Txn, sb: SandboxRecord): Promise<void> {
  const want = gwbridgeWanted(tx, sb);
  if (want === onGwbridge(tx, sb)) return;
  if (want && sb.state === 'running') {
    const plan = await gwbridgeJoin(ctx, tx, sb, [], new Map());
    await execute(ctx, tx, `connect ${sb.name} to ${GWBRIDGE}`, hostFirst(plan.steps), plan.commit, true);
    return;
  }
  const gw = want ? await ensureGwbridge(ctx, tx) : gwbridgeOf(tx);
  if (!gw) return;
  if (want) sb.networks[gw.id] = { name: gw.name, settings: {} };
  else delete sb.networks[gw.id];
  tx.put('sandboxes', sb);
  const eps = endpointsOf(tx, { sandbox: sb.id, network: gw.id });
  if (eps.length === 0) return;
  const { cmds, regateway } = dropEndpoints(ctx, tx, sb, eps);
  const move = regateway.map((args) => ({ ns: sb.netns, args }));
  const errs = await teardown(ctx, tx, `disconnect ${sb.name} from ${GWBRIDGE}`, [...cmds, ...move], true);
  for (const e of errs) ctx.warn(e);
}
