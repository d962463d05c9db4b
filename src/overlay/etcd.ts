// The etcd v3 client seam: the few calls the overlay code needs, with netctl's failure contract
// (docs/reference.md §10: etcd unreachable -> the command fails within 5 s with `cluster store
// URL: unreachable`). range and txn go through etcd's JSON gateway (gateway.ts), so a command
// loads no gRPC; watch, which only the agent uses, goes through the etcd3 package, loaded on the
// first watch, never by importing this module.
import { InvalidArgumentError, SystemError } from '../lib/errors.js';
import type { Etcd3, IOptions, IWatchResponse, Watcher } from 'etcd3';
import type { IBackoff } from 'cockatiel';
import type * as Lib from './etcd3-lib.js';
import { mark } from '../lib/trace.js';
import type { StoreAccess } from './store-opts.js';
import { ClusterError, ClusterRefused, ClusterUnreachable } from './store-errors.js';
import { Gateway, GatewayUnusable, rangeBody, rangeResult, txnBody } from './gateway.js';
import { grpcRange, grpcTxn } from './grpc-kv.js';
import type { TxnReq, KV, WatchEvent } from './kv.js';
export type { Compare, KV, TxnReq, WatchEvent } from './kv.js';
export { prefixEnd } from './kv.js';

export interface EtcdClient {
  /** Every key under prefix, at one revision (the store's current revision is returned as rev). */
  range(prefix: string): Promise<{ rev: number; kvs: KV[] }>;
  /**
   * All compares hold -> all puts and deletes applied atomically, resolves true; else nothing applied, resolves false.
   */
  txn(req: TxnReq): Promise<boolean>;
  /**
   * Watches the prefix from revision fromRev (inclusive) on; calls onEvents with each batch; reconnects by itself after
   * an etcd restart (resuming from the last seen revision + 1); onError for anything it cannot recover from (e.g.
   * compacted revision: caller re-reads).
   */
  watch(
    prefix: string,
    fromRev: number,
    onEvents: (evs: WatchEvent[]) => void,
    onError: (e: Error) => void,
  ): Promise<{ close(): Promise<void> }>;
  close(): void;
}

/**
 * The default budget of one call. docs/reference.md §10 gives a command 5 s and a command makes 2–3 calls: the first
 * failure takes this long, the later ones none (FAIL_FAST_MS).
 */
export const DEFAULT_TIMEOUT_MS = 2500;
/**
 * After a call found etcd unreachable, calls within this window fail at once instead of waiting again (a long-running
 * agent tries again after it).
 */
const FAIL_FAST_MS = 5000;

/**
 * The client of the cluster store at url (endpoints from parseClusterUrl). Nothing is loaded or dialled until the first
 * call.
 */
export function connectEtcd(
  url: string,
  endpoints: string[],
  opts: { timeoutMs?: number; access?: StoreAccess } = {},
): EtcdClient {
  if (endpoints.length === 0) throw new InvalidArgumentError(`invalid cluster store "${url}": no endpoint`);
  return new Client(url, endpoints, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.access ?? {});
}

type LibT = typeof Lib;
interface Conn {
  etcd: Etcd3;
  hosts: string[];
}

/**
 * A watch-reconnect delay: 50–100 ms doubling to 1 s, with jitter so many agents do not reconnect in step after an
 * etcd restart (etcd3's default grows to 30 s).
 */
function reconnectDelay(ms: number): IBackoff<unknown> {
  return { duration: ms * (0.5 + Math.random() / 2), next: () => reconnectDelay(Math.min(ms * 2, 1000)) };
}

class Client implements EtcdClient {
  private conn: Promise<Conn> | undefined;
  private lib: LibT | undefined;
  private failedAt = -Infinity;
  private closed = false;
  private readonly watches = new Set<Watcher>();
  /** The endpoints the last probe found accepting a connection. */
  private probed: string[] = [];
  /** The endpoints that took a connection (and the TLS handshake): probed once, again after they all failed. */
  private up: Promise<string[]> | undefined;
  private gateway: Gateway | undefined;
  /** The member that answered last: the next request goes there first. */
  private at = 0;
  /** A member's gateway could not be used: gRPC from then on. */
  private grpcOnly = false;

