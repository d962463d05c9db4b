// Gateway election, shared by the controller (default route) and the firewall (published ports).
import type { ReadTxn } from '../store/store.js';
import type { EndpointRecord, NetworkRecord } from './types.js';

/**
 * The endpoint that carries the default route: highest GwPriority, then not internal, then
 * the one joined first (so a later connect does not move an existing sandbox's route).
 */
export function electGateway(tx: ReadTxn, eps: EndpointRecord[], extra?: NetworkRecord): EndpointRecord | undefined {
  const netOf = (e: EndpointRecord) => (extra && e.networkId === extra.id ? extra : tx.get('networks', e.networkId));
  const cands = eps.filter((e) => (e.gateway4 || e.gateway6) && !netOf(e)?.internal);
  cands.sort((a, b) => b.gwPriority - a.gwPriority || a.seq - b.seq);
  return cands[0];
}

