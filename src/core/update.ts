// `netctl update NETWORK` (docs/reference.md §13): labels and the options the driver can change in place,
// applied live to the network's devices, every endpoint and the firewall; endpoints stay as
// they are. The plan is built touching nothing (every refusal comes first) and applied with
// the usual journaled undo: a failure puts the old MTU back and the old rules with the record.
import type { Step } from '../model/records.js';
import { driverFor } from '../drivers/index.js';
import { InvalidArgumentError, NotFoundError } from '../lib/errors.js';
import type { NetworkRecord } from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx } from './context.js';
import { remember } from '../firewall/sync.js';
import { endpointsOf, findNetwork } from './lookup.js';
import { hostFirst } from '../engine/steps.js';
import { execute, touch, transaction } from './operation.js';
import { resolverAddresses } from '../dns/view.js';

export interface NetworkUpdate {
  labelAdd: Record<string, string>;
  labelRm: string[];
  options: Record<string, string>;
}

export interface UpdatePlan {
  /** What changes, as `apply --dry-run` words it ([] : nothing). */
  changes: string[];
  steps: Step[];
  firewall: boolean;
  commit: () => void;
}

/** Plans the change of `nw` (the transaction's record); mutates nothing until `commit`. */
export function planUpdate(tx: ReadTxn, nw: NetworkRecord, change: NetworkUpdate): UpdatePlan {
  const driver = driverFor(nw.driver);
  const after: NetworkRecord = structuredClone(nw);
  for (const k of change.labelRm) {
    if (!(k in after.labels) && !(k in change.labelAdd))
      throw new NotFoundError(`network ${nw.name} has no label ${k}`);
    delete after.labels[k];
  }
  Object.assign(after.labels, change.labelAdd);
  if (Object.keys(change.options).length)
    after.options = driver.parseOptions({ ...nw.options, ...change.options }, nw.name);
  const changes = [
    ...diff(nw.labels, after.labels).map((k) => `label ${k}`),
    ...diff(nw.options, after.options).map((k) => `${k}=${after.options[k] ?? ''}`),
  ];
  let steps: Step[] = [];
  if (diff(nw.options, after.options).length) {
    if (!driver.update)
      throw new InvalidArgumentError(`network ${nw.name}: the ${nw.driver} driver cannot change options in place`);
    const eps = endpointsOf(tx, { network: nw.id }).flatMap((ep) => {
      const sb = tx.get('sandboxes', ep.sandboxId);
      return sb ? [{ ep, sb }] : [];
    });
    steps = driver.update(nw, after, eps);
    // A network not in use yet has no devices: its record is all there is to change.
    if (!nw.driverState['ready']) steps = [];
  }
  const fw = driver.firewall;
  const firewall =
    Boolean(nw.driverState['ready']) && fw !== undefined && JSON.stringify(fw(nw)) !== JSON.stringify(fw(after));
  return {
    changes,
    steps: hostFirst(steps),
    firewall,
    commit: () => {
      Object.assign(nw, { labels: after.labels, options: after.options });
      (tx as Txn).put('networks', nw);
    },
  };
}

/** Keys whose values differ between two maps. */
const diff = (a: Record<string, string>, b: Record<string, string>): string[] =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();

export async function updateNetwork(ctx: Ctx, ref: string, change: NetworkUpdate): Promise<void> {
  await transaction(ctx, async (tx) => {
    const nw = findNetwork(tx, ref);
    const plan = planUpdate(tx, nw, change);
    if (plan.changes.length === 0) return;
    const resolverBefore = resolverAddresses(nw).join();
    // The network's firewall part (a gateway mode, the host binding) shapes the rules of every
    // port published through it: what the firewall holds for those sandboxes is noted first.
    if (plan.firewall)
      for (const id of new Set(endpointsOf(tx, { network: nw.id }).map((ep) => ep.sandboxId)))
        remember(ctx.op.fwApplied, tx, id);
    await execute(ctx, tx, `update network ${nw.name}`, plan.steps, plan.commit, plan.firewall);
    // The resolver came or went (netctl.dns, a gateway mode): every sandbox's resolv.conf follows.
    if (resolverAddresses(nw).join() !== resolverBefore)
      for (const ep of endpointsOf(tx, { network: nw.id })) {
        const sb = tx.get('sandboxes', ep.sandboxId);
        if (sb) touch(ctx, tx, sb);
      }
  });
}
