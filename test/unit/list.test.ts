// ls: Docker's filter semantics and every --format form, on records (no kernel).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { naturalCompare, renderList, sortByName } from '../../src/cli/table.js';
import { listNetworks, parseFilters, selectNetworks, type Reads } from '../../src/cli/reads.js';
import { MemoryStore } from '../../src/store/memory.js';
import { networkRecord, type NetworkRecord } from '../../src/model/records.js';
import { networkRow } from '../../src/cli/views.js';

const rec = (name: string, id: string, over: Partial<NetworkRecord> = {}): NetworkRecord =>
  networkRecord({ id: id.padEnd(64, '0'), name, driver: 'bridge', created: '2026-01-02T03:04:05.678Z' }, over);
const all = [
  rec('bridge', 'b1', { predefined: true }),
  rec('host', 'c1', { predefined: true, driver: 'host' }),
  rec('none', 'd1', { predefined: true, driver: 'null' }),
  rec('web10', 'a1', { labels: { env: 'prod', tier: 'front' } }),
  rec('web2', 'a2', { labels: { env: 'dev' } }),
  rec('db', 'e1', { internal: true, labels: { env: 'prod' } }),
];
const inUse = new Set([all[3]?.id ?? '']);
const names = (f: string[]) => selectNetworks(all, parseFilters(f), inUse).map((n) => n.name);

describe('ls filters', () => {
  it("matches Docker's rules", () => {
    assert.deepEqual(names([]), ['bridge', 'db', 'host', 'none', 'web2', 'web10']);
    assert.deepEqual(names(['name=web']), ['web2', 'web10'], 'name: regex anywhere');
    assert.deepEqual(names(['name=^w.*0$']), ['web10']);
    assert.deepEqual(names(['id=a']), ['web2', 'web10'], 'id: anywhere in the ID');
    assert.deepEqual(names(['driver=host', 'driver=null']), ['host', 'none'], 'same key: OR');
    assert.deepEqual(names(['label=env=prod', 'name=web']), ['web10'], 'different keys: AND');
    assert.deepEqual(names(['label=tier']), ['web10'], 'label key alone');
    assert.deepEqual(names(['type=builtin']), ['bridge', 'host', 'none']);
    assert.deepEqual(names(['type=custom']), ['db', 'web2', 'web10']);
    assert.deepEqual(names(['dangling=true']), ['db', 'web2'], 'unused user networks only, never predefined ones');
    assert.deepEqual(names(['dangling=false']), ['bridge', 'host', 'none', 'web10']);
    assert.deepEqual(names(['scope=local', 'scope=global']).length, 6);
  });

  it('refuses bad keys and values', () => {
    assert.throws(() => names(['colour=red']), /invalid filter 'colour'/);
    assert.throws(() => names(['type=weird']), /invalid filter: 'type'='weird'/);
    assert.throws(() => names(['dangling=maybe']), /invalid filter 'dangling=maybe'/);
    assert.throws(() => names(['name=(']), /not a regular expression/);
    assert.throws(() => names(['name']), /bad format of filter/);
  });
});

describe('ls formats', () => {
  const headers = {
    ID: 'NETWORK ID',
    Name: 'NAME',
    Driver: 'DRIVER',
    Scope: 'SCOPE',
    Labels: 'LABELS',
    Internal: 'INTERNAL',
    IPv6: 'IPV6',
    CreatedAt: 'CREATED AT',
  };
  const rows = selectNetworks(all, [], inUse).map((n) => networkRow(n, true));
  const dflt = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

  it('default table (golden)', () => {
    assert.equal(
      renderList(rows.slice(0, 2), {}, headers, dflt),
      [
        'NETWORK ID     NAME      DRIVER    SCOPE',
        'b10000000000   bridge    bridge    local',
        'e10000000000   db        bridge    local',
        '',
      ].join('\n'),
    );
  });

  it('table TEMPLATE with literal \\t, .Label and CreatedAt', () => {
    const out = renderList(
      rows.filter((r) => r.Name.startsWith('web')),
      { format: 'table {{.Name}}\\t{{.Label "env"}}\\t{{.Internal}}' },
      headers,
      dflt,
    );
    assert.equal(out, 'NAME      LABEL     INTERNAL\nweb2      dev       false\nweb10     prod      false\n');
    assert.equal(
      renderList(rows.slice(0, 1), { format: '{{.CreatedAt}}' }, headers, dflt),
      '2026-01-02 03:04:05.678 +0000 UTC\n',
    );
  });

  it("json: one object per line, Docker's keys", () => {
    const lines = renderList(
      rows.filter((r) => r.Name === 'web2'),
      { format: 'json' },
      headers,
      dflt,
    )
      .trim()
      .split('\n');
    assert.deepEqual(JSON.parse(lines[0] ?? ''), {
      CreatedAt: '2026-01-02 03:04:05.678 +0000 UTC',
      Driver: 'bridge',
      ID: 'a20000000000',
      IPv4: 'true',
      IPv6: 'false',
      Internal: 'false',
      Labels: 'env=dev',
      Name: 'web2',
      Scope: 'local',
      Subnets: '',
      Containers: '0',
    });
  });

  it('-q prints IDs only', () => {
    assert.equal(renderList(rows.slice(0, 2), { quiet: true }, headers, dflt), 'b10000000000\ne10000000000\n');
  });
});

