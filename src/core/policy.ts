// Egress policy (docs/reference.md §16): what a sandbox may open connections to. Stored with the
// sandbox record; the firewall model derives its rules from there, so stop/start, restore and
// apply keep it without more code. A change is validated whole first, then recorded and the
// firewall synced in one journaled operation (one `nft -f`): a failure puts the record back.
import { driverFor } from '../drivers/index.js';
import { resolverAddresses } from '../dns/view.js';
import { EGRESS_NEEDS_NFT } from '../firewall/firewall.js';
import { policyFor } from '../firewall/model.js';
import { remember, syncFirewall } from '../firewall/sync.js';
import { formatDest, parseDest } from '../lib/dest.js';
import { InvalidArgumentError, NotFoundError } from '../lib/errors.js';
import {
  sharesNetns,
  type EgressPolicy,
  type EndpointRecord,
  type NetworkRecord,
  type PolicyRule,
  type SandboxRecord,
} from '../model/records.js';
import type { PolicyChange } from '../model/requests.js';
import type { ReadTxn, Txn } from '../store/store.js';
import type { Ctx } from './context.js';
import { requireSandbox } from './lookup.js';
import { execute, touch, transaction, view } from './operation.js';

/** Marks are 0x6e000000 + 24 bits (0x6e: "n"): a range kept to itself, away from the low bits others use. */
const MARK_BASE = 0x6e000000;

/** Rules in canonical form (each DEST parsed: a malformed one is a UsageError, exit 125). */
export const canonical = (rules: PolicyRule[]): PolicyRule[] =>
  rules.map((r) => ({ verdict: r.verdict, dest: formatDest(parseDest(r.dest)) }));

/** Without --default: deny when something is allowed (the point of an allow list), else allow. */
const defaultFor = (rules: PolicyRule[]): 'allow' | 'deny' =>
  rules.some((r) => r.verdict === 'allow') ? 'deny' : 'allow';

/** The policy `change` makes of `was` (undefined: none); its mark is `was`'s, or 0 (chosen later). */
export function applyChange(
  name: string,
  was: EgressPolicy | undefined,
  change: PolicyChange,
): EgressPolicy | undefined {
  if (change.op === 'clear') return undefined;
  const rules = canonical(change.rules);
  const key = (r: PolicyRule) => `${r.verdict} ${r.dest}`;
  // The mark stays while the sandbox has a policy: a set that changes nothing is then no change at all.
  if (change.op === 'set')
    return { default: change.default ?? defaultFor(rules), rules: dedupe(rules, key), mark: was?.mark ?? 0 };
  const old = was?.rules ?? [];
  if (change.op === 'add') {
    const all = dedupe([...old, ...rules], key);
    return { default: was?.default ?? defaultFor(all), rules: all, mark: was?.mark ?? 0 };
  }
  if (!was) throw new NotFoundError(`container ${name} has no egress policy`);
  const drop = new Set(rules.map(key));
  for (const r of rules)
    if (!old.some((o) => key(o) === key(r)))
      throw new NotFoundError(`container ${name} has no rule --${r.verdict} ${r.dest}`);
  return { ...was, rules: old.filter((r) => !drop.has(key(r))) };
}

function dedupe<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => !seen.has(key(x)) && seen.add(key(x)));
}

/** A network whose endpoints the host's firewall sees: a policied sandbox may be on it (connect asks too). */
export function checkPolicyNetwork(sb: SandboxRecord, nw: NetworkRecord): void {
  // An overlay's sandbox side sits on a bridge in the overlay's own namespace: not governed yet.
  if (nw.scope !== 'local')
    throw new InvalidArgumentError(
      `egress policy for ${sb.name} is not enforced on ${nw.driver} network ${nw.name} yet`,
    );
  const driver = driverFor(nw.driver);
  // Only a bridge's host side is out of the sandbox's reach (a macvlan's traffic never crosses the host's netfilter).
  if (driver.plumbs && !driver.firewall)
    throw new InvalidArgumentError(
      `egress policy for ${sb.name} cannot be enforced on network ${nw.name}: a ${nw.driver} network's traffic ` +
        `never crosses the host's firewall`,
    );
}

