// Assertions shared by the overlay e2e files: everything read from the kernel (`ip -j`,
// `bridge -j`) or from netctl's output, never from the store alone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ClusterHost } from './cluster.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = Record<string, any>;

export interface ContainerEntry {
  Name: string;
  EndpointID?: string;
  MacAddress: string;
  IPv4Address: string;
  Node?: string;
  AdvertiseAddr?: string;
}

export function inspect(h: ClusterHost, name: string): Json {
  const nw = (JSON.parse(h.ok('inspect', name)) as Json[])[0];
  assert.ok(nw, `inspect ${name} on ${h.nodeName}`);
  return nw;
}

export function containers(h: ClusterHost, name: string): ContainerEntry[] {
  return Object.values((inspect(h, name)['Containers'] ?? {}) as Record<string, ContainerEntry>);
}

/** The overlay devices of a network on a host: bridge ov-<id12>, VXLAN vx-<id12>. */
export function devices(id: string): { br: string; vx: string } {
  return { br: `ov-${id.slice(0, 12)}`, vx: `vx-${id.slice(0, 12)}` };
}

const ip4 = (a: string): number => a.split('.').reduce((n, x) => n * 256 + Number(x), 0);

/** Whether an IPv4 address lies inside a CIDR. */
export function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const bits = Number(len);
  const size = 2 ** (32 - bits);
  return Math.floor(ip4(ip) / size) === Math.floor(ip4(net ?? '') / size);
}

/** A sandbox's first IPv4 address (no prefix length) inside `cidr`. */
export function sbAddr(h: ClusterHost, sb: string, cidr: string): string | undefined {
  return sbAddrs(h, sb).find((a) => inCidr(a, cidr));
}

/** The interface of a sandbox holding `ip`, with its MAC and MTU. */
export function sbIface(
  h: ClusterHost,
  sb: string,
  ip: string,
): { ifname: string; mac: string; mtu: number } | undefined {
  const ifname = Object.entries(h.addrs(sb)).find(([, a]) => a.some((x) => x.split('/')[0] === ip))?.[0];
  const l = ifname === undefined ? undefined : h.links(sb).find((x) => x.ifname === ifname);
  return l && { ifname: l.ifname, mac: l.address, mtu: l.mtu };
}

/** All IPv4 addresses (no prefix) of a sandbox, lo left out. */
export function sbAddrs(h: ClusterHost, sb: string): string[] {
  return Object.entries(h.addrs(sb))
    .filter(([ifn]) => ifn !== 'lo')
    .flatMap(([, a]) => a.map((x) => x.split('/')[0] ?? ''));
}

/** The VXLAN device and its bridge exist on the host as docs/reference.md §10 says; returns the VNI. */
export function assertOverlayDevices(h: ClusterHost, id: string, vni?: number): number {
  const { br, vx } = devices(id);
  const b = h.linkDetail(br);
  assert.equal(b?.linkinfo?.info_kind, 'bridge', `${h.nodeName}: bridge ${br} exists`);
  const v = h.linkDetail(vx);
  assert.ok(v, `${h.nodeName}: ${vx} exists`);
  assert.equal(v.linkinfo?.info_kind, 'vxlan', `${vx} is a vxlan device`);
  const d = v.linkinfo?.info_data ?? {};
  assert.equal(v.master, br, `${vx} is enslaved to ${br}`);
  assert.equal(d['port'], 4789, 'dstport 4789');
  assert.equal(d['learning'], false, 'learning off');
  assert.equal(v.mtu, 1450, 'MTU = underlay 1500 - 50');
  assert.ok(v.flags.includes('UP'), `${vx} is up`);
  const id_ = d['id'] as number;
  assert.ok(Number.isInteger(id_) && id_ >= 4096, `VNI ${id_} from 4096 up`);
  if (vni !== undefined) assert.equal(id_, vni, 'same VNI');
  return id_;
}

export function assertNoOverlayDevices(h: ClusterHost, id: string): void {
  const { br, vx } = devices(id);
  const names = h.linkNames();
  assert.equal(names.includes(br), false, `${h.nodeName}: no ${br}`);
  assert.equal(names.includes(vx), false, `${h.nodeName}: no ${vx}`);
}

export interface Peer {
  ip: string;
  mac: string;
  vtep: string;
}

/**
 * The endpoint of `sb` on the overlay with subnet `cidr` as the kernel shows it: IP, MAC, its host's
 * advertise address.
 */
export function peerOf(h: ClusterHost, sb: string, cidr: string): Peer {
  const ip = sbAddr(h, sb, cidr);
  assert.ok(ip, `${sb} has an address in ${cidr}`);
  const i = sbIface(h, sb, ip);
  assert.ok(i, `${sb}: interface of ${ip}`);
  return { ip, mac: i.mac.toLowerCase(), vtep: h.addr };
}

