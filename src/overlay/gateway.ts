// etcd's JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/auth/authenticate on the client port,
// served by etcd 3.4 and later) over HTTP/1.1: the calls a command makes, without loading gRPC
// and protobuf, which cost ~90 ms of every overlay command. The agent's long-lived watch stays
// on gRPC (etcd.ts). Keys and values are base64 and 64-bit numbers are strings in this JSON;
// fields at their default (false, 0, empty) are left out of etcd's answers.
import type { Agent, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../lib/errors.js';
import { hostPort } from './probe.js';
import { type KV, prefixEnd, type TxnReq } from './kv.js';
import type { StoreAccess } from './store-opts.js';
import { ClusterError, ClusterRefused, ClusterUnreachable } from './store-errors.js';

/** etcd's answer to a request it refused: a gRPC status code and its message. */
interface Status {
  code?: number;
  message?: string;
  error?: string;
}

const UNAVAILABLE = new Set([4, 14]); // DEADLINE_EXCEEDED, UNAVAILABLE: another member may answer
/** What etcd says when credentials are missing, wrong or not allowed, whatever its status code. */
const AUTH = /user name is empty|authentication failed|invalid auth token|permission denied|auth.*not enabled/i;

/**
 * This member's gateway cannot serve: it is turned off (404), or it cannot reach its own gRPC
 * server (UNAVAILABLE not from etcd itself, e.g. "connection closed": under --client-cert-auth
 * etcd dials itself with its server certificate, refused unless that is also for client
 * authentication), or it will not serve a client known by its certificate once auth is on. The
 * client falls back to gRPC (grpc-kv.ts).
 */
export class GatewayUnusable extends Error {}

export class Gateway {
  private agent: Promise<Agent> | undefined;
  /** Per member: etcd's "simple" tokens are valid only on the member that issued them. */
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly url: string,
    private readonly access: StoreAccess,
  ) {}

  /** One request to one member, within ms; throws ClusterUnreachable for anything another member might answer. */
  async post(ep: string, path: string, body: unknown, ms: number): Promise<Record<string, unknown>> {
    const auth = this.access.auth;
    if (auth && !this.tokens.has(ep)) {
      const res = await this.send(ep, '/v3/auth/authenticate', { name: auth.username, password: auth.password }, ms);
      this.tokens.set(ep, String(res['token'] ?? ''));
    }
    try {
      return await this.send(ep, path, body, ms);
    } catch (e) {
      // A token expires (etcd's --auth-token-ttl): authenticate again, once.
      if (!(auth && e instanceof ClusterRefused && /invalid auth token/i.test(e.message))) throw e;
      this.tokens.delete(ep);
      return this.post(ep, path, body, ms);
    }
  }

  close(): void {
    void this.agent?.then((a) => a.destroy());
    this.agent = undefined;
  }

  private async send(ep: string, path: string, body: unknown, ms: number): Promise<Record<string, unknown>> {
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
    const data = JSON.stringify(body);
    const token = path === '/v3/auth/authenticate' ? undefined : this.tokens.get(ep);
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
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
          r.on('error', reject);
        },
      );
      req.on('error', (e: Error) =>
        reject(
          new ClusterUnreachable(this.url, e.name === 'AbortError' ? new Error(`${ep}: no answer in ${ms} ms`) : e),
        ),
      );
      req.end(data);
    });
    if (res.status === 404) throw new GatewayUnusable(`${ep}: no gateway (HTTP 404)`);
    let json: Record<string, unknown> & Status;
    try {
      json = JSON.parse(res.text) as Record<string, unknown> & Status;
    } catch {
      // Not etcd's JSON: e.g. etcd refusing any gateway request that carries a client certificate
      // once auth is on ("CommonName of client sending a request against gateway will be ignored").
      throw new GatewayUnusable(`${ep} ${path}: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
    }
    if (res.status === 200) return json;
    const why = json.message ?? json.error ?? `HTTP ${res.status}`;
    if (json.code === 14 && !why.startsWith('etcdserver:')) throw new GatewayUnusable(`${ep}: ${why}`);
    if (AUTH.test(why)) {
      // Without a user, etcd knows a client by its certificate's CN, but not through the gateway
      // (etcd ignores the CN of a gateway request): ask gRPC.
      if (!this.access.auth && this.access.tls?.cert) throw new GatewayUnusable(`${ep}: ${why}`);
      throw new ClusterRefused(this.url, `authentication: ${why}`);
    }
    if (UNAVAILABLE.has(json.code ?? -1) || res.status === 503) throw new ClusterUnreachable(this.url, new Error(why));
    throw new ClusterError(this.url, why);
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
    const rev = Number(c.value);
    if (!Number.isSafeInteger(rev))
      throw new InvalidArgumentError(`txn compare of ${c.key}: revision ${c.value} is not an integer`);
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