/** Every refusal, before anything changes. */
export function checkPolicy(ctx: Ctx, tx: ReadTxn, sb: SandboxRecord, p: EgressPolicy): void {
  if (sharesNetns(sb.mode)) throw new InvalidArgumentError('policy needs a sandbox with its own network namespace');
  if (ctx.firewall && ctx.firewall.name !== 'nftables')
    throw new InvalidArgumentError(
      EGRESS_NEEDS_NFT,
      'set "firewall-backend": "nftables" in config.json, then netctl restore',
    );
  const nets = Object.keys(sb.networks).flatMap((id) => {
    const nw = tx.get('networks', id);
    return nw ? [nw] : [];
  });
  for (const nw of nets) checkPolicyNetwork(sb, nw);
  const names = p.rules.some((r) => parseDest(r.dest).kind === 'name');
  if (names && !nets.some((nw) => resolverAddresses(nw).length > 0))
    throw new InvalidArgumentError(
      `policy for ${sb.name} names DNS names but it is on no network with netctl's resolver`,
    );
}

/** A mark no other sandbox's policy has, from the sandbox's ID (stable while the policy lives). */
function chooseMark(tx: ReadTxn, sb: SandboxRecord): number {
  const taken = new Set(
    tx
      .list('sandboxes')
      .filter((o) => o.id !== sb.id && o.policy)
      .map((o) => o.policy?.mark),
  );
  let n = parseInt(sb.id.slice(0, 6), 16) || 1;
  while (taken.has(MARK_BASE + n)) n = (n % 0xffffff) + 1;
  return MARK_BASE + n;
}

/** Gives `sb` (in `tx`) its new policy with a mark, after the checks; to call before the sandbox's firewall sync. */
export function preparePolicy(ctx: Ctx, tx: ReadTxn, sb: SandboxRecord, p: EgressPolicy | undefined): void {
  if (!p) {
    delete sb.policy;
    return;
  }
  checkPolicy(ctx, tx, sb, p);
  sb.policy = { ...p, mark: p.mark || chooseMark(tx, sb) };
}

export async function changePolicy(ctx: Ctx, ref: string, change: PolicyChange): Promise<void> {
  if (change.op !== 'clear') canonical(change.rules); // a bad DEST: exit 125 before the lock
  await transaction(ctx, async (tx: Txn) => {
    const sb = requireSandbox(tx, ref);
    const next = applyChange(sb.name, sb.policy, change);
    if (JSON.stringify(next) === JSON.stringify(sb.policy)) return;
    touch(ctx, tx, sb);
    const after = structuredClone(sb);
    preparePolicy(ctx, tx, after, next);
    await execute(ctx, tx, `policy ${sb.name}`, [], () => tx.put('sandboxes', after), true);
  });
}

/**
 * Before a policied sandbox gets new endpoints: the firewall already knows their host veths
 * (by name, before they exist), so no packet of theirs passes unpoliced between the veth coming
 * up and the sync after the commit. Only on networks already in use (a bridge that exists).
 * A failure later re-derives the firewall from the store, which drops what this added.
 */
export async function primePolicy(ctx: Ctx, tx: ReadTxn, sb: SandboxRecord, planned: EndpointRecord[]): Promise<void> {
  const applied = ctx.op.fwApplied;
  if (!sb.policy || !ctx.firewall || !applied) return;
  const ready = planned.filter((ep) => tx.get('networks', ep.networkId)?.driverState['ready']);
  const policy = policyFor(tx, { ...sb, state: 'running' }, ready);
  if (!policy) return;
  remember(applied, tx, sb.id);
  ctx.op.fwApplied = null; // unknown until this succeeds
  ctx.op.fwApplied = await syncFirewall(ctx.firewall, ctx.runner, tx, applied, ctx.debug, { id: sb.id, policy });
}

/** One line of `policy show`. */
export interface PolicyLine {
  rule: string;
  dest: string;
  packets: number;
}

/** The policy with each rule's packet count (0 while the sandbox is stopped: it has no chain then). */
export async function showPolicy(ctx: Ctx, ref: string): Promise<PolicyLine[]> {
  const sb = await view(ctx, (tx) => requireSandbox(tx, ref), false);
  // No policy is the policy that allows everything: shown as its default alone.
  if (!sb.policy) return [{ rule: 'default', dest: 'allow', packets: 0 }];
  const counts = (await ctx.firewall?.policyCounters?.(sb.id.slice(0, 12))) ?? new Map<string, number>();
  return [
    ...sb.policy.rules.map((r, i) => ({ rule: r.verdict, dest: r.dest, packets: counts.get(`r${i}`) ?? 0 })),
    { rule: 'default', dest: sb.policy.default, packets: counts.get('default') ?? 0 },
  ];
}
