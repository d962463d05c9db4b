// The resolver's answers (src/dns/zone.ts) from a view, and the view from the store: who may
// see which name, PTR, NODATA, search domains, forwarding and its refusal on internal networks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Question } from 'dns-packet';
import { ptrTarget, Zone } from '../../src/dns/zone.js';
import { nameservers } from '../../src/dns/resolvconf.js';
import { served } from '../../src/dns/control.js';
import { viewDigest, type DnsView } from '../../src/dns/view.js';
import { patched, type DnsPatch, type SandboxPart } from '../../src/dns/protocol.js';
import fc from 'fast-check';
import { check } from '../helpers/prop.js';

const view: DnsView = {
  networks: [
    { id: 'na', name: 'a', internal: false, listen: ['10.0.1.1', 'fd00:1::1'] },
    { id: 'nb', name: 'b', internal: false, listen: ['10.0.2.1'] },
    { id: 'ni', name: 'i', internal: true, listen: ['10.0.3.1'] },
  ],
  endpoints: [
    { ip: '10.0.1.10', net: 'na', sb: 's1' },
    { ip: 'fd00:1:0:0::10', net: 'na', sb: 's1' },
    { ip: '10.0.1.20', net: 'na', sb: 's2' },
    { ip: '10.0.2.20', net: 'nb', sb: 's2' },
    { ip: '10.0.2.30', net: 'nb', sb: 's3' },
    { ip: '10.0.3.40', net: 'ni', sb: 's4' },
  ],
  sandboxes: {
    s1: {
      name: 'one',
      short: 'aaaaaaaaaaaa',
      aliases: { na: ['Db'] },
      servers: [],
      search: ['corp.test'],
      forward: true,
    },
    s2: { name: 'two', short: 'bbbbbbbbbbbb', aliases: {}, servers: ['192.0.2.53'], search: [], forward: true },
    s3: { name: 'three', short: 'cccccccccccc', aliases: { nb: ['db'] }, servers: [], search: [], forward: true },
    s4: { name: 'four', short: 'dddddddddddd', aliases: {}, servers: [], search: [], forward: false },
  },
};
const zone = new Zone(view, { servers: () => ['198.51.100.1'], search: () => ['host.test'] });
const q = (name: string, type = 'A') => ({ name, type }) as Question;
const data = (o: ReturnType<Zone['resolve']>) =>
  o.kind === 'answer' ? o.answers.map((a) => (a as { data: unknown }).data) : o.kind;

