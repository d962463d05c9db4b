// Where the resolver forwards what it does not know (docs/reference.md §14): the host's own
// servers, read as a process of this network namespace sees them, and the forwarding itself,
// one server after the other with at most a second each.
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';

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
    this.list = nameservers(readQuiet(file) ?? '');
    if (!this.list.length && file === '/etc/resolv.conf')
      this.list = nameservers(readQuiet('/run/systemd/resolve/resolv.conf') ?? '');
    return this.list;
  }
}

/** The nameserver lines of a resolv.conf that the resolver can forward to. */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [key, value = ''] = line.trim().split(/\s+/);
    if (key !== 'nameserver' || !value) continue;
    // Loopback: a stub that forwards back here, or nowhere; link-local: no zone to send it by.
    if (/^127\./.test(value) || value === '::1' || value === '0.0.0.0' || /^fe80:/i.test(value)) continue;
    out.push(value);
  }
  return out;
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

interface Pending {
  resolve: (answer: Buffer | null) => void;
  server: string;
  timer: NodeJS.Timeout;
}

/**
 * Forwards raw queries over UDP: a fresh random ID per try (the client's is put back on the
 * answer), the answer taken only from the server asked; the next server after the timeout.
 */
export class Forwarder {
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly pending = new Map<number, Pending>();

  async udp(query: Buffer, servers: string[]): Promise<Buffer | null> {
    for (const server of servers) {
      const answer = await this.tryUdp(query, server);
      if (answer) return answer;
    }
    return null;
  }

  private tryUdp(query: Buffer, server: string): Promise<Buffer | null> {
    const family = server.includes(':') ? 6 : 4;
    const sock = this.socket(family);
    let id = randomInt(0x10000);
    while (this.pending.has(id)) id = randomInt(0x10000);
    const out = Buffer.from(query);
    const clientId = query.readUInt16BE(0);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, UPSTREAM_TIMEOUT_MS);
      this.pending.set(id, {
        server,
        timer,
        resolve: (answer) => {
          if (answer) answer.writeUInt16BE(clientId, 0);
          resolve(answer);
        },
      });
      sock.send(out, 53, server, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(null);
      });
    });
  }

  private socket(family: 4 | 6): Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('message', (msg, rinfo) => {
      if (msg.length < 12) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p || p.server.replace(/^::ffff:/, '') !== rinfo.address) return;
      clearTimeout(p.timer);
      this.pending.delete(msg.readUInt16BE(0));
      p.resolve(msg);
    });
    s.on('error', () => undefined); // a send's error reaches its callback
    this.sockets.set(family, s);
    return s;
  }

  /** A query that came over TCP goes over TCP (its answer may be larger than a datagram). */
  async tcp(query: Buffer, servers: string[]): Promise<Buffer | null> {
    for (const server of servers) {
      const answer = await tcpOnce(query, server);
      if (answer) return answer;
    }
    return null;
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
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
