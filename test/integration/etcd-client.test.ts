// src/overlay/etcd.ts against a real etcd (Debian's etcd-server), started by this file in a
// throw-away network namespace; the clients run in child processes inside that namespace
// (test/helpers/etcd-child.ts), so no test traffic touches the machine's own network. Skipped
// when not root or without etcd. The pure parts of etcd.ts are test/unit/etcd.test.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../helpers/etcd-child.js', import.meta.url));
const MEMBER = fileURLToPath(new URL('../helpers/fake-member.js', import.meta.url));
const hasEtcd = spawnSync('etcd', ['--version']).status === 0;
const skip = process.getuid?.() !== 0 ? 'needs root' : !hasEtcd ? 'needs etcd (Debian etcd-server)' : false;

const NS = `ncetcd${randomBytes(3).toString('hex')}`;
const EP = '127.0.0.1:2379';
const URL_ = `etcd://${EP}`;
const BLACKHOLE = '198.51.100.7'; // on a veth with a permanent neighbour: packets go nowhere, no error
const dir = mkdtempSync(join(tmpdir(), 'netctl-etcd-'));
let etcd: ChildProcess | undefined;
const children: ChildProcess[] = [];

function sh(...args: string[]): string {
  const r = spawnSync(args[0] ?? '', args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const ctl = (...args: string[]) => sh('ip', 'netns', 'exec', NS, 'etcdctl', '--endpoints', EP, ...args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startEtcd(extra: string[] = []): Promise<void> {
  const log = openSync(join(dir, 'etcd.log'), 'a');
  // `ip netns exec` execs etcd itself: the pid is etcd's.
  etcd = spawn(
    'ip',
    [
      'netns',
      'exec',
      NS,
      'etcd',
      '--name',
      'x',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      `http://${EP}`,
      '--advertise-client-urls',
      `http://${EP}`,
      '--listen-peer-urls',
      'http://127.0.0.1:2380',
      ...extra,
    ],
    { stdio: ['ignore', log, log] },
  );
  for (let i = 0; i < 100; i++) {
    if (
      spawnSync('ip', ['netns', 'exec', NS, 'etcdctl', '--endpoints', EP, '--dial-timeout', '200ms', 'get', 'x'])
        .status === 0
    )
      return;
    await sleep(100);
  }
  throw new Error('etcd did not start');
}

async function stopEtcd(): Promise<void> {
  const p = etcd;
  etcd = undefined;
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

interface Answer {
  ok?: unknown;
  err?: { name: string; message: string };
  ms: number;
}

/** A client process inside the namespace: send() one command, get its answer. */
class Child {
  readonly events: Array<{ type: string; key: string; value: string; modRev: number }> = [];
  readonly watchErrors: string[] = [];
  private readonly answers: Array<(a: Answer) => void> = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number>;

  constructor() {
    this.proc = spawn('nsenter', [`--net=/var/run/netns/${NS}`, process.execPath, CHILD], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(this.proc);
    this.exited = new Promise((r) => this.proc.once('exit', (c) => r(c ?? 1)));
    const stdout = this.proc.stdout;
    if (!stdout) throw new Error('no stdout');
    createInterface({ input: stdout }).on('line', (line) => {
      const m = JSON.parse(line) as Answer & { events?: Child['events']; watchError?: string };
      if (m.events) this.events.push(...m.events);
      else if (m.watchError !== undefined) this.watchErrors.push(m.watchError);
      else this.answers.shift()?.(m);
    });
  }

  send(cmd: object): Promise<Answer> {
    return new Promise((resolve) => {
      this.answers.push(resolve);
      this.proc.stdin?.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  async ok<T>(cmd: object): Promise<T> {
    const a = await this.send(cmd);
    assert.equal(a.err, undefined, `${JSON.stringify(cmd)}: ${JSON.stringify(a.err)}`);
    return a.ok as T;
  }

  /** Ends stdin (the child closes its client) and resolves with the ms it took to exit. */
  async end(): Promise<number> {
    const t0 = Date.now();
    this.proc.stdin?.end();
    await this.exited;
    return Date.now() - t0;
  }

  async waitEvents(n: number, ms = 5000): Promise<void> {
    for (const t0 = Date.now(); this.events.length < n && Date.now() - t0 < ms;) await sleep(20);
    assert.ok(this.events.length >= n, `${this.events.length} of ${n} events: ${JSON.stringify(this.events)}`);
  }
}

/** A misbehaving member (test/helpers/fake-member.ts) at ADDR:2379 in the namespace; `paths`: what it was asked. */
async function member(addr: string, mode: 'hang' | 'drop' | 'stale-token') {
  const proc = spawn('nsenter', [`--net=/var/run/netns/${NS}`, process.execPath, MEMBER, addr, '2379', mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(proc);
  const paths: string[] = [];
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', () => reject(new Error(`fake member ${mode} exited`)));
    createInterface({ input: proc.stdout ?? process.stdin }).on('line', (line) => {
      if (line === 'listening') resolve();
      else paths.push((JSON.parse(line) as { path: string }).path);
    });
  });
  return { paths, url: `${addr}:2379`, stop: () => proc.kill('SIGKILL') };
}

async function client(url = URL_, timeoutMs?: number): Promise<Child> {
  const c = new Child();
  await c.ok({ op: 'connect', url, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  return c;
}

type KVs = { rev: number; kvs: Array<{ key: string; value: string; createRev: number; modRev: number }> };

describe('etcd client (real etcd in a netns)', { skip }, () => {
  before(async () => {
    sh('ip', 'netns', 'add', NS);
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', NS, 'link', 'add', 'bh0', 'type', 'veth', 'peer', 'name', 'bh1');
    sh('ip', '-n', NS, 'link', 'set', 'bh0', 'up');
    sh('ip', '-n', NS, 'link', 'set', 'bh1', 'up');
    sh('ip', '-n', NS, 'addr', 'add', '198.51.100.1/24', 'dev', 'bh0');
    sh('ip', '-n', NS, 'neigh', 'add', BLACKHOLE, 'lladdr', '02:00:00:00:00:07', 'dev', 'bh0', 'nud', 'permanent');
    await startEtcd();
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    const pid = etcd?.pid;
    await stopEtcd();
    spawnSync('ip', ['netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
    assert.ok(
      !sh('ip', 'netns', 'list')
        .split('\n')
        .some((l) => l.split(' ')[0] === NS),
      `netns ${NS} left behind`,
    );
    assert.ok(!existsSync(dir), `${dir} left behind`);
    if (pid) assert.throws(() => process.kill(pid, 0), `etcd ${pid} still running`);
  });

  it('range: every key under the prefix, at one revision', async () => {
    ctl('put', '/r/a', '1');
    ctl('put', '/r/b/c', '2');
    ctl('put', '/rx', 'not under /r/');
    const c = await client();
    const r = await c.ok<KVs>({ op: 'range', prefix: '/r/' });
    assert.deepEqual(
      r.kvs.map((kv) => [kv.key, kv.value]),
      [
        ['/r/a', '1'],
        ['/r/b/c', '2'],
      ],
    );
    assert.ok(r.kvs.every((kv) => kv.createRev > 0 && kv.modRev >= kv.createRev && kv.modRev <= r.rev));
    assert.deepEqual((await c.ok<KVs>({ op: 'range', prefix: '/none/' })).kvs, []);
    await c.end();
  });

  it('txn: put-if-absent, mod and value compares, prefix delete, nothing applied on a failed compare', async () => {
    const c = await client();
    const absent = { key: '/t/x', target: 'create', op: '==', value: 0 };
    assert.equal(
      await c.ok({ op: 'txn', req: { compare: [absent], put: [{ key: '/t/x', value: 'v1' }], del: [] } }),
      true,
    );
    assert.equal(
      await c.ok({ op: 'txn', req: { compare: [absent], put: [{ key: '/t/x', value: 'v2' }], del: [] } }),
      false,
    );
    const [x] = (await c.ok<KVs>({ op: 'range', prefix: '/t/x' })).kvs;
    assert.equal(x?.value, 'v1');
    const mod = (op: string, value: number) => ({ key: '/t/x', target: 'mod', op, value });
    // A stale mod revision loses; the current one wins.
    assert.equal(
      await c.ok({
        op: 'txn',
        req: { compare: [mod('==', (x?.modRev ?? 0) - 1)], put: [{ key: '/t/x', value: 'stale' }], del: [] },
      }),
      false,
    );
    assert.equal(
      await c.ok({
        op: 'txn',
        req: {
          compare: [mod('==', x?.modRev ?? 0), mod('>', 0), mod('<', 1e9)],
          put: [{ key: '/t/x', value: 'v3' }],
          del: [],
        },
      }),
      true,
    );
    const val = (op: string, value: string) => ({ key: '/t/x', target: 'value', op, value });
    assert.equal(
      await c.ok({
        op: 'txn',
        req: { compare: [val('==', 'v3'), val('!=', 'v1')], put: [{ key: '/t/y', value: 'y' }], del: [] },
      }),
      true,
    );
    // Atomicity: one failing compare among several applies none of the puts and deletes.
    const before = await c.ok<KVs>({ op: 'range', prefix: '/t/' });
    assert.equal(
      await c.ok({
        op: 'txn',
        req: {
          compare: [val('==', 'v3'), { key: '/t/y', target: 'create', op: '==', value: 0 }],
          put: [
            { key: '/t/z', value: 'z' },
            { key: '/t/x', value: 'no' },
          ],
          del: [{ key: '/t/y' }],
        },
      }),
      false,
    );
    const same = await c.ok<KVs>({ op: 'range', prefix: '/t/' });
    assert.deepEqual(same.kvs, before.kvs);
    assert.equal(same.rev, before.rev);
    // A prefix delete takes the keys under it only; a plain delete takes one key.
    ctl('put', '/t/sub/1', 'a');
    ctl('put', '/t/sub/2', 'b');
    ctl('put', '/t/subx', 'c');
    assert.equal(
      await c.ok({
        op: 'txn',
        req: {
          compare: [],
          put: [{ key: '/t/w', value: 'w' }],
          del: [{ key: '/t/sub/', prefix: true }, { key: '/t/y' }],
        },
      }),
      true,
    );
    assert.deepEqual(
      (await c.ok<KVs>({ op: 'range', prefix: '/t/' })).kvs.map((kv) => kv.key),
      ['/t/subx', '/t/w', '/t/x'],
    );
    await c.end();
  });

  it('concurrent put-if-absent from several clients: exactly one wins', async () => {
    const cs = await Promise.all(Array.from({ length: 6 }, () => client()));
    // Warm: every client connected, so the txns really race.
    await Promise.all(cs.map((c) => c.ok({ op: 'range', prefix: '/c/' })));
    const won = await Promise.all(
      cs.map((c, i) =>
        c.ok<boolean>({
          op: 'txn',
          req: {
            compare: [{ key: '/c/ip', target: 'create', op: '==', value: 0 }],
            put: [
              { key: '/c/ip', value: `host${i}` },
              { key: `/c/by/${i}`, value: '1' },
            ],
            del: [],
          },
        }),
      ),
    );
    assert.equal(won.filter(Boolean).length, 1, JSON.stringify(won));
    const r = await cs[0]!.ok<KVs>({ op: 'range', prefix: '/c/' });
    const winner = won.indexOf(true);
    assert.deepEqual(
      r.kvs.map((kv) => [kv.key, kv.value]),
      [
        [`/c/by/${winner}`, '1'],
        ['/c/ip', `host${winner}`],
      ],
    );
    await Promise.all(cs.map((c) => c.end()));
  });

  it('watch: events from fromRev on, in batches, then close', async () => {
    const c = await client();
    const { rev } = await c.ok<KVs>({ op: 'range', prefix: '/w/' });
    ctl('put', '/w/early', 'e'); // at rev + 1: before the watch starts, still delivered
    await c.ok({ op: 'watch', prefix: '/w/', fromRev: rev + 1 });
    ctl('put', '/w/a', '1');
    ctl('del', '/w/early');
    ctl('put', '/elsewhere', 'x');
    await c.waitEvents(3);
    assert.deepEqual(
      c.events.map((e) => [e.type, e.key, e.value]),
      [
        ['put', '/w/early', 'e'],
        ['put', '/w/a', '1'],
        ['delete', '/w/early', ''],
      ],
    );
    assert.deepEqual(
      c.events.map((e) => e.modRev),
      [rev + 1, rev + 2, rev + 3],
    );
    await c.ok({ op: 'unwatch' });
    ctl('put', '/w/after', 'x');
    await sleep(200);
    assert.equal(c.events.length, 3);
    assert.ok((await c.end()) < 1500, 'the client exits soon after close');
  });

  it('watch survives an etcd restart: events after it arrive, none twice', async () => {
    const c = await client();
    const { rev } = await c.ok<KVs>({ op: 'range', prefix: '/rs/' });
    await c.ok({ op: 'watch', prefix: '/rs/', fromRev: rev + 1 });
    ctl('put', '/rs/1', 'before');
    await c.waitEvents(1);
    await stopEtcd();
    await sleep(500);
    await startEtcd();
    ctl('put', '/rs/2', 'after');
    ctl('put', '/rs/3', 'after');
    await c.waitEvents(3, 8000);
    assert.deepEqual(
      c.events.map((e) => e.key),
      ['/rs/1', '/rs/2', '/rs/3'],
    );
    assert.deepEqual(c.watchErrors, []);
    // Calls work again too.
    assert.equal((await c.ok<KVs>({ op: 'range', prefix: '/rs/' })).kvs.length, 3);
    await c.end();
  });

  it('watch from a compacted revision: onError, for the caller to re-read', async () => {
    const c = await client();
    ctl('put', '/cp/a', '1');
    const { rev } = await c.ok<KVs>({ op: 'range', prefix: '/cp/' });
    ctl('put', '/cp/a', '2');
    ctl('compaction', String(rev + 1));
    // etcd 3.4 first accepts the watch, then cancels it: the error comes through onError.
    const a = await c.send({ op: 'watch', prefix: '/cp/', fromRev: rev });
    if (a.err) assert.equal(a.err.name, 'ClusterError');
    else for (let i = 0; i < 100 && c.watchErrors.length === 0; i++) await sleep(20);
    const msg = a.err?.message ?? c.watchErrors[0] ?? '';
    assert.match(msg, /^cluster store etcd:\/\/127\.0\.0\.1:2379: watch \/cp\/ canceled by etcd/);
    assert.deepEqual(c.events, []);
    await c.end();
  });

  for (const [what, url] of [
    ['nothing listening', 'etcd://127.0.0.1:1'],
    ['blackholed', `etcd://${BLACKHOLE}:2379`],
    ['no route', 'etcd://203.0.113.9:2379'],
    ['all of several endpoints down', `etcd://127.0.0.1:1,${BLACKHOLE}:2379`],
  ] as const) {
    it(`unreachable (${what}): ClusterUnreachable within 3 s, the next call at once, no hang at exit`, async () => {
      const c = await client(url);
      for (const cmd of [
        { op: 'range', prefix: '/' },
        { op: 'txn', req: { compare: [], put: [{ key: '/u', value: '1' }], del: [] } },
        { op: 'watch', prefix: '/', fromRev: 1 },
      ]) {
        const a = await c.send(cmd);
        assert.deepEqual(a.err, { name: 'ClusterUnreachable', message: `cluster store ${url}: unreachable` });
        assert.ok(a.ms <= 3000, `${cmd.op}: ${a.ms} ms`);
        if (cmd.op !== 'range') assert.ok(a.ms < 50, `after a failure, ${cmd.op} took ${a.ms} ms`);
      }
      assert.ok((await c.end()) < 1500, 'exits once closed');
    });
  }

  it('one endpoint down among several: calls go to the live one', async () => {
    const c = await client(`etcd://${BLACKHOLE}:2379,127.0.0.1:1,${EP}`);
    ctl('put', '/m/k', 'v');
    const a = await c.send({ op: 'range', prefix: '/m/' });
    const r = a.ok as KVs | undefined;
    assert.deepEqual(
      r?.kvs.map((kv) => kv.value),
      ['v'],
      JSON.stringify(a),
    );
    await c.ok({ op: 'watch', prefix: '/m/', fromRev: r?.rev ?? 0 });
    await c.waitEvents(1);
    assert.ok((await c.end()) < 1500);
  });

  it('etcd stopped mid-way: the next call fails within 3 s, later ones at once', async () => {
    const c = await client();
    await c.ok({ op: 'range', prefix: '/' });
    await stopEtcd();
    try {
      const a = await c.send({ op: 'txn', req: { compare: [], put: [{ key: '/s', value: '1' }], del: [] } });
      assert.equal(a.err?.name, 'ClusterUnreachable');
      assert.ok(a.ms <= 3000, `${a.ms} ms`);
      const b = await c.send({ op: 'range', prefix: '/' });
      assert.equal(b.err?.name, 'ClusterUnreachable');
      assert.ok(b.ms < 50, `${b.ms} ms`);
    } finally {
      await startEtcd();
    }
    assert.ok((await c.end()) < 1500);
  });

  it("etcd's auth (through the JSON gateway): a user and password; a wrong one or none refused", async () => {
    ctl('user', 'add', 'root:rootpw');
    ctl('user', 'grant-role', 'root', 'root');
    ctl('auth', 'enable');
    try {
      const root = new Child();
      await root.ok({ op: 'connect', url: URL_, auth: { username: 'root', password: 'rootpw' } });
      assert.equal(
        await root.ok({ op: 'txn', req: { compare: [], put: [{ key: '/auth/a', value: '1' }], del: [] } }),
        true,
      );
      const r = await root.ok<KVs>({ op: 'range', prefix: '/auth/' });
      assert.deepEqual(
        r.kvs.map((kv) => [kv.key, kv.value]),
        [['/auth/a', '1']],
      );
      await root.end();
      const cases: Array<[string, { username: string; password: string } | undefined]> = [
        ['a wrong password', { username: 'root', password: 'nope' }],
        ['no user', undefined],
      ];
      for (const [what, auth] of cases) {
        const c = new Child();
        await c.ok({ op: 'connect', url: URL_, ...(auth ? { auth } : {}) });
        const a = await c.send({ op: 'range', prefix: '/auth/' });
        assert.equal(a.err?.name, 'ClusterRefused', `${what}: ${JSON.stringify(a)}`);
        assert.match(a.err?.message ?? '', new RegExp(`^cluster store ${URL_}: authentication: etcdserver: `), what);
        await c.end();
      }
    } finally {
      ctl('--user', 'root:rootpw', 'auth', 'disable');
      ctl('user', 'delete', 'root');
      ctl('del', '--prefix', '/auth/');
    }
  });

  it('a member that takes the connection and never answers: the next one answers within the budget', async () => {
    const m = await member('127.0.0.2', 'hang');
    try {
      ctl('put', '/h/k', 'v');
      const c = await client(`etcd://${m.url},${EP}`);
      const a = await c.send({ op: 'range', prefix: '/h/' });
      assert.deepEqual(
        (a.ok as KVs | undefined)?.kvs.map((kv) => kv.value),
        ['v'],
        JSON.stringify(a),
      );
      assert.ok(a.ms < 2500, `${a.ms} ms`);
      assert.deepEqual(m.paths, ['/v3/kv/range'], 'the hanging member was asked first');
      const b = await c.send({ op: 'range', prefix: '/h/' });
      assert.ok(b.ms < 500, `the next call goes to the member that answered: ${b.ms} ms`);
      assert.equal(m.paths.length, 1);
      assert.ok((await c.end()) < 1500);
    } finally {
      m.stop();
    }
  });

  it('a member that drops its answer midway: unreachable alone, the next member answers', async () => {
    const m = await member('127.0.0.3', 'drop');
    try {
      const alone = await client(`etcd://${m.url}`);
      const a = await alone.send({ op: 'range', prefix: '/' });
      assert.equal(a.err?.name, 'ClusterUnreachable', JSON.stringify(a));
      assert.ok((await alone.end()) < 1500);
      ctl('put', '/d/k', 'v');
      const c = await client(`etcd://${m.url},${EP}`);
      const b = await c.send({ op: 'range', prefix: '/d/' });
      assert.deepEqual(
        (b.ok as KVs | undefined)?.kvs.map((kv) => kv.value),
        ['v'],
        JSON.stringify(b),
      );
      assert.ok((await c.end()) < 1500);
    } finally {
      m.stop();
    }
  });

  it('a token the member keeps refusing: authenticated again once, then refused', async () => {
    const m = await member('127.0.0.4', 'stale-token');
    try {
      const c = new Child();
      await c.ok({ op: 'connect', url: `etcd://${m.url}`, auth: { username: 'u', password: 'p' } });
      const a = await c.send({ op: 'range', prefix: '/' });
      assert.equal(a.err?.name, 'ClusterRefused', JSON.stringify(a));
      assert.match(a.err?.message ?? '', /authentication: etcdserver: invalid auth token/);
      assert.ok((await c.end()) < 1500, 'no retry loop keeps the process alive');
      assert.deepEqual(m.paths, ['/v3/auth/authenticate', '/v3/kv/range', '/v3/auth/authenticate', '/v3/kv/range']);
    } finally {
      m.stop();
    }
  });

  it('etcd without its JSON gateway (--enable-grpc-gateway=false): range and txn through gRPC', async () => {
    await stopEtcd();
    await startEtcd(['--enable-grpc-gateway=false']);
    try {
      const c = await client();
      const put = {
        compare: [{ key: '/g/k', target: 'create', op: '==', value: 0 }],
        put: [{ key: '/g/k', value: 'v' }],
        del: [],
      };
      assert.equal(await c.ok({ op: 'txn', req: put }), true);
      assert.equal(await c.ok({ op: 'txn', req: put }), false, 'the compare holds no more');
      const r = await c.ok<KVs>({ op: 'range', prefix: '/g/' });
      assert.deepEqual(
        r.kvs.map((kv) => [kv.key, kv.value]),
        [['/g/k', 'v']],
      );
      assert.ok((await c.end()) < 1500);
    } finally {
      await stopEtcd();
      await startEtcd();
    }
  });

  it('the bundled etcd3 chunk (JSON descriptor, code cache) speaks to etcd', async () => {
    const c = new Child();
    const r = await c.ok<{ all: Record<string, string>; events: string[]; succeeded: boolean }>({
      op: 'bundled',
      endpoint: EP,
    });
    assert.deepEqual(r, {
      all: { '/bundled/b': '2', '/bundled/c': '3' },
      events: ['/bundled/a', '/bundled/b', '/bundled/c'],
      succeeded: true,
    });
    await c.end();
  });
});