  constructor(
    private readonly url: string,
    private readonly endpoints: string[],
    private readonly timeoutMs: number,
    private readonly access: StoreAccess,
  ) {}

  async range(prefix: string): Promise<{ rev: number; kvs: KV[] }> {
    return this.call((until) =>
      this.either(
        async () => rangeResult(await this.request('/v3/kv/range', rangeBody(prefix), until)),
        (etcd) => grpcRange(etcd, prefix),
      ),
    );
  }

  async txn(req: TxnReq): Promise<boolean> {
    const body = txnBody(req);
    return this.call((until) =>
      this.either(
        async () => (await this.request('/v3/kv/txn', body, until))['succeeded'] === true,
        (etcd) => grpcTxn(etcd, req),
      ),
    );
  }

  async watch(
    prefix: string,
    fromRev: number,
    onEvents: (evs: WatchEvent[]) => void,
    onError: (e: Error) => void,
  ): Promise<{ close(): Promise<void> }> {
    return this.call(async () => {
      const { etcd, hosts } = await this.connection();
      return new Promise((resolve, reject) => {
        // The revision every event up to which was delivered: a reconnect resumes after it.
        // etcd3 would resume after the header revision of the last response, which skips events
        // when etcd sends a long history in several responses.
        let seen = fromRev - 1;
        let state: 'connecting' | 'open' | 'closed' = 'connecting';
        const w = etcd.watch().prefix(prefix).startRevision(String(fromRev)).watcher();
        this.watches.add(w);
        const stop = async () => {
          if (state === 'closed') return;
          state = 'closed';
          this.watches.delete(w);
          w.removeAllListeners('data');
          // A cancel waits for etcd's answer; a dead etcd never gives it.
          await Promise.race([w.cancel(), new Promise((r) => setTimeout(r, this.timeoutMs).unref())]);
        };
        w.on('data', (res: IWatchResponse) => {
          if (state === 'closed') return;
          const evs = res.events
            .map((ev) => ({
              type: ev.type === 'Put' ? ('put' as const) : ('delete' as const),
              key: ev.kv.key.toString(),
              value: ev.kv.value.toString(),
              modRev: Number(ev.kv.mod_revision),
            }))
            .filter((ev) => ev.modRev > seen);
          // An empty response is a progress notice: everything up to its revision was sent.
          if (res.events.length === 0 && !res.created) seen = Math.max(seen, Number(res.header.revision));
          const last = evs[evs.length - 1];
          if (last) {
            seen = last.modRev;
            onEvents(evs);
          }
        });
        w.on('connected', () => {
          if (state !== 'connecting') return;
          state = 'open';
          resolve({ close: stop });
        });
        w.on('disconnected', (err: unknown) => {
          // Never connected to the only endpoint: etcd is not there, no point waiting for the
          // backoff. With several, etcd3 tries another one at each reconnect, until the deadline.
          if (state === 'connecting') {
            if (hosts.length === 1) {
              void stop();
              reject(new ClusterUnreachable(this.url, err));
            }
            return;
          }
          w.request.start_revision = String(seen + 1);
        });
        w.on('error', (err: Error) => {
          const first = state === 'connecting';
          void stop();
          // etcd 3.4 cancels a watch of a compacted revision with an empty reason, and etcd3
          // drops the compact_revision: callers cannot tell the cases apart, they re-read.
          const reason = err.message.replace(/^Watcher canceled:\s*/, '');
          const e = new ClusterError(this.url, `watch ${prefix} canceled by etcd${reason ? `: ${reason}` : ''}`);
          if (first) reject(e);
          else onError(e);
        });
        // call()'s deadline also ends a watch that never connects: take the watcher away then.
        setTimeout(() => {
          if (state === 'connecting') void stop();
        }, this.timeoutMs).unref();
      });
    });
  }

  close(): void {
    this.closed = true;
    this.gateway?.close();
    // Watchers first: etcd3 keeps reconnecting the watchers of a closed client.
    for (const w of this.watches) {
      w.removeAllListeners('data');
      void w.cancel();
    }
    this.watches.clear();
    void this.conn?.then(
      ({ etcd }) => etcd.close(),
      () => undefined,
    );
  }