/** On `h`, the VXLAN device has exactly the permanent FDB + neighbour entries of `remote`. */
export function assertPeers(h: ClusterHost, id: string, remote: Peer[], why = ''): void {
  const { vx } = devices(id);
  const fdb = h.fdb(vx).filter((e) => e.dst !== undefined);
  const zero = fdb.filter((e) => e.mac === '00:00:00:00:00:00');
  assert.deepEqual(zero, [], `${h.nodeName}${why}: no flooding entry on ${vx}`);
  const got = fdb.map((e) => `${e.mac.toLowerCase()} dst ${e.dst} ${e.state ?? ''}`).sort();
  const want = remote.map((p) => `${p.mac} dst ${p.vtep} permanent`).sort();
  assert.deepEqual(got, want, `${h.nodeName}${why}: FDB of ${vx} = one permanent entry per remote endpoint`);
  const neigh = h
    .neigh(vx)
    .filter((n) => n.lladdr !== undefined)
    .map((n) => `${n.dst} ${n.lladdr?.toLowerCase()} ${(n.state ?? []).join(',')}`)
    .sort();
  const wantN = remote.map((p) => `${p.ip} ${p.mac} PERMANENT`).sort();
  assert.deepEqual(neigh, wantN, `${h.nodeName}${why}: neighbours of ${vx} = one permanent entry per remote endpoint`);
}

/** Whether `h` still has any FDB or neighbour entry for this endpoint. */
export function hasEntriesFor(h: ClusterHost, id: string, p: Pick<Peer, 'ip' | 'mac'>): boolean {
  const { vx } = devices(id);
  return (
    h.fdb(vx).some((e) => e.mac.toLowerCase() === p.mac && e.dst !== undefined) ||
    h.neigh(vx).some((n) => n.dst === p.ip)
  );
}

/** A table printed by netctl, cut at the header's column starts (headers may contain a space). */
export function table(out: string, headers: string[]): Array<Record<string, string>> {
  const lines = out.split('\n').filter((l) => l.length > 0);
  const head = lines[0] ?? '';
  const starts = headers.map((x) => {
    const i = head.indexOf(x);
    assert.ok(i >= 0, `header ${x} in ${JSON.stringify(head)}`);
    return i;
  });
  return lines
    .slice(1)
    .map((l) =>
      Object.fromEntries(
        headers.map((x, k) => [x, l.slice(starts[k], k + 1 < starts.length ? starts[k + 1] : undefined).trim()]),
      ),
    );
}

/** `ls` on a host as rows {NAME, DRIVER, SCOPE}. */
export function lsRows(h: ClusterHost): Array<Record<string, string>> {
  return table(h.ok('ls'), ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE']);
}

/**
 * No leaked device on the host: every veth in the host is enslaved to the bridge of a network
 * the host lists, as many per bridge as that network has containers on this host; ov-/vx-
 * devices exist exactly for the overlays that have an endpoint here.
 */
export function assertDevicesAccounted(h: ClusterHost, why: string): void {
  const want = new Map<string, number>();
  const overlays = new Set<string>();
  for (const r of lsRows(h)) {
    if (['host', 'null'].includes(r['DRIVER'] ?? '')) continue;
    const nw = inspect(h, r['NAME'] ?? '');
    const id = nw['Id'] as string;
    const cs = Object.values((nw['Containers'] ?? {}) as Record<string, ContainerEntry>);
    if (nw['Driver'] === 'overlay') {
      const here = cs.filter((c) => c.Node === h.nodeName).length;
      if (here > 0) {
        overlays.add(devices(id).br).add(devices(id).vx);
        want.set(devices(id).br, here);
      }
    } else if (nw['Driver'] === 'bridge') {
      const dev = (nw['Options']?.['com.docker.network.bridge.name'] as string | undefined) ?? `nc-${id.slice(0, 12)}`;
      if (cs.length) want.set(dev, cs.length);
    }
  }
  const got = new Map<string, number>();
  for (const l of h.links()) {
    if (/^(ov|vx)-/.test(l.ifname))
      assert.ok(
        overlays.has(l.ifname),
        `${h.nodeName} ${why}: ${l.ifname} belongs to an overlay with an endpoint here`,
      );
    const d = h.linkDetail(l.ifname);
    if (d?.linkinfo?.info_kind !== 'veth') continue;
    if (h.foreignLinks.has(l.ifname)) continue;
    assert.ok(l.master, `${h.nodeName} ${why}: veth ${l.ifname} is enslaved to a bridge`);
    got.set(l.master, (got.get(l.master) ?? 0) + 1);
  }
  for (const o of overlays)
    if (o.startsWith('ov-')) assert.ok(h.linkNames().includes(o), `${h.nodeName} ${why}: ${o} exists`);
  assert.deepEqual(
    Object.fromEntries([...got].sort()),
    Object.fromEntries([...want].sort()),
    `${h.nodeName} ${why}: veths per bridge = endpoints per network`,
  );
}

/** Many single pings at once (each -c1 -W1); resolves to whether each one was answered. */
export function pingAll(pairs: Array<[fromNs: string, ip: string]>): Promise<boolean[]> {
  return Promise.all(
    pairs.map(
      ([ns, ip]) =>
        new Promise<boolean>((resolve) => {
          const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', '-q', ip], { stdio: 'ignore' });
          p.on('close', (c) => resolve(c === 0));
        }),
    ),
  );
}
