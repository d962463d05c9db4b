// What several drivers share: Docker's option names, their parsers, and the container-side
// interface name.
import { InvalidArgumentError } from '../lib/errors.js';
import type { NetworkRecord } from '../model/records.js';

export const OPT = {
  name: 'com.docker.network.bridge.name',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  mtu: 'com.docker.network.driver.mtu',
  ifPrefix: 'com.docker.network.container_iface_prefix',
  gatewayMode4: 'com.docker.network.bridge.gateway_mode_ipv4',
  gatewayMode6: 'com.docker.network.bridge.gateway_mode_ipv6',
  /** netctl's own: `false` turns the network's resolver off (docs/reference.md §14). */
  dns: 'netctl.dns',
} as const;

export const bad = (k: string, v: string) => new InvalidArgumentError(`failed to parse ${k} value: ${v}`);

export function parseBool(k: string, v: string): string {
  if (/^(1|t|true)$/i.test(v)) return 'true';
  if (/^(0|f|false)$/i.test(v)) return 'false';
  throw bad(k, v);
}

/** The MTU, `container_iface_prefix` and `netctl.dns`: options every driver that makes interfaces shares. */
export function parseCommonOption(k: string, v: string): string | undefined {
  if (k === OPT.dns) return parseBool(k, v);
  if (k === OPT.mtu) {
    if (!/^\d{1,5}$/.test(v) || Number(v) < 68 || Number(v) > 65535) throw bad(k, v);
    return String(Number(v));
  }
  // eth<N> must still fit in 15 bytes with room for the index.
  if (k === OPT.ifPrefix && !/^[a-zA-Z][a-zA-Z0-9_-]{0,10}$/.test(v)) throw bad(k, v);
  return undefined;
}

/** The container-side name of endpoint n: `eth<N>` or the network's prefix. */
export const containerIf = (nw: NetworkRecord, n: number): string => `${nw.options[OPT.ifPrefix] ?? 'eth'}${n}`;