  /** Loads etcd3 and makes the client, once; again after a failure (an agent outlives one). */
  private connection(): Promise<Conn> {
    if (!this.conn) {
      const p = this.open();
      this.conn = p;
      p.catch(() => {
        if (this.conn === p) this.conn = undefined;
      });
    }
    return this.conn;
  }

  /** The endpoints to talk to, probed once (again after they all failed), the TLS ones with their handshake tried. */
  private endpointsUp(): Promise<string[]> {
    if (!this.up) {
      const p = this.probe();
      this.up = p;
      p.catch(() => {
        if (this.up === p) this.up = undefined;
      });
    }
    return this.up;
  }

  private async probe(): Promise<string[]> {
    const m = await import('./probe.js');
    const up = (this.probed = await m.reachableEndpoints(this.endpoints, this.timeoutMs));
    if (up.length === 0) throw new ClusterUnreachable(this.url, new Error('no endpoint accepts a TCP connection'));
    const tls = this.access.tls;
    if (!tls) return up;
    // A refused certificate would look like a dropped connection: the handshake is tried first, to say why.
    // Within the call's budget, which also makes the first request.
    const why = await Promise.all(up.map((ep) => m.tlsRefusal(ep, tls, Math.floor(this.timeoutMs / 2))));
    const ok = up.filter((_, i) => why[i] === null);
    if (ok.length === 0) throw new ClusterRefused(this.url, `TLS: ${why[0] ?? 'refused'}`);
    return ok;
  }

  /** Through the gateway, or through gRPC once a gateway could not be used. */
  private async either<T>(gateway: () => Promise<T>, grpc: (etcd: Etcd3) => Promise<T>): Promise<T> {
    if (!this.grpcOnly) {
      try {
        return await gateway();
      } catch (e) {
        if (!(e instanceof GatewayUnusable)) throw e;
        this.grpcOnly = true;
      }
    }
    return grpc((await this.connection()).etcd);
  }

  /** One gateway request: to the member that answered last, then to each other, each with its share of the budget. */
  private async request(path: string, body: unknown, until: number): Promise<Record<string, unknown>> {
    const hosts = await this.endpointsUp();
    const gateway = (this.gateway ??= new Gateway(this.url, this.access));
    const share = Math.max(500, Math.floor(this.timeoutMs / hosts.length));
    let failed: unknown = new ClusterUnreachable(this.url, new Error(`no answer in ${this.timeoutMs} ms`));
    for (let i = 0; i < hosts.length && Date.now() < until; i++) {
      const at = (this.at + i) % hosts.length;
      try {
        const res = await gateway.post(hosts[at] ?? '', path, body, Math.min(Date.now() + share, until));
        this.at = at;
        return res;
      } catch (e) {
        if (!(e instanceof ClusterUnreachable)) throw e;
        failed = e;
      }
    }
    throw failed;
  }

  private async open(): Promise<Conn> {
    // The probe's connects go out first and are answered while etcd3 loads.
    const probe = this.endpointsUp();
    mark('cluster: loading etcd3');
    const lib = await import('./etcd3-lib.js');
    mark('cluster: etcd3 loaded');
    this.lib = lib;
    const hosts = await probe;
    // grpc-js gives an endpoint's address as the TLS server name, which Node warns about
    // (DEP0123) on stderr, in the middle of netctl's output: netctl prints no deprecations.
    if (this.access.tls) process.noDeprecation = true;
    return { etcd: new lib.Etcd3(this.options(lib, hosts)), hosts };
  }

