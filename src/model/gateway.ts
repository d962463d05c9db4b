// Gateway election, shared by the core (the default route) and the firewall model (published
// ports DNAT to the endpoint that carries it).
import type { EndpointRecord, NetworkRecord } from './records.js';

/**
 * The endpoint that carries a sandbox's default route: highest GwPriority, then not on an
 * internal network, then the one joined first (so a later connect does not move an existing
 * sandbox's route). `netOf` finds an endpoint's network.
 */
export function electGateway(
  eps: EndpointRecord[],
  netOf: (id: string) => NetworkRecord | undefined,
): EndpointRecord | undefined {
  const cands = eps.filter((e) => (e.gateway4 || e.gateway6) && !netOf(e.networkId)?.internal);
  cands.sort((a, b) => b.gwPriority - a.gwPriority || a.seq - b.seq);
  return cands[0];
}
