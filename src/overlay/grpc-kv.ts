// range and txn over gRPC (the etcd3 package), for a member whose JSON gateway cannot be used:
// disabled (--enable-grpc-gateway=false), or unable to dial its own gRPC server, which etcd does
// with its server certificate as a client certificate (refused under --client-cert-auth when
// that certificate is not also for client authentication).
import type { Etcd3 } from 'etcd3';
import { compareRev, type KV, prefixEnd, type TxnReq } from './kv.js';

const RESULT = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

export async function grpcRange(etcd: Etcd3, prefix: string): Promise<{ rev: number; kvs: KV[] }> {
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
}

export async function grpcTxn(etcd: Etcd3, req: TxnReq): Promise<boolean> {
  const compare = req.compare.map((c) => {
    const base = { key: Buffer.from(c.key), result: RESULT[c.op] };
    if (c.target === 'value') return { ...base, target: 'Value' as const, value: Buffer.from(String(c.value)) };
    const rev = compareRev(c);
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
  return (await etcd.kv.txn({ compare, success, failure: [] })).succeeded;
}