  private options(lib: LibT, hosts: string[]): IOptions {
    const n = hosts.length;
    const attemptMs = Math.max(500, Math.floor(this.timeoutMs / n));
    const unreachable = (e: Error) =>
      e instanceof lib.GRPCUnavailableError || e instanceof lib.GRPCDeadlineExceededError;
    const { tls, auth } = this.access;
    return {
      hosts: hosts.map((e) => `${tls ? 'https' : 'http'}://${e}`),
      ...(tls?.ca
        ? {
            credentials: {
              rootCertificate: tls.ca,
              ...(tls.cert && tls.key ? { certChain: tls.cert, privateKey: tls.key } : {}),
            },
          }
        : {}),
      ...(auth ? { auth } : {}),
      // etcd3's defaults: 3 retries of every call, a 5 s circuit breaker after 3 failures per
      // host, and no deadline (a blackholed etcd hangs for the TCP timeout, ~2 min, per try).
      // Here: one try per endpoint, each with its share of the budget; with several endpoints
      // a failed one is skipped for 2 s (by watch reconnects too); fail-fast is ours (call()).
      faultHandling: {
        host: () =>
          n > 1
            ? lib.circuitBreaker(lib.handleWhen(unreachable), {
                halfOpenAfter: 2000,
                breaker: new lib.ConsecutiveBreaker(1),
              })
            : lib.noop,
        global: n > 1 ? lib.retry(lib.handleWhen(unreachable), { maxAttempts: n - 1 }) : lib.noop,
        watchBackoff: reconnectDelay(50),
      },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + attemptMs }),
      grpcOptions: {
        // A restarted etcd is dialled again within a second, not after gRPC's 1–120 s backoff.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        // Finds a vanished etcd under a quiet watch; etcd refuses pings more often than every 5 s.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.enable_retries': 0,
      },
    };
  }

  /** Runs one call within the budget, mapping failures to reach etcd to ClusterUnreachable. */
  private async call<T>(fn: (until: number) => Promise<T>): Promise<T> {
    if (this.closed) throw new ClusterError(this.url, 'client closed');
    if (Date.now() - this.failedAt < FAIL_FAST_MS) throw new ClusterUnreachable(this.url);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ClusterUnreachable(this.url, new Error(`no answer in ${this.timeoutMs} ms`))),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([fn(Date.now() + this.timeoutMs), deadline]);
    } catch (e) {
      const err = this.classify(e);
      if (err instanceof ClusterUnreachable) {
        this.up = undefined; // the next call probes every endpoint again, whichever way it goes
        this.forgetPartial();
        if (await this.wantsTls()) {
          throw new ClusterRefused(
            this.url,
            'TLS: the cluster store speaks TLS: give --cluster-store-opt kv.cacertfile=FILE ' +
              '(and kv.certfile, kv.keyfile)',
          );
        }
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Without TLS options: whether an endpoint that took the connection but not the call answers TLS. */
  private async wantsTls(): Promise<boolean> {
    const ep = this.probed[0];
    if (this.access.tls || ep === undefined) return false;
    const { speaksTls } = await import('./probe.js');
    return speaksTls(ep, Math.min(1000, this.timeoutMs));
  }

  /**
   * A client made with only the endpoints that answered its probe is dropped when those fail:
   * the next call probes every endpoint again (an agent must not stay on the members that
   * happened to be up when it started).
   */
  private forgetPartial(): void {
    const c = this.conn;
    if (!c) return;
    void c.then(
      ({ etcd, hosts }) => {
        if (hosts.length >= this.endpoints.length || this.conn !== c) return;
        this.conn = undefined;
        etcd.close();
      },
      () => undefined,
    );
  }

  private classify(e: unknown): Error {
    if (e instanceof ClusterUnreachable) {
      this.failedAt = Date.now();
      return e;
    }
    if (e instanceof SystemError || e instanceof InvalidArgumentError) return e;
    const lib = this.lib;
    if (
      lib &&
      (e instanceof lib.EtcdAuthenticationFailedError ||
        e instanceof lib.EtcdInvalidAuthTokenError ||
        e instanceof lib.EtcdPermissionDeniedError)
    ) {
      return new ClusterRefused(this.url, `authentication: ${(e as Error).message}`);
    }
    if (
      lib &&
      (e instanceof lib.GRPCUnavailableError ||
        e instanceof lib.GRPCDeadlineExceededError ||
        e instanceof lib.GRPCCancelledError ||
        lib.isBrokenCircuitError(e))
    ) {
      this.failedAt = Date.now();
      return new ClusterUnreachable(this.url, e);
    }
    return new ClusterError(this.url, e instanceof Error ? e.message : String(e));
  }
}
