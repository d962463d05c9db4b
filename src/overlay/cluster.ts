// The cluster store: what netctl keeps in etcd for networks of global scope (libnetwork's old
// cluster store, flannel's layout in spirit). One prefix, JSON values, and every change that
// must be unique cluster-wide is one etcd transaction whose comparisons make it so:
//
//   gen                       bumped by every network create/rm: they compare it, so two hosts
//                             creating at once cannot both pass the name/subnet/VNI checks
//   networks/<id>             the network record (driverState: its VNI)
//   names/<name>, vni/<vni>   -> id, created only if absent
//   netgen/<id>               bumped by every endpoint change on the network: rm compares it
//   ipam/<id>/<ip>            -> endpoint id; created only if absent (compare-and-swap allocation)
//   endpoints/<id>/<epid>     the endpoint as peers need it: IP, MAC, the VTEP of its host
//   nodes/<addr>              a host: name, advertise address, last seen
//
// Addresses are allocated one by one with compare-and-swap (not in per-host blocks): a small
// subnet is never fragmented between hosts, `--ip` works for any address, and a dead host's
// addresses come back with `node rm`, which deletes its endpoints and their ipam keys.
import { allocate } from '../ipam/ipam.js';
import { ConflictError, NotFoundError } from '../lib/errors.js';
import { macFromIPv4, macFromIPv6, parseIP } from '../lib/ip.js';
import { bareIP, type NetworkRecord } from '../model/records.js';
import type { Compare, EtcdClient, KV, TxnReq } from './etcd.js';

export const PREFIX = '/netctl/v1/';
const K = {
  gen: `${PREFIX}gen`,
  network: (id: string) => `${PREFIX}networks/${id}`,
  name: (n: string) => `${PREFIX}names/${n}`,
  vni: (v: number) => `${PREFIX}vni/${v}`,
  netgen: (id: string) => `${PREFIX}netgen/${id}`,
  ipam: (id: string, ip = '') => `${PREFIX}ipam/${id}/${ip}`,
  endpoint: (id: string, ep = '') => `${PREFIX}endpoints/${id}/${ep}`,
  node: (addr: string) => `${PREFIX}nodes/${addr}`,
};

/** An endpoint as every host sees it. */
export interface Peer {
  id: string;
  networkId: string;
  sandboxId: string;
  container: string;
  /** The host's node name and advertise address (its VTEP). */
  node: string;
  vtep: string;
  ipv4: string;
  ipv6: string;
  mac: string;
  /** Its --alias names on the network: every host's resolver answers them. */
  aliases?: string[];
}

export interface NodeRecord {
  name: string;
  addr: string;
  seen: string;
}

/** The whole cluster state at one revision. */
export interface Snapshot {
  rev: number;
  networks: NetworkRecord[];
  peers: Peer[];
  nodes: NodeRecord[];
  /** Mod revisions of `gen` and of each `netgen/<id>` (0: never written). */
  genRev: number;
  netgenRev: Map<string, number>;
  /** Per network: address -> endpoint id. */
  used: Map<string, Map<string, string>>;
}

/** This host as the cluster knows it. */
export interface Me {
  name: string;
  addr: string;
}

/** What a connect asks for (the body of the journaled `Claim` call). */
export interface ClaimRequest {
  network: string;
  endpoint: string;
  sandbox: string;
  container: string;
  /** Addresses asked for (`--ip`/`--ip6`, or those a restarting sandbox kept). */
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  aliases?: string[];
  /** This host re-publishes an endpoint it still has (after `node rm` of it): its address, on any subnet. */
  reclaim?: boolean;
}

const parse = <T>(kv: KV): T | undefined => {
  try {
    return JSON.parse(kv.value) as T;
  } catch {
    return undefined; // someone else's junk under our prefix is ignored, not fatal
  }
};

const cmp = (key: string, target: Compare['target'], value: number | string, op: Compare['op'] = '=='): Compare => ({
  key,
  target,
  op,
  value,
});
const absent = (key: string): Compare => cmp(key, 'create', 0);
const ATTEMPTS = 12;

export class Cluster {
  constructor(
    readonly url: string,
    readonly me: Me,
    private readonly etcd: EtcdClient,
  ) {}

  close(): void {
    this.etcd.close();
  }

  async snapshot(): Promise<Snapshot> {
    const { rev, kvs } = await this.etcd.range(PREFIX);
    const s: Snapshot = { rev, networks: [], peers: [], nodes: [], genRev: 0, netgenRev: new Map(), used: new Map() };
    for (const kv of kvs) {
      const [kind, a, b] = kv.key.slice(PREFIX.length).split('/');
      if (kind === 'gen') s.genRev = kv.modRev;
      else if (kind === 'netgen' && a) s.netgenRev.set(a, kv.modRev);
      else if (kind === 'networks') {
        const n = parse<NetworkRecord>(kv);
        if (n?.id) s.networks.push(n);
      } else if (kind === 'endpoints') {
        const p = parse<Peer>(kv);
        if (p?.id) s.peers.push(p);
      } else if (kind === 'nodes') {
        const n = parse<NodeRecord>(kv);
        if (n?.addr) s.nodes.push(n);
      } else if (kind === 'ipam' && a && b) {
        if (!s.used.has(a)) s.used.set(a, new Map());
        s.used.get(a)?.set(b, kv.value);
      }
    }
    s.networks.sort((x, y) => x.name.localeCompare(y.name));
    return s;
  }