describe('ls order and table layout, by property', () => {
  /** docker's sortorder.NaturalLess written plainly: the reference naturalCompare keeps to. */
  const reference = (a: string, b: string): number => {
    const ca = a.match(/\d+|\D+/g) ?? [];
    const cb = b.match(/\d+|\D+/g) ?? [];
    for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
      const x = ca[i] ?? '';
      const y = cb[i] ?? '';
      if (x === y) continue;
      if (/^\d/.test(x) && /^\d/.test(y)) {
        const d = Number(BigInt(x) - BigInt(y)) || x.length - y.length;
        if (d) return Math.sign(d);
        continue;
      }
      return x < y ? -1 : 1;
    }
    return Math.sign(ca.length - cb.length);
  };
  const name = fc
    .array(fc.constantFrom('a', 'b', 'z', '-', '.', '0', '1', '9', '00', '10', 'é', '😀'), { maxLength: 7 })
    .map((p) => p.join(''));

  it('natural order: as docker sorts names (digit runs as numbers, 1 before 01)', () => {
    fc.assert(
      fc.property(name, name, (a, b) => Math.sign(naturalCompare(a, b)) === reference(a, b)),
      {
        numRuns: 3000,
      },
    );
  });

  it('sortByName: the names in that order, equal names as they came', () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 30 }), (names) => {
        const items = names.map((n, i) => ({ name: n, i }));
        const want = [...items].sort((a, b) => reference(a.name, b.name));
        assert.deepEqual(sortByName(items), want);
      }),
      { numRuns: 500 },
    );
  });

  it('a table of plain fields reads them straight from the rows, as rendering each row would give', () => {
    const cell = fc.oneof(fc.string({ maxLength: 14 }), fc.constantFrom('a\tb', '', ' x ', 'é😀', 'x\n'));
    const rows = fc.array(fc.record({ ID: cell, Name: cell, Driver: cell }), { maxLength: 8 });
    const format = fc.constantFrom(
      'table {{.ID}}\t{{.Name}}',
      'table {{.Name}}\t{{.Driver}}\t{{.ID}}',
      'table {{.ID}}',
    );
    fc.assert(
      fc.property(rows, format, (rs, f) => {
        const fast = renderList(rs, { format: f }, {}, f);
        // The same template with an action the fast path does not take: every row rendered.
        const slow = renderList(rs, { format: f.replace('{{.ID}}', '{{.ID | printf "%s"}}') }, {}, f);
        return fast === slow.replace('ID | PRINTF "%S"', 'ID');
      }),
    );
  });

  it("ls's default table from the store's index prints what the table's template renders", async () => {
    const net = fc.record({
      name: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,9}$/),
      driver: fc.constantFrom('bridge', 'macvlan', 'overlay'),
      scope: fc.constantFrom('local', 'global'),
    });
    const lists = fc.uniqueArray(net, { selector: (n) => n.name, maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(lists, fc.boolean(), async (nets, trunc) => {
        const store = new MemoryStore();
        await store.update(async (tx) => {
          nets.forEach((n, i) => tx.put('networks', rec(n.name, `${i + 1}f`, { driver: n.driver, scope: n.scope })));
        });
        const reads: Reads = {
          view: (fn) => store.view(fn),
          firewallName: '',
          served: async () => null,
          canInit: false,
        };
        const printed = async (format?: string) => {
          let out = '';
          const io = { out: (t: string) => (out += t), err: (t: string) => assert.fail(t) };
          await listNetworks(reads, io, { ...(format ? { format } : {}), ...(trunc ? {} : { trunc: false }) });
          return out;
        };
        // The same columns written out: a format the direct path does not take.
        assert.equal(await printed(), await printed('table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}'));
      }),
      { numRuns: 60 },
    );
  });
});
