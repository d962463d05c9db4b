// The etcd v3 client seam: the few calls the overlay code needs (range, txn, watch) over the
// etcd3 package, with netctl's failure contract (docs/reference.md §10: etcd unreachable -> the command
// fails within 5 s with `cluster store URL: unreachable`). etcd3 is loaded on the first call,
// never by importing this module.
import { InvalidArgumentError, SystemError } from '../lib/errors.js';
import type { Etcd3, IOptions, IWatchResponse, Watcher } from 'etcd3';
import type { IBackoff } from 'cockatiel';
import type * as Lib from './etcd3-lib.js';
import { mark } from '../lib/trace.js';
import type { StoreAccess } from './store-opts.js';
import { ClusterError, ClusterRefused, ClusterUnreachable } from './store-errors.js';

export interface KV {
  key: string;
  value: string;
  createRev: number;
  modRev: number;
}
/**
 * A txn condition: target 'create' | 'mod' compare revisions (numbers), 'value' compares the string value. A key that
 * does not exist has createRev 0 and modRev 0.
 */
export interface Compare {
  key: string;
  target: 'create' | 'mod' | 'value';
  op: '==' | '!=' | '<' | '>';
  value: number | string;
}
export interface TxnReq {
  compare: Compare[];
  put: Array<{ key: string; value: string }>;
  del: Array<{ key: string; prefix?: boolean }>;
}
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRev: number;
}
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

/** The end of the range of keys that start with prefix (etcd's "prefix + 1"); '\0' means "to the end". */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

const RESULT = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

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

  constructor(
    private readonly url: string,
    private readonly endpoints: string[],
    private readonly timeoutMs: number,
    private readonly access: StoreAccess,
  ) {}

  async range(prefix: string): Promise<{ rev: number; kvs: KV[] }> {
    return this.call(async ({ etcd }) => {
      const key = Buffer.from(prefix);
      const res = await etcd.kv.range({ key, range_end: prefixEnd(key) });
      return {
        rev: Number(res.header.revision),
        kvs: res.kvs.map((kv) => ({
          key: kv.key.toString(),
          value: kv.value.toString(),
          createRev: Number(kv.create_revision),
          modRev: Number(kv.mod_revision),
        })),
      };
    });
  }

  async txn(req: TxnReq): Promise<boolean> {
    const compare = req.compare.map((c) => {
      const base = { key: Buffer.from(c.key), result: RESULT[c.op] };
      if (c.target === 'value') return { ...base, target: 'Value' as const, value: Buffer.from(String(c.value)) };
      const rev = Number(c.value);
      if (!Number.isSafeInteger(rev))
        throw new InvalidArgumentError(`txn compare of ${c.key}: revision ${c.value} is not an integer`);
      return c.target === 'create'
        ? { ...base, target: 'Create' as const, create_revision: rev }
        : { ...base, target: 'Mod' as const, mod_revision: rev };
    });
    const success = [
      ...req.put.map((p) => ({ request_put: { key: Buffer.from(p.key), value: Buffer.from(p.value) } })),
      ...req.del.map((d) => {
        const key = Buffer.from(d.key);
        return { request_delete_range: d.prefix ? { key, range_end: prefixEnd(key) } : { key } };
      }),
    ];
    return this.call(async ({ etcd }) => (await etcd.kv.txn({ compare, success, failure: [] })).succeeded);
  }

  async watch(
    prefix: string,
    fromRev: number,
    onEvents: (evs: WatchEvent[]) => void,
    onError: (e: Error) => void,
  ): Promise<{ close(): Promise<void> }> {
    return this.call(
      ({ etcd, hosts }) =>
        new Promise((resolve, reject) => {
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
        }),
    );
  }

  close(): void {
    this.closed = true;
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

  private async open(): Promise<Conn> {
    // The probe's connects go out first and are answered while etcd3 loads.
    const probe = import('./probe.js').then(async (m) => {
      const up = (this.probed = await m.reachableEndpoints(this.endpoints, this.timeoutMs));
      const tls = this.access.tls;
      if (!tls || up.length === 0) return up;
      // gRPC reports a refused certificate as "unavailable": the handshake is tried first, to say why.
      // Within the call's budget, which also loads etcd3 and makes the first request.
      const why = await Promise.all(up.map((ep) => m.tlsRefusal(ep, tls, Math.floor(this.timeoutMs / 2))));
      const ok = up.filter((_, i) => why[i] === null);
      if (ok.length === 0) throw new ClusterRefused(this.url, `TLS: ${why[0] ?? 'refused'}`);
      return ok;
    });
    mark('cluster: loading etcd3');
    const lib = await import('./etcd3-lib.js');
    mark('cluster: etcd3 loaded');
    this.lib = lib;
    const hosts = await probe;
    if (hosts.length === 0) throw new ClusterUnreachable(this.url, new Error('no endpoint accepts a TCP connection'));
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
  private async call<T>(fn: (c: Conn) => Promise<T>): Promise<T> {
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
      return await Promise.race([this.connection().then(fn), deadline]);
    } catch (e) {
      const err = this.classify(e);
      if (err instanceof ClusterUnreachable) {
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
