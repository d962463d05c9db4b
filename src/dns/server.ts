// The resolver's sockets: UDP and TCP port 53 on every address of the current view. A new
// view swaps the zone in one assignment and opens or closes only the addresses that came or
// went, so a query in flight or arriving during a change is never dropped (aardvark-dns#389);
// a patch that keeps the networks changes the zone in place, between two queries.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { RCODE, reply, Zone, type HostResolv, type Querier } from './zone.js';
import { Forwarder } from './upstream.js';
import { patched, type DnsPatch, type DnsView } from './protocol.js';
import type { Learner } from './learn.js';

interface Listener {
  udp: Socket;
  tcp: Server;
}

/**
 * A UDP answer within what the client takes (its EDNS size, else 512 bytes): records left out
 * until it fits, with TC set so that it asks again over TCP.
 */
function fitted(query: Packet, answers: Answer[]): Buffer {
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
  let out = packet.encode(reply(query, RCODE.NOERROR, answers));
  for (let n = answers.length - 1; out.length > limit && n >= 0; n--) {
    const cut = reply(query, RCODE.NOERROR, answers.slice(0, n));
    out = packet.encode({ ...cut, flags: (cut.flags ?? 0) | TC });
  }
  return out;
}

const TC = 1 << 9;

/** The answer records of an upstream's reply ([] when it does not decode). */
function answersOf(msg: Buffer): Answer[] {
  try {
    return packet.decode(msg).answers ?? [];
  } catch {
    return [];
  }
}

export class DnsServer {
  private zone: Zone;
  private readonly listeners = new Map<string, Listener>();
  private readonly forwarder = new Forwarder();
  /** Queries per network id, for `dns ls`. */
  readonly queries = new Map<string, number>();
  /** Addresses that could not be opened, with why. */
  readonly errors = new Map<string, string>();
  /** Egress policy's name rules (learn.ts): absent, no answer opens any firewall. */
  learner: Learner | undefined;

  constructor(
    private readonly host: HostResolv,
    private readonly onError: (m: string) => void = () => undefined,
    private readonly port = 53,
  ) {
    this.zone = new Zone({ networks: [], endpoints: [], sandboxes: {} }, host);
  }

  /** How many networks it serves. */
  get serving(): number {
    return this.zone.nets.size;
  }

  /** viewDigest of the view served. */
  get digest(): string {
    return this.zone.digest;
  }

  /** Serves `view` from now on: the zone first, then sockets for new addresses, then old ones closed. */
  async apply(view: DnsView): Promise<void> {
    this.zone = new Zone(view, this.host);
    this.learner?.forget();
    await this.listen();
  }

  /**
   * Applies a patch to the view served: in place while it keeps the networks (no socket comes
   * or goes), else as the whole patched view.
   */
  async patch(p: Pick<DnsPatch, 'networks' | 'parts'>): Promise<void> {
    if (!this.zone.patch(p)) return this.apply(patched(this.zone.view, p));
    // As after a new view: a change may have made the sets anew (a policy, a firewall rewrite).
    this.learner?.forget();
  }

  /** Sockets for the zone's addresses: new ones opened (or tried again), gone ones closed. */
  private async listen(): Promise<void> {
    const want = new Set(this.zone.byListen.keys());
    for (const addr of want) {
      if (this.listeners.has(addr)) continue;
      try {
        this.listeners.set(addr, await this.open(addr));
        this.errors.delete(addr);
      } catch (e) {
        this.errors.set(addr, (e as Error).message);
      }
    }
    for (const [addr, l] of this.listeners) {
      if (want.has(addr)) continue;
      this.listeners.delete(addr);
      l.udp.close();
      l.tcp.close();
    }
    for (const addr of this.errors.keys()) if (!want.has(addr)) this.errors.delete(addr);
  }

  /** Per network: its records and the queries it had. */
  stats(): Array<{ id: string; name: string; address: string; records: number; queries: number; error?: string }> {
    return [...this.zone.nets.values()].map((n) => {
      const error = n.listen.map((a) => this.errors.get(a)).find(Boolean);
      return {
        id: n.id,
        name: n.name,
        address: n.listen.join(','),
        records: this.zone.records.get(n.id) ?? 0,
        queries: this.queries.get(n.id) ?? 0,
        ...(error ? { error } : {}),
      };
    });
  }

