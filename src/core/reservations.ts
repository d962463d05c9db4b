// Addresses kept across `sandbox stop`/`start` (CNM: Leave keeps the endpoint's address until
// the endpoint is deleted). A stopped sandbox's addresses stay in its networks' record,
// `ipam.reserved` (address -> sandbox id), so no other connect takes them and `start` brings
// the same ones back; `disconnect` and `sandbox rm` release them. They live on the network,
// not the sandbox, so IPAM looks one up by key without reading any sandbox record.
import { release } from '../ipam/ipam.js';
import { bareIP, type EndpointRecord, type NetworkRecord } from '../model/records.js';

/** Keeps an endpoint's addresses for its (now stopped) sandbox. */
export function reserve(nw: NetworkRecord, ep: EndpointRecord): void {
  const ips = [ep.ipv4, ep.ipv6].filter(Boolean).map(bareIP);
  if (ips.length === 0) return;
  nw.ipam.reserved = { ...nw.ipam.reserved };
  for (const ip of ips) nw.ipam.reserved[ip] = ep.sandboxId;
}

/** The address of one family that the sandbox holds reserved on this network. */
export function reservedFor(nw: NetworkRecord, sbId: string, family: 4 | 6): string | undefined {
  for (const [ip, id] of Object.entries(nw.ipam.reserved ?? {})) {
    if (id === sbId && ip.includes(':') === (family === 6)) return ip;
  }
  return undefined;
}

/**
 * Drops the sandbox's reservations on this network; with `free` (disconnect, rm) the addresses
 * go back to IPAM (its mark comes down), without it (start) the sandbox takes them up again.
 * True if the record changed.
 */
export function unreserve(nw: NetworkRecord, sbId: string, free: boolean): boolean {
  const mine = Object.entries(nw.ipam.reserved ?? {})
    .filter(([, id]) => id === sbId)
    .map(([ip]) => ip);
  if (mine.length === 0) return false;
  const rest = Object.fromEntries(Object.entries(nw.ipam.reserved ?? {}).filter(([, id]) => id !== sbId));
  if (Object.keys(rest).length) nw.ipam.reserved = rest;
  else delete nw.ipam.reserved;
  if (free) for (const ip of mine) release(nw.ipam.next, nw.ipam.config, ip);
  return true;
}
