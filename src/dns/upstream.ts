// Where the resolver forwards what it does not know (docs/reference.md §14): the host's own
// servers, read as a process of this network namespace sees them, and the forwarding itself,
// one server after the other with at most a second each.
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { canonicalIP } from './zone.js';
import { nameservers, searchDomains } from './resolvconf.js';

/** How long one upstream server gets before the next is tried (§14: at most 1 s). */
export const UPSTREAM_TIMEOUT_MS = 1000;

/**
 * The host's upstream servers, from its resolv.conf as `ip netns exec` shows it to this
 * namespace: in a named network namespace that has `/etc/netns/NAME/resolv.conf`, that file;
 * else /etc/resolv.conf, or systemd-resolved's real upstreams when it names only the loopback
 * stub. Read again whenever the file changes (one stat per forwarded query).
 */
export class HostUpstreams {
  private readonly own: string | undefined;
  private seen = '';
  private list: string[] = [];
  private domains: string[] = [];

  constructor(netnsDir = '/run/netns', etcNetns = '/etc/netns') {
    const named = ownNetnsName(netnsDir);
    this.own = named ? `${etcNetns}/${named}/resolv.conf` : undefined;
  }

  servers(): string[] {
    const file = this.own && statSync(this.own, { throwIfNoEntry: false }) ? this.own : '/etc/resolv.conf';
    const st = statSync(file, { throwIfNoEntry: false });
    const key = st ? `${file}:${st.ino}:${st.mtimeMs}:${st.size}` : '';
    if (key === this.seen) return this.list;
    this.seen = key;
    const text = readQuiet(file) ?? '';
    this.list = nameservers(text);
    if (!this.list.length && file === '/etc/resolv.conf')
      this.list = nameservers(readQuiet('/run/systemd/resolve/resolv.conf') ?? '');
    this.domains = searchDomains(text);
    return this.list;
  }

  /** The host's search domains: a sandbox's resolv.conf carries them unless it has --dns-search. */
  search(): string[] {
    this.servers();
    return this.domains;
  }
}

/** The name under `netnsDir` of the network namespace this process is in, if it has one. */
function ownNetnsName(netnsDir: string): string | undefined {
  try {
    const me = statSync('/proc/self/ns/net');
    for (const n of readdirSync(netnsDir)) {
      const st = statSync(`${netnsDir}/${n}`, { throwIfNoEntry: false });
      if (st && st.ino === me.ino && st.dev === me.dev) return n;
    }
  } catch {
    // no /run/netns: the host's own namespace
  }
  return undefined;
}

function readQuiet(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** RCODEs after which the next server is asked: SERVFAIL, NOTIMP, REFUSED (the stub behind us cannot). */
const TRY_NEXT = new Set([2, 4, 5]);

/**
 * Forwards raw queries, one server after the other, at most UPSTREAM_TIMEOUT_MS each. Over UDP
 * each try has a socket of its own (a fresh random port) and a fresh random ID (the client's
 * is put back on the answer); only an answer from the server's port 53 with that ID and the
 * question asked is taken.
 */
export class Forwarder {
  async udp(query: Buffer, servers: string[]): Promise<Buffer | null> {
    return this.each(servers, (server) => udpOnce(query, server));
  }

  /** A query that came over TCP goes over TCP (its answer may be larger than a datagram). */
  async tcp(query: Buffer, servers: string[]): Promise<Buffer | null> {
    return this.each(servers, (server) => tcpOnce(query, server));
  }

  private async each(servers: string[], once: (s: string) => Promise<Buffer | null>): Promise<Buffer | null> {
    let last: Buffer | null = null;
    for (const server of servers) {
      const answer = await once(server);
      if (!answer) continue;
      last = answer;
      if (!TRY_NEXT.has(answer[3]! & 0x0f)) return answer;
    }
    return last;
  }
}

/** The question section of a message (after the 12-byte header), to match an answer to its query. */
function questionOf(msg: Buffer): Buffer | null {
  let i = 12;
  while (i < msg.length && msg[i] !== 0) i += msg[i]! + 1;
  return i + 5 <= msg.length ? msg.subarray(12, i + 5) : null;
}

function udpOnce(query: Buffer, server: string): Promise<Buffer | null> {
  const want = canonicalIP(server) ?? server;
  const id = randomInt(0x10000);
  const out = Buffer.from(query);
  out.writeUInt16BE(id, 0);
  const question = questionOf(query);
  const sock = createSocket(server.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    const done = (answer: Buffer | null) => {
      clearTimeout(timer);
      sock.close();
      if (answer) answer.writeUInt16BE(query.readUInt16BE(0), 0);
      resolve(answer);
    };
    const timer = setTimeout(() => done(null), UPSTREAM_TIMEOUT_MS);
    sock.on('error', () => done(null));
    sock.on('message', (msg, rinfo) => {
      const from = canonicalIP(rinfo.address.replace(/^::ffff:/, '')) ?? rinfo.address;
      if (from !== want || rinfo.port !== 53 || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      if (!(msg[2]! & 0x80) || !question || !questionOf(msg)?.equals(question)) return; // not the answer to this
      done(msg);
    });
    sock.send(out, 53, server, (err) => {
      if (err) done(null);
    });
  });
}

function tcpOnce(query: Buffer, server: string): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const c = connect({ host: server, port: 53 });
    let buf = Buffer.alloc(0);
    const done = (v: Buffer | null) => {
      c.destroy();
      resolve(v);
    };
    c.setTimeout(UPSTREAM_TIMEOUT_MS, () => done(null));
    c.on('error', () => done(null));
    c.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      c.write(Buffer.concat([len, query]));
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    c.on('end', () => done(null));
  });
}
