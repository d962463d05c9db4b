// The cluster store's records and requests as the overlay code sees them, whichever way they
// travel to etcd (gateway.ts over HTTP/JSON, grpc-kv.ts over gRPC).
import { InvalidArgumentError } from '../lib/errors.js';
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

/** The revision a 'create' or 'mod' compare holds against, refused unless an integer. */
export function compareRev(c: Compare): number {
  const rev = Number(c.value);
  if (!Number.isSafeInteger(rev))
    throw new InvalidArgumentError(`txn compare of ${c.key}: revision ${c.value} is not an integer`);
  return rev;
}
