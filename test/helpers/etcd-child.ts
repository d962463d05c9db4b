// A process that drives EtcdClients for test/integration/etcd-client.test.ts, run inside the test's
// network namespace (the test process itself stays outside it). One JSON command per stdin
// line; one JSON line per answer on stdout, plus {"events"} / {"watchError"} lines from
// watches. Exits on {"op":"exit"} or when stdin closes.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { connectEtcd, type EtcdClient, type TxnReq } from '../../src/overlay/etcd.js';
import { parseClusterUrl } from '../../src/overlay/store-url.js';

type Cmd =
  | { op: 'connect'; url: string; timeoutMs?: number; auth?: { username: string; password: string } }
  | { op: 'range'; prefix: string }
  | { op: 'txn'; req: TxnReq }
  | { op: 'watch'; prefix: string; fromRev: number }
  | { op: 'unwatch' }
  | { op: 'bundled'; endpoint: string }
  | { op: 'close' }
  | { op: 'exit' };

const out = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
let client: EtcdClient | undefined;
let watch: { close(): Promise<void> } | undefined;

function need(): EtcdClient {
  if (!client) throw new Error('connect first');
  return client;
}

/** The bundled etcd3 chunk (dist/src/bundle/etcd3.cjs: JSON descriptor, code cache) against etcd. */
async function bundled(endpoint: string): Promise<unknown> {
  const req = createRequire(import.meta.url);
  const lib = req('../../src/bundle/etcd3.cjs') as typeof import('etcd3');
  const etcd = new lib.Etcd3({ hosts: `http://${endpoint}` });
  try {
    const events: string[] = [];
    // A filtered watch: its repeated enum field is the packed encoding the JSON must keep.
    const w = await etcd.watch().prefix('/bundled/').only('put').create();
    w.on('put', (kv) => events.push(kv.key.toString()));
    await etcd.put('/bundled/a').value('1');
    await etcd.delete().key('/bundled/a');
    await etcd.put('/bundled/b').value('2');
    const ok = await etcd.if('/bundled/c', 'Create', '==', 0).then(etcd.put('/bundled/c').value('3')).commit();
    const all = await etcd.getAll().prefix('/bundled/').strings();
    for (let i = 0; i < 50 && events.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await w.cancel();
    return { all, events, succeeded: ok.succeeded };
  } finally {
    etcd.close();
  }
}

async function run(cmd: Cmd): Promise<unknown> {
  switch (cmd.op) {
    case 'connect':
      client = connectEtcd(cmd.url, parseClusterUrl(cmd.url), {
        ...(cmd.timeoutMs === undefined ? {} : { timeoutMs: cmd.timeoutMs }),
        ...(cmd.auth ? { access: { auth: cmd.auth } } : {}),
      });
      return true;
    case 'range':
      return need().range(cmd.prefix);
    case 'txn':
      return need().txn(cmd.req);
    case 'watch':
      watch = await need().watch(
        cmd.prefix,
        cmd.fromRev,
        (events) => out({ events }),
        (e) => out({ watchError: e.message }),
      );
      return true;
    case 'unwatch':
      await watch?.close();
      return true;
    case 'bundled':
      return bundled(cmd.endpoint);
    case 'close':
      client?.close();
      return true;
    case 'exit':
      process.stdin.destroy();
      return true;
  }
}

const rl = createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    const t0 = Date.now();
    try {
      out({ ok: await run(JSON.parse(line) as Cmd), ms: Date.now() - t0 });
    } catch (e) {
      const err = e as Error;
      out({ err: { name: err.constructor.name, message: err.message }, ms: Date.now() - t0 });
    }
  });
});
rl.on('close', () => {
  void chain.then(() => {
    client?.close();
  });
});
