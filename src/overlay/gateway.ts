// etcd's JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/auth/authenticate on the client port,
// served by etcd 3.4 and later) over HTTP/1.1: the calls a command makes, without loading gRPC
// and protobuf, which cost ~90 ms of every overlay command. The agent's long-lived watch stays
// on gRPC (etcd.ts). Keys and values are base64 and 64-bit numbers are strings in this JSON;
// fields at their default (false, 0, empty) are left out of etcd's answers.
import type { Agent, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostPort } from './probe.js';
import { compareRev, type KV, prefixEnd, type TxnReq } from './kv.js';
import type { StoreAccess } from './store-opts.js';
import { ClusterError, ClusterRefused, ClusterUnreachable } from './store-errors.js';

/** etcd's answer to a request it refused: a gRPC status code and its message. */
interface Status {
  code?: number;
  message?: string;
  error?: string;
}

// CANCELED, DEADLINE_EXCEEDED, UNAVAILABLE: another member may answer.
const UNAVAILABLE = new Set([1, 4, 14]);
/** What etcd says when credentials are missing, wrong or not allowed, whatever its status code. */
const AUTH = /user name is empty|authentication failed|invalid auth token|permission denied|auth.*not enabled/i;
/** A token etcd no longer takes: expired (--auth-token-ttl), or issued before the auth store changed. */
const STALE_TOKEN = /invalid auth token|revision of auth store is old/i;
const AUTHENTICATE = '/v3/auth/authenticate';

/**
 * This member's gateway cannot serve: it is turned off (not etcd's JSON, e.g. a plain 404), or
 * it cannot reach its own gRPC server (UNAVAILABLE not from etcd itself, e.g. "connection
 * closed": under --client-cert-auth etcd dials itself with its server certificate, refused
 * unless that is also for client authentication), or it will not serve a client known by its
 * certificate once auth is on. The client falls back to gRPC (grpc-kv.ts).
 */
export class GatewayUnusable extends Error {}

export class Gateway {
  private agent: Promise<Agent> | undefined;
  /** Per member, shared by concurrent calls: etcd's "simple" tokens are valid only on the member that issued them. */
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(
    private readonly url: string,
    private readonly access: StoreAccess,
  ) {}

  /**
   * One request to one member, answered before `until` (ms since the epoch); throws
   * ClusterUnreachable for anything another member might answer.
   */
  async post(ep: string, path: string, body: unknown, until: number): Promise<Record<string, unknown>> {
    try {
      return await this.attempt(ep, path, body, until);
    } catch (e) {
      if (!(this.access.auth && e instanceof ClusterRefused && STALE_TOKEN.test(e.message))) throw e;
      this.tokens.delete(ep); // authenticate again, once
      return this.attempt(ep, path, body, until);
    }
  }

  close(): void {
    void this.agent?.then((a) => a.destroy());
    this.agent = undefined;
  }

  private async attempt(ep: string, path: string, body: unknown, until: number): Promise<Record<string, unknown>> {
    const auth = this.access.auth;
    let token: string | undefined;
    if (auth) {
      let t = this.tokens.get(ep);
      if (!t) {
        const p = this.send(ep, AUTHENTICATE, { name: auth.username, password: auth.password }, until).then((r) =>
          String(r['token'] ?? ''),
        );
        p.catch(() => {
          if (this.tokens.get(ep) === p) this.tokens.delete(ep);
        });
        this.tokens.set(ep, p);
        t = p;
      }
      token = await t;
    }
    return this.send(ep, path, body, until, token);
  }