describe('resolver answers', () => {
  const one = zone.querier('10.0.1.10', '10.0.1.1');
  const two = zone.querier('10.0.2.20', '10.0.2.1');
  const three = zone.querier('10.0.2.30', '10.0.2.1');

  it('knows a querier by its source address, only on an address that serves its network', () => {
    assert.deepEqual(one?.nets, ['na']);
    assert.deepEqual(two?.nets, ['nb', 'na'], 'the network the query came in on first');
    assert.equal(zone.querier('10.0.1.10', '10.0.2.1'), undefined, "not on b's address");
    assert.equal(zone.querier('10.0.9.9', '10.0.1.1'), undefined, 'an unknown source');
    assert.deepEqual(zone.querier('fd00:1::10', 'fd00:1::1')?.nets, ['na'], 'IPv6, in any spelling');
  });

  it('names, aliases and short IDs of the networks the querier is on, case-insensitively', () => {
    assert.ok(one && two && three);
    assert.deepEqual(data(zone.resolve(one, q('TWO.'))), ['10.0.1.20'], 'its address on the shared network');
    assert.deepEqual(data(zone.resolve(three, q('two'))), ['10.0.2.20']);
    assert.deepEqual(data(zone.resolve(one, q('db'))), ['10.0.1.10'], "a's db");
    assert.deepEqual(data(zone.resolve(three, q('db'))), ['10.0.2.30'], "b's db");
    assert.deepEqual(data(zone.resolve(one, q('bbbbbbbbbbbb'))), ['10.0.1.20']);
    assert.deepEqual(data(zone.resolve(one, q('one', 'AAAA'))), ['fd00:1::10']);
    assert.deepEqual(data(zone.resolve(one, q('three'))), 'forward', 'another network: not known here');
    assert.deepEqual(data(zone.resolve(one, q('two.corp.test'))), ['10.0.1.20'], 'under its search domain');
    assert.deepEqual(data(zone.resolve(three, q('two.corp.test'))), 'forward', 'not its search domain');
    assert.deepEqual(data(zone.resolve(three, q('two.host.test'))), ['10.0.2.20'], "no --dns-search: the host's");
    assert.deepEqual(data(zone.resolve(one, q('two.host.test'))), 'forward', 'its own search list replaces them');
  });

  it('NODATA for a type the name has no record of', () => {
    assert.ok(three);
    assert.equal(zone.resolve(three, q('two', 'AAAA')).kind, 'nodata');
    assert.equal(zone.resolve(three, q('two', 'MX')).kind, 'nodata');
  });

  it('PTR within scope; other reverse names are forwarded', () => {
    assert.ok(one && three);
    assert.deepEqual(data(zone.resolve(one, q('20.1.0.10.in-addr.arpa', 'PTR'))), ['two']);
    assert.equal(zone.resolve(one, q('30.2.0.10.in-addr.arpa', 'PTR')).kind, 'forward');
    assert.equal(ptrTarget('0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa'), 'fd00:1::10');
    assert.equal(ptrTarget('1.2.3.in-addr.arpa'), undefined);
  });

  it("forwards to the querier's --dns servers, else the host's; never from internal-only queriers", () => {
    assert.ok(one && two);
    assert.deepEqual(zone.resolve(one, q('example.org')), { kind: 'forward', servers: ['198.51.100.1'] });
    assert.deepEqual(zone.resolve(two, q('example.org')), { kind: 'forward', servers: ['192.0.2.53'] });
    const four = zone.querier('10.0.3.40', '10.0.3.1');
    assert.ok(four);
    assert.equal(zone.resolve(four, q('example.org')).kind, 'refused');
    assert.deepEqual(data(zone.resolve(four, q('four'))), ['10.0.3.40']);
  });

  it('never forwards to an address it answers on itself', () => {
    const self = new Zone(view, { servers: () => ['10.0.1.1', '198.51.100.1'], search: () => [] });
    const one = self.querier('10.0.1.10', '10.0.1.1');
    assert.ok(one);
    assert.deepEqual(self.resolve(one, q('example.org')), { kind: 'forward', servers: ['198.51.100.1'] });
    const only = new Zone(view, { servers: () => ['10.0.2.1'], search: () => [] });
    const o = only.querier('10.0.1.10', '10.0.1.1');
    assert.ok(o);
    assert.equal(only.resolve(o, q('example.org')).kind, 'refused');
  });

  it('counts records per network; a view has one digest', () => {
    assert.equal(zone.records.get('na'), 5); // one, two, their short IDs, db
    assert.equal(viewDigest(view), viewDigest(structuredClone(view)));
    assert.notEqual(viewDigest(view), viewDigest({ ...view, networks: view.networks.slice(1) }));
  });

  it("upstreams: a resolv.conf's nameservers without loopback or link-local ones", () => {
    const text = 'nameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.1\n# x\nnameserver fe80::1%eth0\nsearch x';
    assert.deepEqual(nameservers(text), ['192.0.2.1'], 'a link-local server lost its zone: skipped');
  });
});

