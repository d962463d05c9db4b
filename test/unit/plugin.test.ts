// Plugins: discovery as Docker does it (NAME.sock, NAME/NAME.sock, NAME.spec, NAME.json, in
// directory order), the HTTP client (media type, one activation, Err, timeout, refusal), and the
// transaction engine's handling of plugin calls: undo journaled before each call, answers that
// add steps and undo, a refused call not undone, the rest undone newest first, and a journal
// entry whose plugin is unreachable kept for the next command.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCtx } from '../../src/core/context.js';
import { driverFor, resolveDriver } from '../../src/drivers/index.js';
import { execute as apply } from '../../src/engine/engine.js';
import { transaction as update } from '../../src/core/operation.js';
import {
  discover,
  MEDIA_TYPE,
  PluginRefused,
  Plugins,
  PluginUnreachable,
  pluginDirs,
  post,
} from '../../src/kernel/plugin.js';
import { NotFoundError, SystemError } from '../../src/lib/errors.js';
import type { PluginCall, Step } from '../../src/model/records.js';
import { MemoryStore } from '../../src/store/memory.js';
import { FakeKernel } from '../helpers/fake-kernel.js';

const tmp = mkdtempSync(join(tmpdir(), 'netctl-plugin-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function listenUnix(path: string): Promise<() => Promise<void>> {
  const s = createNetServer(() => undefined);
  return new Promise((resolve) => s.listen(path, () => resolve(() => new Promise((r) => s.close(() => r())))));
}

describe('plugin discovery', () => {
  const d1 = join(tmp, 'd1');
  const d2 = join(tmp, 'd2');
  let closers: Array<() => Promise<void>> = [];
  before(async () => {
    mkdirSync(join(d1, 'nested'), { recursive: true });
    mkdirSync(d2, { recursive: true });
    closers = [
      await listenUnix(join(d1, 'sock.sock')),
      await listenUnix(join(d1, 'nested', 'nested.sock')),
      await listenUnix(join(d2, 'sock.sock')),
    ];
    writeFileSync(join(d2, 'spec.spec'), 'unix:///run/x/spec.sock\n');
    writeFileSync(join(d2, 'tcp.spec'), 'tcp://127.0.0.1:9555');
    writeFileSync(join(d2, 'js.json'), JSON.stringify({ Name: 'js', Addr: 'tcp://[::1]:80' }));
    writeFileSync(join(d2, 'bad.spec'), 'https://h:1');
    writeFileSync(join(d2, 'badjson.json'), '{');
    writeFileSync(join(d2, 'noaddr.json'), '{"Name":"noaddr"}');
    writeFileSync(join(d1, 'plain.sock'), 'not a socket');
  });
  after(async () => {
    for (const c of closers) await c();
  });

  it('finds a socket, a nested socket, a .spec and a .json; the first directory wins', () => {
    assert.deepEqual(discover('sock', [d1, d2]), { socket: join(d1, 'sock.sock') });
    assert.deepEqual(discover('sock', [d2, d1]), { socket: join(d2, 'sock.sock') });
    assert.deepEqual(discover('nested', [d1]), { socket: join(d1, 'nested', 'nested.sock') });
    assert.deepEqual(discover('spec', [d1, d2]), { socket: '/run/x/spec.sock' });
    assert.deepEqual(discover('tcp', [d2]), { host: '127.0.0.1', port: 9555 });
    assert.deepEqual(discover('js', [d2]), { host: '::1', port: 80 });
  });

  it('refuses what is not a plugin, naming it', () => {
    for (const n of ['missing', 'plain', '../d2/spec', 'a/b', '', '.hidden']) {
      assert.throws(
        () => discover(n, [d1, d2]),
        (e: Error) => e instanceof NotFoundError && e.message === `plugin "${n}" not found`,
        n,
      );
    }
    assert.throws(() => discover('bad', [d2]), /plugin "bad": .*bad\.spec has an unsupported address "https:\/\/h:1"/);
    assert.throws(() => discover('badjson', [d2]), /plugin "badjson": .*badjson\.json is not valid JSON/);
    assert.throws(() => discover('noaddr', [d2]), /plugin "noaddr": .*noaddr\.json has no "Addr"/);
  });

  it('NETCTL_PLUGIN_DIRS replaces the default directories', () => {
    assert.deepEqual(pluginDirs('/a:/b:'), ['/a', '/b']);
    assert.deepEqual(pluginDirs(''), [
      '/run/netctl/plugins',
      '/run/docker/plugins',
      '/etc/docker/plugins',
      '/usr/lib/docker/plugins',
    ]);
  });
});

describe('driver registry: a name not built in is a plugin', () => {
  const errorOf = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (e) {
      return e as Error;
    }
    return assert.fail('expected a throw');
  };

  it('an unknown driver is a plugin that is not found', () => {
    process.env['NETCTL_PLUGIN_DIRS'] = '/nonexistent-netctl-plugins';
    const e = errorOf(() => resolveDriver('nope'));
    assert.ok(e instanceof NotFoundError, e.constructor.name);
    assert.equal(e.message, 'plugin "nope" not found');
    // A recorded network's driver is never looked up: its plugin may be gone, its teardown must still run.
    assert.equal(driverFor('nope').name, 'nope');
    assert.equal(driverFor('nope').firewall, undefined);
  });

  it('names of Object.prototype are not drivers', () => {
    process.env['NETCTL_PLUGIN_DIRS'] = '/nonexistent-netctl-plugins';
    for (const n of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '', '../etc/x', 'a/b']) {
      const e = errorOf(() => resolveDriver(n));
      assert.ok(e instanceof NotFoundError, `${n}: ${e.constructor.name}`);
      assert.equal(e.message, `plugin "${n}" not found`);
    }
  });
});