  /**
   * Writes a new network if nothing changed since `snap` (gen) and its name and VNI are free;
   * false when the caller must read again and re-check (another host created or removed one).
   */
  createNetwork(nw: NetworkRecord, vni: number, snap: Snapshot): Promise<boolean> {
    return this.etcd.txn({
      compare: [cmp(K.gen, 'mod', snap.genRev), absent(K.name(nw.name)), absent(K.vni(vni))],
      put: [
        { key: K.network(nw.id), value: JSON.stringify(nw) },
        { key: K.name(nw.name), value: nw.id },
        { key: K.vni(vni), value: nw.id },
        { key: K.gen, value: String(snap.rev) },
        this.nodePut(),
      ],
      del: [],
    });
  }

  /** Removes a network if no endpoint came or went since `snap`; false: read again. */
  deleteNetwork(nw: NetworkRecord, snap: Snapshot): Promise<boolean> {
    const vni = Number(nw.driverState['vni']);
    return this.etcd.txn({
      compare: [cmp(K.netgen(nw.id), 'mod', snap.netgenRev.get(nw.id) ?? 0), cmp(K.network(nw.id), 'create', 0, '>')],
      put: [{ key: K.gen, value: String(snap.rev) }],
      del: [
        { key: K.network(nw.id) },
        { key: K.name(nw.name) },
        ...(Number.isInteger(vni) ? [{ key: K.vni(vni) }] : []),
        { key: K.netgen(nw.id) },
        { key: K.ipam(nw.id), prefix: true },
        { key: K.endpoint(nw.id), prefix: true },
      ],
    });
  }

  /**
   * Claims an address for an endpoint and publishes the endpoint, in one transaction: the
   * lowest free address (or the one asked for) is created only if absent. Losing a race to
   * another host re-reads the network's addresses and tries the next one.
   */
  async claim(req: ClaimRequest, taken?: Map<string, string>): Promise<Peer> {
    let used = taken;
    for (let i = 0; i < ATTEMPTS; i++) {
      const { nw, inUse } = await this.addresses(req.network, i === 0 ? used : undefined);
      used = inUse;
      // Already ours: an earlier try committed but its answer was lost (a timeout, etcd3's retry).
      if ([...inUse.values()].includes(req.endpoint)) {
        const mine = await this.etcd.range(K.endpoint(nw.id, req.endpoint));
        const p = mine.kvs[0] && parse<Peer>(mine.kvs[0]);
        if (p) return p;
      }
      const pick = (family: 4 | 6, asked: string | undefined): string => {
        const pools = nw.ipam.config.filter((p) => p.Subnet.includes(':') === (family === 6));
        if (pools.length === 0 || (family === 6 && !nw.enableIPv6)) {
          if (asked) throw new ConflictError(`network ${nw.name} has no IPv${family} subnet`);
          return '';
        }
        const ctx = {
          network: nw.name,
          pools,
          userSubnets: nw.userSubnets || req.reclaim === true,
          inUse: {
            keys: () => inUse.keys(),
            get: (ip: string) => (inUse.has(ip) && inUse.get(ip) !== req.endpoint ? 'another container' : undefined),
          },
        };
        return allocate(ctx, family, asked) ?? '';
      };
      const cidr4 = pick(4, req.ipv4);
      const cidr6 = pick(6, req.ipv6);
      if (!cidr4 && !cidr6) throw new ConflictError(`network ${nw.name} has no subnet`);
      const ips = [cidr4, cidr6].filter(Boolean).map(bareIP);
      const v4 = parseIP(bareIP(cidr4));
      const peer: Peer = {
        id: req.endpoint,
        networkId: nw.id,
        sandboxId: req.sandbox,
        container: req.container,
        node: this.me.name,
        vtep: this.me.addr,
        ipv4: cidr4,
        ipv6: cidr6,
        mac: (req.mac ?? (v4 ? macFromIPv4(v4) : await this.macFor(nw.id, req.endpoint, bareIP(cidr6)))).toLowerCase(),
        ...(req.aliases?.length ? { aliases: req.aliases } : {}),
      };
      const ok = await this.etcd.txn({
        compare: [...ips.map((ip) => absent(K.ipam(nw.id, ip))), cmp(K.network(nw.id), 'create', 0, '>')],
        put: [
          ...ips.map((ip) => ({ key: K.ipam(nw.id, ip), value: req.endpoint })),
          { key: K.endpoint(nw.id, req.endpoint), value: JSON.stringify(peer) },
          { key: K.netgen(nw.id), value: req.endpoint },
          this.nodePut(),
        ],
        del: [],
      });
      if (ok) return peer;
    }
    throw new ConflictError(
      `could not claim an address on network ${req.network}: too many concurrent connects, try again`,
    );
  }