  private async send(
    ep: string,
    path: string,
    body: unknown,
    until: number,
    token?: string,
  ): Promise<Record<string, unknown>> {
    let res = await this.exchange(ep, path, JSON.stringify(body), until, token, false);
    // A kept-alive socket the member closed meanwhile (it restarted): once more on a new one.
    if (res === 'stale') res = await this.exchange(ep, path, JSON.stringify(body), until, token, true);
    if (res === 'stale') throw new ClusterUnreachable(this.url, new Error(`${ep}: connection reset`));
    let json: Record<string, unknown> & Status;
    try {
      json = JSON.parse(res.text) as Record<string, unknown> & Status;
    } catch {
      // Not etcd's JSON: no gateway (404), or etcd refusing any gateway request that carries a client
      // certificate once auth is on ("CommonName of client sending a request against gateway will be ignored").
      throw new GatewayUnusable(`${ep} ${path}: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
    }
    if (res.status === 200) return json;
    const why = json.message ?? json.error ?? `HTTP ${res.status}`;
    if (json.code === 14 && !why.startsWith('etcdserver:')) throw new GatewayUnusable(`${ep}: ${why}`);
    if (AUTH.test(why)) {
      // Without a user, etcd knows a client by its certificate's CN, but not through the gateway: ask gRPC.
      if (!this.access.auth && this.access.tls?.cert) throw new GatewayUnusable(`${ep}: ${why}`);
      throw new ClusterRefused(this.url, `authentication: ${why}`);
    }
    if (UNAVAILABLE.has(json.code ?? -1) || res.status === 503) throw new ClusterUnreachable(this.url, new Error(why));
    throw new ClusterError(this.url, why);
  }

  /** The HTTP exchange; 'stale' for a reused socket reset before any answer. */
  private async exchange(
    ep: string,
    path: string,
    data: string,
    until: number,
    token: string | undefined,
    fresh: boolean,
  ): Promise<{ status: number; text: string } | 'stale'> {
    const ms = until - Date.now();
    if (ms <= 0) throw new ClusterUnreachable(this.url, new Error(`${ep}: the call's time ran out`));
    const tls = this.access.tls;
    const http = tls ? await import('node:https') : await import('node:http');
    // Kept-alive sockets: a command's second and third calls skip the TCP (and TLS) handshake.
    // Node unrefs an idle kept-alive socket, so it holds no process open.
    this.agent ??= Promise.resolve(
      tls
        ? new (http as typeof import('node:https')).Agent({
            keepAlive: true,
            ...(tls.ca ? { ca: tls.ca } : {}),
            ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
          })
        : new http.Agent({ keepAlive: true }),
    );
    const agent = await this.agent;
    const { host, port } = hostPort(ep);
    const gone = (e: unknown) => new ClusterUnreachable(this.url, e);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host,
          port,
          path,
          method: 'POST',
          agent,
          // No SNI for an address (RFC 6066); the certificate is still checked against it.
          ...(tls ? { servername: isIP(host) ? '' : host } : {}),
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
            ...(token ? { authorization: token } : {}),
          },
          signal: AbortSignal.timeout(ms),
        },
        (r: IncomingMessage) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          r.on('error', (e) => reject(gone(e))); // the member went away in the middle of its answer
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.name === 'AbortError') reject(gone(new Error(`${ep}: no answer in ${ms} ms`)));
        else if (req.reusedSocket && !fresh && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) resolve('stale');
        else reject(gone(e));
      });
      req.end(data);
    });
  }
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString() : '');
const num = (s: unknown): number => Number(s ?? 0);

export function rangeBody(prefix: string): unknown {
  const key = Buffer.from(prefix);
  return { key: b64(key), range_end: b64(prefixEnd(key)) };
}

export function rangeResult(res: Record<string, unknown>): { rev: number; kvs: KV[] } {
  const kvs = (res['kvs'] ?? []) as Array<Record<string, unknown>>;
  return {
    rev: num((res['header'] as Record<string, unknown> | undefined)?.['revision']),
    kvs: kvs.map((kv) => ({
      key: unb64(kv['key']),
      value: unb64(kv['value']),
      createRev: num(kv['create_revision']),
      modRev: num(kv['mod_revision']),
    })),
  };
}

const RESULT = { '==': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' } as const;

/** The txn as etcd's JSON: compares and their revisions (strings), puts and deletes in base64. */
export function txnBody(req: TxnReq): unknown {
  const compare = req.compare.map((c) => {
    const base = { key: b64(c.key), result: RESULT[c.op] };
    if (c.target === 'value') return { ...base, target: 'VALUE', value: b64(String(c.value)) };
    const rev = compareRev(c);
    return c.target === 'create'
      ? { ...base, target: 'CREATE', create_revision: String(rev) }
      : { ...base, target: 'MOD', mod_revision: String(rev) };
  });
  const success = [
    ...req.put.map((p) => ({ request_put: { key: b64(p.key), value: b64(p.value) } })),
    ...req.del.map((d) => {
      const key = Buffer.from(d.key);
      return { request_delete_range: d.prefix ? { key: b64(key), range_end: b64(prefixEnd(key)) } : { key: b64(key) } };
    }),
  ];
  return { compare, success };
}