describe('plugin client', () => {
  const sock = join(tmp, 'client.sock');
  let server: Server;
  const seen: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const answers: Record<string, (res: import('node:http').ServerResponse) => void> = {};
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body });
        const a = answers[req.url ?? ''];
        if (a) return a(res);
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(sock, r));
    answers['/Plugin.Activate'] = (res) => res.end(JSON.stringify({ Implements: ['NetworkDriver'] }));
    answers['/NetworkDriver.Fail'] = (res) => res.end(JSON.stringify({ Err: 'no such network' }));
    answers['/NetworkDriver.Http'] = (res) => {
      res.statusCode = 500;
      res.end('boom');
    };
    answers['/NetworkDriver.Slow'] = () => undefined; // never answers
    answers['/NetworkDriver.Echo'] = (res) => res.end(JSON.stringify({ Got: seen[seen.length - 1]?.body }));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const call = (method: string, body: Record<string, unknown> = {}): PluginCall => ({
    plugin: 'client',
    kind: 'NetworkDriver',
    method: `NetworkDriver.${method}`,
    body,
  });

  it('POSTs JSON with the plugin media type, activating once per process', async () => {
    const p = new Plugins(() => [tmp], 300);
    assert.deepEqual(await p.call(call('Echo', { NetworkID: 'n1' })), { Got: '{"NetworkID":"n1"}' });
    await p.call(call('Echo'));
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/Plugin.Activate', '/NetworkDriver.Echo', '/NetworkDriver.Echo'],
    );
    assert.equal(seen[1]?.headers['content-type'], MEDIA_TYPE);
    assert.equal(seen[1]?.headers['accept'], MEDIA_TYPE);
  });

  it('Err and HTTP errors are refusals naming the driver; silence is unreachable within the timeout', async () => {
    const p = new Plugins(() => [tmp], 300);
    await assert.rejects(
      p.call(call('Fail')),
      (e: Error) => e instanceof PluginRefused && e.message === 'remote driver client: no such network',
    );
    await assert.rejects(
      p.call(call('Http')),
      (e: Error) => e instanceof PluginRefused && /HTTP 500 boom/.test(e.message),
    );
    const t0 = Date.now();
    await assert.rejects(
      p.call(call('Slow')),
      (e: Error) =>
        e instanceof PluginUnreachable &&
        /^plugin "client" unreachable: no answer to NetworkDriver.Slow within 0.3 s$/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 2000);
    await assert.rejects(post('gone', { socket: join(tmp, 'nothing.sock') }, 'Plugin.Activate', {}), PluginUnreachable);
  });

  it('a plugin that does not implement the kind asked for is refused', async () => {
    const p = new Plugins(() => [tmp], 300);
    await assert.rejects(
      p.call({ ...call('Echo'), kind: 'IpamDriver' }),
      (e: Error) =>
        e instanceof SystemError &&
        e.message === 'plugin "client" does not implement IpamDriver (it implements NetworkDriver)',
    );
  });
});

