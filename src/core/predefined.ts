// New network records, the predefined networks made on first use, and the subnets a new pool
// must not overlap: shared by the transaction engine (first use) and `create`.
import { driverFor, PREDEFINED } from '../drivers/index.js';
import { defaultPool, parseSubnet, type TakenPrefix } from '../ipam/ipam.js';
import { listRoutes } from '../kernel/ip.js';
import { parseCIDR } from '../lib/ip.js';
import { networkRecord, type NetworkRecord } from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx } from './context.js';

export function newNetworkRecord(ctx: Ctx, name: string, driver: string, predefined: boolean): NetworkRecord {
  return networkRecord({ id: ctx.id(), name, driver, created: ctx.now().toISOString() }, { predefined });
}

export const isPredefinedName = (name: string): boolean => PREDEFINED.some((p) => p.name === name);

/** The predefined networks; a plumbing one (bridge) gets the first free default pool, its device made on first use. */
export async function ensurePredefined(ctx: Ctx, tx: Txn): Promise<void> {
  const have = new Set(
    tx
      .list('networks')
      .filter((n) => n.predefined)
      .map((n) => n.name),
  );
  for (const p of PREDEFINED) {
    if (have.has(p.name)) continue;
    const driver = driverFor(p.driver);
    const nw = newNetworkRecord(ctx, p.name, p.driver, true);
    if (driver.plumbs) nw.ipam.config = [defaultPool(ctx.pools, await takenPrefixes(ctx, tx, true))];
    nw.driverState = { ...driver.initState(nw), ready: false };
    tx.put('networks', nw);
  }
}

/** Subnets no new pool may overlap: every network's, and (for default pools) the host's routes. */
export async function takenPrefixes(ctx: Ctx, tx: ReadTxn, withRoutes: boolean): Promise<TakenPrefix[]> {
  const out: TakenPrefix[] = [];
  for (const n of tx.list('networks')) {
    for (const p of n.ipam.config) out.push({ prefix: parseSubnet(p.Subnet), owner: `network ${n.name}` });
  }
  if (withRoutes) {
    for (const r of await listRoutes(ctx.runner)) {
      const c =
        r.dst === 'default'
          ? null
          : parseCIDR(r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`);
      if (c) out.push({ prefix: c.prefix, owner: `a route${r.dev ? ` on ${r.dev}` : ''}` });
    }
  }
  return out;
}
