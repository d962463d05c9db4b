// An in-memory etcd with etcd's transaction semantics (revisions, create/mod/value compares,
// prefix deletes, watches), for tier-2 tests of the cluster logic. The e2e tests run the real one.
import type { Compare, EtcdClient, KV, TxnReq, WatchEvent } from '../../src/overlay/etcd.js';
import { ClusterUnreachable } from '../../src/overlay/store-errors.js';

export class FakeEtcd {
  rev = 1;
  readonly data = new Map<string, KV>();
  private readonly watchers = new Set<{ prefix: string; fn: (evs: WatchEvent[]) => void }>();
  down = false;
  /** Called before each txn is applied (to interleave a competing write). */
  beforeTxn: ((req: TxnReq) => void) | undefined;

  client(url = 'etcd://fake:2379'): EtcdClient {
    const check = () => {
      if (this.down) throw new ClusterUnreachable(url);
    };
    return {
      range: async (prefix) => {
        check();
        const kvs = [...this.data.values()]
          .filter((kv) => kv.key.startsWith(prefix))
          .sort((a, b) => (a.key < b.key ? -1 : 1));
        return { rev: this.rev, kvs: kvs.map((kv) => ({ ...kv })) };
      },
      txn: async (req) => {
        check();
        const hook = this.beforeTxn;
        this.beforeTxn = undefined;
        hook?.(req);
        check(); // the hook may have taken etcd away
        return this.txn(req);
      },
      watch: async (prefix, _from, onEvents) => {
        const w = { prefix, fn: onEvents };
        this.watchers.add(w);
        return {
          close: async () => {
            this.watchers.delete(w);
          },
        };
      },
      close: () => undefined,
    };
  }

  private holds(c: Compare): boolean {
    const kv = this.data.get(c.key);
    const have: number | string =
      c.target === 'create' ? (kv?.createRev ?? 0) : c.target === 'mod' ? (kv?.modRev ?? 0) : (kv?.value ?? '');
    if (c.target === 'value' && !kv) return false;
    switch (c.op) {
      case '==':
        return have === c.value;
      case '!=':
        return have !== c.value;
      case '<':
        return have < c.value;
      case '>':
        return have > c.value;
    }
  }

  txn(req: TxnReq): boolean {
    if (!req.compare.every((c) => this.holds(c))) return false;
    this.rev++;
    const evs: WatchEvent[] = [];
    for (const d of req.del) {
      for (const key of [...this.data.keys()]) {
        if (d.prefix ? key.startsWith(d.key) : key === d.key) {
          this.data.delete(key);
          evs.push({ type: 'delete', key, value: '', modRev: this.rev });
        }
      }
    }
    for (const p of req.put) {
      const old = this.data.get(p.key);
      this.data.set(p.key, { key: p.key, value: p.value, createRev: old?.createRev ?? this.rev, modRev: this.rev });
      evs.push({ type: 'put', key: p.key, value: p.value, modRev: this.rev });
    }
    for (const w of this.watchers) {
      const mine = evs.filter((e) => e.key.startsWith(w.prefix));
      if (mine.length) w.fn(mine);
    }
    return true;
  }
}