describe('a zone patched in place', () => {
  // Three networks; sandboxes s0..s5 with a name, maybe an alias shared with another, one or
  // two addresses, maybe name rules. A patch replaces some sandboxes' parts (or drops them).
  const nets = view.networks;
  const part = fc.record({
    name: fc.constantFrom('web', 'db', 'Web', 'cache'),
    alias: fc.option(fc.constantFrom('db', 'api'), { nil: undefined }),
    on: fc.subarray(['na', 'nb', 'ni'], { minLength: 0, maxLength: 2 }),
    host: fc.integer({ min: 2, max: 9 }),
    v6: fc.boolean(),
    rules: fc.boolean(),
  });
  type Drawn = { name: string; alias?: string | undefined; on: string[]; host: number; v6: boolean; rules: boolean };
  const partOf = (r: Drawn, i: number): SandboxPart | null => {
    if (!r.on.length) return null;
    const aliases = Object.fromEntries(r.alias ? r.on.map((n) => [n, [r.alias as string]]) : []);
    const endpoints = r.on.flatMap((n) => [
      { ip: `10.0.${n.charCodeAt(1)}.${i * 10 + r.host}`, net: n },
      ...(r.v6 && n === 'na' ? [{ ip: `fd00:1::${i}:${r.host}`, net: n }] : []),
    ]);
    const entry = { name: r.name, short: `${i}`.repeat(12), aliases, servers: [], search: [], forward: true };
    const rules = r.rules ? [{ name: 'example.org', wildcard: false, set4: 'a', set6: 'b' }] : undefined;
    return { entry, endpoints, ...(rules ? { rules } : {}) };
  };
  const patches = fc.array(
    fc.record({
      keep: fc.subarray(nets, { minLength: 1 }),
      parts: fc.dictionary(fc.integer({ min: 0, max: 5 }).map(String), fc.option(part, { nil: null })),
    }),
    { minLength: 1, maxLength: 6 },
  );
  /** Every name and address a querier on each network may ask, answered by `z`. */
  const answers = (z: Zone) => {
    const out: unknown[] = [];
    for (const n of nets)
      for (let i = 0; i < 6; i++)
        for (const host of [2, 5, 9]) {
          const who = z.querier(`10.0.${n.id.charCodeAt(1)}.${i * 10 + host}`, n.listen[0] ?? '');
          out.push(who ? [who.sb, who.nets] : null);
          if (!who) continue;
          for (const name of ['web', 'db', 'cache', 'api', '000000000000', `${i}`.repeat(12)])
            for (const type of ['A', 'AAAA']) {
              const r = z.resolve(who, q(name, type));
              out.push(r.kind === 'answer' ? data(r) : r.kind);
            }
          out.push(z.rulesOf(who.sb));
        }
    return out;
  };

  it('answers, counts and digests as a zone built from the patched view', () => {
    check(
      fc.property(patches, (list) => {
        let v: DnsView = { networks: nets, endpoints: [], sandboxes: {} };
        let z = new Zone(v);
        for (const [k, p] of list.entries()) {
          const parts: DnsPatch['parts'] = {};
          for (const [id, r] of Object.entries(p.parts)) parts[`s${id}`] = r ? partOf(r, Number(id)) : null;
          // The networks change only now and then (a whole new zone, as the server makes one).
          const networks = k % 3 === 2 ? nets.filter((n) => p.keep.includes(n)) : v.networks;
          v = patched(v, { networks, parts });
          const same = JSON.stringify(networks) === JSON.stringify(z.view.networks);
          const applied = z.patch({ networks, parts });
          assert.equal(applied, same);
          // Other networks: the server serves a new zone of the patched view.
          if (!applied) z = new Zone(patched(z.view, { networks, parts }));
          const fresh = new Zone(v);
          assert.equal(z.digest, viewDigest(v));
          assert.equal(viewDigest(z.view), viewDigest(v));
          assert.deepEqual(answers(z), answers(fresh));
          assert.deepEqual([...z.records].sort(), [...fresh.records].sort());
        }
      }),
      200,
    );
  });
});

describe('what the resolver serves, as inspect reads it (resolver.served)', () => {
  it("is the file while the pid in it is this root's resolver, and nothing once it is gone", async () => {
    const root = mkdtempSync(join(tmpdir(), 'netctl-served-'));
    // A process whose command line is a resolver's for this root (what served() checks).
    const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'resolver.cjs', '--root', root]);
    try {
      await new Promise((r) => p.once('spawn', r));
      assert.equal(await served(root), null, 'no file, no pid file: none runs');
      const file = { pid: p.pid, networks: [{ id: 'n1' }, { id: 'n2', error: 'address in use' }] };
      writeFileSync(join(root, 'resolver.served'), JSON.stringify(file));
      assert.deepEqual(await served(root), file);
      writeFileSync(join(root, 'resolver.served'), JSON.stringify({ ...file, pid: process.pid }));
      assert.equal(await served(root), null, 'a pid that is not a resolver of this root');
      writeFileSync(join(root, 'resolver.served'), JSON.stringify(file));
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
      assert.equal(await served(root), null, 'its resolver died: what it wrote last is not taken for it');
    } finally {
      p.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
});
