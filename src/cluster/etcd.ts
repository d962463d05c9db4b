// TEMPORARY interface stub: replaced by the etcd-client branch.
import { SystemError } from '../lib/errors.js';
export interface KV { key: string; value: string; createRev: number; modRev: number }
export interface Compare { key: string; target: 'create' | 'mod' | 'value'; op: '==' | '!=' | '<' | '>'; value: number | string }
export interface TxnReq { compare: Compare[]; put: Array<{ key: string; value: string }>; del: Array<{ key: string; prefix?: boolean }> }
export interface WatchEvent { type: 'put' | 'delete'; key: string; value: string; modRev: number }
export interface EtcdClient {
  range(prefix: string): Promise<{ rev: number; kvs: KV[] }>;
  txn(req: TxnReq): Promise<boolean>;
  watch(prefix: string, fromRev: number, onEvents: (evs: WatchEvent[]) => void, onError: (e: Error) => void): Promise<{ close(): Promise<void> }>;
  close(): void;
}
export class ClusterUnreachable extends SystemError { constructor(readonly url: string, override readonly cause?: unknown) { super(`cluster store ${url}: unreachable`); } }
export function connectEtcd(url: string, _endpoints: string[], _opts?: { timeoutMs?: number }): EtcdClient { throw new ClusterUnreachable(url); }
export function parseClusterUrl(url: string): string[] { return url.replace(/^etcd:\/\//, '').split(','); }