  close(): void {
    for (const l of this.listeners.values()) {
      l.udp.close();
      l.tcp.close();
    }
    this.listeners.clear();
  }

  private open(addr: string): Promise<Listener> {
    const udp = createSocket({ type: addr.includes(':') ? 'udp6' : 'udp4' });
    udp.on('message', (msg, rinfo) => {
      this.onUdp(udp, addr, msg, rinfo).catch((e: Error) => this.onError(`query from ${rinfo.address}: ${e.message}`));
    });
    const tcp = createServer((c) => this.onTcp(c, addr));
    return new Promise((resolve, reject) => {
      const fail = (e: Error) => {
        udp.close();
        tcp.close();
        reject(new Error(`cannot listen on ${addr} port ${this.port}: ${e.message}`));
      };
      udp.once('error', fail);
      udp.bind({ address: addr, port: this.port, exclusive: true }, () => {
        tcp.once('error', fail);
        tcp.listen({ host: addr, port: this.port, exclusive: true }, () => {
          udp.removeListener('error', fail);
          tcp.removeListener('error', fail);
          udp.on('error', () => undefined);
          tcp.on('error', () => undefined);
          resolve({ udp, tcp });
        });
      });
    });
  }

  private async onUdp(sock: Socket, local: string, msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    if (rinfo.port === 0) return; // nobody to answer
    const out = await this.answer(msg, rinfo.address, local, false);
    // The socket may have closed meanwhile (the querier's network left this host): the answer has nowhere to go.
    if (out)
      try {
        sock.send(out, rinfo.port, rinfo.address, () => undefined);
      } catch {
        // closed
      }
  }

  private onTcp(c: TcpSocket, local: string): void {
    let buf = Buffer.alloc(0);
    c.setTimeout(10_000, () => c.destroy());
    c.on('error', () => undefined);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        this.answer(msg, c.remoteAddress ?? '', local, true).then(
          (out) => {
            if (!out || c.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(out.length);
            c.write(Buffer.concat([len, out]));
          },
          (e: Error) => this.onError(`TCP query from ${c.remoteAddress ?? '?'}: ${e.message}`),
        );
      }
    });
  }

  /** The answer to one raw query from `source`, or null to say nothing (not a query). */
  async answer(msg: Buffer, source: string, local: string, tcp: boolean): Promise<Buffer | null> {
    let query: Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return null;
    }
    if (query.type !== 'query') return null;
    if (((msg[2] ?? 0) >> 3) & 0x0f) return packet.encode(reply(query, RCODE.NOTIMP, [], false)); // not a QUERY
    const zone = this.zone; // a view served whole meanwhile is a new zone: this query keeps the one it began with
    const q: Querier | undefined = zone.querier(source.replace(/^::ffff:/, ''), local);
    const question = query.questions?.[0];
    if (!q || !question || query.questions?.length !== 1) return packet.encode(reply(query, RCODE.REFUSED, [], false));
    const net = q.nets[0] ?? '';
    this.queries.set(net, (this.queries.get(net) ?? 0) + 1);
    const r = zone.resolve(q, question);
    const rules = this.learner && zone.rulesOf(q.sb);
    switch (r.kind) {
      case 'answer':
        if (rules) await this.learner?.learn(rules, question.name, r.answers);
        return tcp ? packet.encode(reply(query, RCODE.NOERROR, r.answers)) : fitted(query, r.answers);
      case 'nodata':
        return packet.encode(reply(query, RCODE.NOERROR));
      case 'refused':
        return packet.encode(reply(query, RCODE.REFUSED, [], false));
      case 'forward': {
        const got = tcp ? await this.forwarder.tcp(msg, r.servers) : await this.forwarder.udp(msg, r.servers);
        // The sandbox's name rules see the answer before the sandbox does (docs/reference.md §16).
        if (got && rules) await this.learner?.learn(rules, question.name, answersOf(got));
        return got ?? packet.encode(reply(query, RCODE.SERVFAIL, [], false));
      }
    }
  }
}