  /**
   * The MAC of an endpoint with an IPv6 address only: derived from the address, and unique
   * among the network's endpoints (a derived one already held is varied until it is not).
   */
  private async macFor(networkId: string, endpoint: string, ip6: string): Promise<string> {
    const a = parseIP(ip6);
    if (!a) return '';
    const { kvs } = await this.etcd.range(K.endpoint(networkId));
    const held = new Set(
      kvs
        .map((kv) => parse<Peer>(kv))
        .filter((p) => p && p.id !== endpoint)
        .map((p) => p?.mac),
    );
    for (let salt = 0; salt < 256; salt++) {
      const mac = macFromIPv6(a, salt);
      if (!held.has(mac)) return mac;
    }
    throw new ConflictError(`no free MAC address for ${ip6} on network ${networkId.slice(0, 12)}`);
  }

  /** The network record and the addresses in use on it (the snapshot's when given). */
  private async addresses(
    id: string,
    known?: Map<string, string>,
  ): Promise<{ nw: NetworkRecord; inUse: Map<string, string> }> {
    const [rec, ipam] = await Promise.all([
      this.etcd.range(K.network(id)),
      known ? undefined : this.etcd.range(K.ipam(id)),
    ]);
    const kv = rec.kvs.find((x) => x.key === K.network(id));
    const nw = kv && parse<NetworkRecord>(kv);
    if (!nw) throw new NotFoundError(`network ${id.slice(0, 12)} not found in the cluster store (removed meanwhile)`);
    const inUse = new Map(known ?? []);
    for (const x of ipam?.kvs ?? []) inUse.set(x.key.slice(K.ipam(id).length), x.value);
    return { nw, inUse };
  }

  /** Deletes an endpoint and the addresses it holds (only those it still holds). Idempotent. */
  async release(networkId: string, endpoint: string): Promise<void> {
    const { kvs } = await this.etcd.range(K.ipam(networkId));
    const mine = kvs.filter((kv) => kv.value === endpoint);
    await this.etcd.txn({
      compare: [...mine.map((kv) => cmp(kv.key, 'value', endpoint)), cmp(K.network(networkId), 'create', 0, '>')],
      put: [{ key: K.netgen(networkId), value: endpoint }],
      del: [{ key: K.endpoint(networkId, endpoint) }, ...mine.map((kv) => ({ key: kv.key }))],
    });
  }

  /** Records that this host is alive (each global command and the agent's heartbeat). */
  touchNode(): Promise<boolean> {
    return this.etcd.txn({ compare: [], put: [this.nodePut()], del: [] });
  }

  private nodePut(): { key: string; value: string } {
    const rec: NodeRecord = { name: this.me.name, addr: this.me.addr, seen: new Date().toISOString() };
    return { key: K.node(this.me.addr), value: JSON.stringify(rec) };
  }

  /** `node rm`: a host's record, endpoints and addresses, cluster-wide, in one transaction. */
  async removeNode(node: NodeRecord, snap: Snapshot): Promise<Peer[]> {
    const gone = snap.peers.filter((p) => p.vtep === node.addr);
    const req: TxnReq = { compare: [], put: [], del: [{ key: K.node(node.addr) }] };
    for (const p of gone) {
      req.del.push({ key: K.endpoint(p.networkId, p.id) });
      for (const [ip, ep] of snap.used.get(p.networkId) ?? []) {
        if (ep === p.id) {
          req.del.push({ key: K.ipam(p.networkId, ip) });
          req.compare.push(cmp(K.ipam(p.networkId, ip), 'value', p.id));
        }
      }
    }
    for (const net of new Set(gone.map((p) => p.networkId))) req.put.push({ key: K.netgen(net), value: 'node rm' });
    if (!(await this.etcd.txn(req))) throw new ConflictError(`node ${node.name} changed meanwhile: try again`);
    return gone;
  }

  watch(from: number, onChange: () => void, onError: (e: Error) => void): Promise<{ close(): Promise<void> }> {
    // A host's heartbeat (nodes/ alone) changes no network or peer: with every agent re-reading
    // the cluster on a change, heartbeats alone would read it hosts × hosts times per period.
    const heartbeat = `${PREFIX}nodes/`;
    return this.etcd.watch(
      PREFIX,
      from,
      (evs) => {
        if (evs.some((e) => !e.key.startsWith(heartbeat))) onChange();
      },
      onError,
    );
  }
}