describe('plugin calls in the transaction engine', () => {
  const undo = (m: string) => ({
    args: [],
    call: { plugin: 'fake', kind: 'NetworkDriver' as const, method: m, body: {} },
  });
  const fake = (fail: string | undefined, down = false) => {
    const sent: string[] = [];
    return {
      sent,
      call: async (c: PluginCall) => {
        sent.push(c.method);
        if (down) throw new PluginUnreachable('plugin "fake" unreachable: down');
        if (c.method === fail) throw new PluginRefused(`remote driver fake: no ${c.method}`);
        return { Name: 'br9' };
      },
    };
  };
  const plan = (journals: number[], store: MemoryStore): Step[] => [
    { cmds: [], call: { plugin: 'fake', kind: 'NetworkDriver', method: 'A', body: {} }, undo: [undo('undoA')] },
    {
      cmds: [],
      undo: [undo('undoB')],
      call: {
        plugin: 'fake',
        kind: 'NetworkDriver',
        method: 'B',
        body: {},
        then: (answer, more) => {
          journals.push(store.snapshot().journal[0]?.cleanup.length ?? 0);
          more.push(undo('releaseB'));
          return [
            {
              cmds: [['link', 'add', 'name', String(answer['Name']), 'type', 'bridge']],
              undo: [{ args: ['link', 'del', String(answer['Name'])] }],
            },
          ];
        },
      },
    },
    { cmds: [], call: { plugin: 'fake', kind: 'NetworkDriver', method: 'C', body: {} }, undo: [undo('undoC')] },
  ];

  async function run(fail: string | undefined) {
    const kernel = new FakeKernel();
    const store = new MemoryStore();
    const plugins = fake(fail);
    const ctx = makeCtx({ store, runner: kernel, plugins });
    const journals: number[] = [];
    const err = await update(ctx, (tx) => apply(ctx, tx, 'test', plan(journals, store), () => undefined)).then(
      () => null,
      (e: Error) => e,
    );
    return { kernel, store, plugins, journals, err };
  }

  it("runs the calls in order, each answer's steps after it; the journal is empty afterwards", async () => {
    const { kernel, store, plugins, journals, err } = await run(undefined);
    assert.equal(err, null);
    assert.deepEqual(plugins.sent, ['A', 'B', 'C']);
    assert.ok(kernel.links.has('/br9'), 'the step the answer asked for ran');
    assert.deepEqual(journals, [2], 'undoA and undoB were journaled before B went out');
    assert.equal(store.snapshot().journal.length, 0);
  });

  it("a refused call is not undone; the rest are, newest first, with the answer's undo before its call's", async () => {
    const { kernel, plugins, err, store } = await run('C');
    assert.equal(err?.message, 'remote driver fake: no C');
    assert.deepEqual(plugins.sent, ['A', 'B', 'C', 'releaseB', 'undoB', 'undoA']);
    assert.ok(!kernel.links.has('/br9'), "the answer's step was undone");
    assert.equal(store.snapshot().journal.length, 0);
  });

  it("an unreachable plugin's undo stays journaled, alone, and the next command sends it", async () => {
    const store = new MemoryStore();
    const down = fake(undefined, true);
    const ctx = makeCtx({ store, runner: new FakeKernel(), plugins: down });
    await update(ctx, async (tx) => {
      tx.put('journal', {
        id: 'j1',
        pid: 999999,
        op: 'connect x',
        started: '',
        cleanup: [{ args: ['link', 'del', 'gone0'] }, undo('Leave'), undo('DeleteEndpoint')],
      });
    });
    await update(ctx, async () => undefined);
    assert.deepEqual(down.sent, ['Leave', 'DeleteEndpoint']);
    assert.deepEqual(
      store.snapshot().journal.map((j) => j.cleanup.map((c) => c.call?.method ?? c.args.join(' '))),
      [['Leave', 'DeleteEndpoint']],
    );
    const up = fake(undefined);
    await update(makeCtx({ store, runner: new FakeKernel(), plugins: up }), async () => undefined);
    assert.deepEqual(up.sent, ['Leave', 'DeleteEndpoint']);
    assert.equal(store.snapshot().journal.length, 0);
  });
});
