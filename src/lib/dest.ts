// The DEST of an egress policy rule (docs/reference.md §16), parsed and written back in one
// canonical form. Pure: the CLI, the core, the firewall and the resolver all read it.
//
//   ADDR | CIDR | NAME | *.NAME    then optional :PORT or :PORT-PORT, then optional /tcp or /udp
//
// An IPv6 address or CIDR with a port goes in brackets (`[2001:db8::1]:443`), as in URLs: a bare
// IPv6 DEST has no port, so `2001:db8::1:443` stays the address it reads as.
import { UsageError } from './errors.js';
import { formatPrefix, parseCIDR, parseIP, type Family } from './ip.js';

export type DestProto = 'tcp' | 'udp';

export type Dest = (
  | { kind: 'net'; family: Family; /** canonical CIDR, a host as /32 or /128 */ cidr: string }
  | {
      kind: 'name';
      /** lower case, no trailing dot */ name: string;
      /** `*.name`: names below, not name */ wildcard: boolean;
    }
) & {
  /** [first, last] destination port; absent: every port (and every protocol, without `proto`). */
  ports?: [number, number];
  /** absent: tcp and udp when `ports` is given, any protocol otherwise. */
  proto?: DestProto;
};

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

const bad = (dest: string, why: string): never => {
  throw new UsageError(`invalid egress destination ${JSON.stringify(dest)}: ${why}`);
};

function parsePorts(dest: string, s: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || lo < 1 || hi > 65535 || hi < lo) bad(dest, `bad port ${JSON.stringify(s)} (PORT or PORT-PORT, 1-65535)`);
  return [lo, hi];
}

function parseHost(dest: string, h: string): Dest {
  if (h.includes('/')) {
    const c = parseCIDR(h);
    if (!c) return bad(dest, 'not an address, CIDR or DNS name');
    if (c.addr.value !== c.prefix.base) bad(dest, `host bits set in ${h} (the network is ${formatPrefix(c.prefix)})`);
    return { kind: 'net', family: c.prefix.family, cidr: formatPrefix(c.prefix) };
  }
  const a = parseIP(h);
  if (a)
    return {
      kind: 'net',
      family: a.family,
      cidr: formatPrefix({ family: a.family, base: a.value, len: a.family === 4 ? 32 : 128 }),
    };
  const wildcard = h.startsWith('*.');
  const name = (wildcard ? h.slice(2) : h).toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (!name || name.length > 253 || !labels.every((l) => LABEL.test(l)) || /^[\d.]+$/.test(name))
    bad(dest, 'not an address, CIDR or DNS name');
  return { kind: 'name', name, wildcard };
}

/** Parses one DEST; a malformed one is a UsageError naming it (exit 125). */
export function parseDest(dest: string): Dest {
  let s = dest.trim();
  let proto: DestProto | undefined;
  const pm = /\/(tcp|udp)$/i.exec(s);
  if (pm) {
    proto = (pm[1] ?? '').toLowerCase() as DestProto;
    s = s.slice(0, -pm[0].length);
  }
  let host = s;
  let ports: [number, number] | undefined;
  if (s.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
    if (!m || !(m[1] ?? '').includes(':')) return bad(dest, 'brackets hold an IPv6 address or CIDR: [2001:db8::1]:443');
    host = m[1] ?? '';
    if (m[2] !== undefined) ports = parsePorts(dest, m[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const i = s.indexOf(':');
    host = s.slice(0, i);
    ports = parsePorts(dest, s.slice(i + 1));
  }
  if (!host) bad(dest, 'no address or name');
  const d = parseHost(dest, host);
  return { ...d, ...(ports ? { ports } : {}), ...(proto ? { proto } : {}) };
}

/** The canonical text of a DEST: what the store keeps and `policy show` prints. */
export function formatDest(d: Dest): string {
  let host = d.kind === 'net' ? d.cidr : `${d.wildcard ? '*.' : ''}${d.name}`;
  // A host is written as an address (a /32 IPv6 prefix is a network, not a host).
  if (d.kind === 'net' && d.cidr.endsWith(d.family === 4 ? '/32' : '/128')) host = d.cidr.replace(/\/\d+$/, '');
  const v6 = d.kind === 'net' && d.family === 6;
  const port = d.ports ? `:${d.ports[0]}${d.ports[1] !== d.ports[0] ? `-${d.ports[1]}` : ''}` : '';
  return `${v6 && port ? `[${host}]` : host}${port}${d.proto ? `/${d.proto}` : ''}`;
}

/** Whether a queried name (any case, trailing dot or not) is one a name DEST covers. */
export function nameMatches(d: { name: string; wildcard: boolean }, qname: string): boolean {
  const q = qname.toLowerCase().replace(/\.$/, '');
  return d.wildcard ? q.endsWith(`.${d.name}`) : q === d.name;
}
