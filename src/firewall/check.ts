// The values every backend builds rule text from, checked where they enter (before any text
// exists), whichever tool will read that text.
import { SystemError } from '../lib/errors.js';
import { parseCIDR, parseIP } from '../lib/ip.js';
import { GATEWAY_MODES, familyOf, type Family, type FwModel } from './firewall.js';

export const IFNAME = /^[a-zA-Z0-9_.-]{1,15}$/;
/** Lower-case alphanumerics: drift() finds a rule's owner by /netctl:[0-9a-z]+/. */
export const ID = /^[0-9a-z]{1,64}$/;

export function refuse(what: string, value: unknown, tool: string): never {
  throw new SystemError(`refusing unsafe ${what} for ${tool}: ${JSON.stringify(value)}`);
}

export const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** Every value of the model; `f` limits subnets and addresses to one family (null: each as it says). */
export function checkModel(m: FwModel, f: Family | null, tool: string): void {
  const bad = (what: string, v: unknown): never => refuse(what, v, tool);
  for (const n of m.networks) {
    if (!ID.test(n.id12)) bad('network id', n.id12);
    if (!IFNAME.test(n.bridge)) bad('interface name', n.bridge);
    for (const s of n.subnets) if (parseCIDR(s)?.addr.family !== (f ?? familyOf(s))) bad('subnet', s);
    if (!GATEWAY_MODES.includes(n.mode4) || !GATEWAY_MODES.includes(n.mode6))
      bad('gateway mode', `${n.mode4}/${n.mode6}`);
  }
  for (const p of m.ports) {
    const ip = (s: string) => parseIP(s)?.family === p.family;
    if (!ID.test(p.id12)) bad('container id', p.id12);
    if (!IFNAME.test(p.bridge)) bad('interface name', p.bridge);
    if ((f !== null && p.family !== f) || !ip(p.containerIP)) bad('address', p.containerIP);
    if (p.hostIP && !ip(p.hostIP)) bad('address', p.hostIP);
    if (p.proto !== 'tcp' && p.proto !== 'udp' && p.proto !== 'sctp') bad('protocol', p.proto);
    if (!GATEWAY_MODES.includes(p.mode)) bad('gateway mode', p.mode);
    if (!isPort(p.hostPort)) bad('port', p.hostPort);
    if (!isPort(p.containerPort)) bad('port', p.containerPort);
  }
  for (const d of m.dnsOnly ?? []) {
    if (!ID.test(d.id12)) bad('network id', d.id12);
    if (!IFNAME.test(d.bridge)) bad('interface name', d.bridge);
    if (parseIP(d.addr)?.family !== 4) bad('address', d.addr);
  }
  for (const p of m.policies ?? []) {
    if (!/^[0-9a-f]{12}$/.test(p.id12)) bad('container id', p.id12);
    if (!Number.isInteger(p.mark) || p.mark <= 0 || p.mark > 0xffffffff) bad('mark', p.mark);
    for (const i of [...p.ports, ...p.bridges]) if (!IFNAME.test(i)) bad('interface name', i);
    for (const a of p.dns) if (!parseIP(a)) bad('address', a);
    // Every DEST is parsed again where its rule text is made (parseDest throws on a bad one).
  }
}
