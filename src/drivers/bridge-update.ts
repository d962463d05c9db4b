// `netctl update` on a bridge network: which options change in place, and the plan that
// moves the bridge and every endpoint to a new MTU. ICC, masquerade and the gateway modes are
// the firewall's: the core re-derives the firewall model from the updated record.
import { InvalidArgumentError } from '../lib/errors.js';
import { addrDel, linkMtu, resolverRule } from '../kernel/ops.js';
import { resolverOnly, resolverOnlyCmds, type ResolverOnly } from './resolver-only.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord, Step } from '../model/records.js';
import { OPT } from './common.js';

const GW_MODES = ['nat', 'nat-unprotected', 'routed', 'isolated'];
const GW4 = 'com.docker.network.bridge.gateway_mode_ipv4';
const GW6 = 'com.docker.network.bridge.gateway_mode_ipv6';
/** docs/reference.md §13: what update takes; everything else (the name, the host binding, the prefix) is refused. */
export const UPDATABLE: readonly string[] = [OPT.icc, OPT.masquerade, OPT.mtu, GW4, GW6, OPT.dns];

/** Linux's default, what a bridge or veth made without an MTU has. */
const DEFAULT_MTU = '1500';

export function bridgeUpdate(
  before: NetworkRecord,
  after: NetworkRecord,
  endpoints: Array<{ ep: EndpointRecord; sb: SandboxRecord }>,
): Step[] {
  const keys = new Set([...Object.keys(before.options), ...Object.keys(after.options)]);
  const changed = [...keys].filter((k) => before.options[k] !== after.options[k]);
  for (const k of changed) {
    if (!UPDATABLE.includes(k)) {
      throw new InvalidArgumentError(
        `cannot change ${k} of network ${after.name} in place`,
        `update takes ${UPDATABLE.join(', ')}`,
      );
    }
    const v = after.options[k] ?? '';
    if ((k === GW4 || k === GW6) && !GW_MODES.includes(v))
      throw new InvalidArgumentError(
        `invalid ${k} ${JSON.stringify(v)} for network ${after.name}: one of ${GW_MODES.join(', ')}`,
      );
    if ((k === GW4 || k === GW6) && v === 'isolated' && !after.internal)
      throw new InvalidArgumentError(`${k}=isolated needs an --internal network (network ${after.name})`);
  }
  const br = String(before.driverState['bridge'] ?? '');
  const steps: Step[] = resolverSteps(before, after, br);
  if (!changed.includes(OPT.mtu)) return steps;
  const [was, now] = [before.options[OPT.mtu] ?? DEFAULT_MTU, after.options[OPT.mtu] ?? DEFAULT_MTU];
  // Ports before the bridge: a bridge never runs above a port's MTU for long, whichever way it moves.
  steps.push({
    cmds: [...endpoints.map(({ ep }) => linkMtu(ep.hostIf, now)), linkMtu(br, now)],
    undo: [{ args: linkMtu(br, was) }, ...endpoints.map(({ ep }) => ({ args: linkMtu(ep.hostIf, was) }))],
  });
  for (const { ep, sb } of endpoints) {
    steps.push({
      ns: sb.netns,
      cmds: [linkMtu(ep.ifName, now)],
      undo: [{ ns: sb.netns, args: linkMtu(ep.ifName, was) }],
    });
  }
  return steps;
}

/**
 * `netctl.dns` turned on or off on an IPv4-isolated bridge: the gateway address the resolver
 * alone answers on, its route and its rule come or go (resolver-only.ts).
 */
function resolverSteps(before: NetworkRecord, after: NetworkRecord, br: string): Step[] {
  const only = (nw: NetworkRecord) => ((nw.options[GW4] ?? 'nat') === 'isolated' ? resolverOnly(nw) : undefined);
  const [was, now] = [only(before), only(after)];
  if (was?.addr === now?.addr) return [];
  const off = (d: ResolverOnly) => [resolverRule('del', d.addr), addrDel(`${d.addr}/32`, br)];
  const on = (d: ResolverOnly) => resolverOnlyCmds(d, br);
  return [
    {
      cmds: [...(was ? off(was) : []), ...(now ? on(now) : [])],
      undo: [...(now ? off(now) : []), ...(was ? on(was) : [])].map((args) => ({ args })),
    },
  ];
}
