// The store's tables: records kept as text, found by searches of it, changed through an overlay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Table, serialize } from '../../src/store/table.js';

const spec = { fields: ['net', 'name', 'on', 'ports'] };
interface R {
  id: string;
  net: string;
  name: string;
  on: boolean;
  ports: unknown[];
  extra?: Record<string, string>;
}
const rec = (i: number, over: Partial<R> = {}): R => ({
  id: `id${i}`,
  extra: { name: `n${i}` },
  net: i % 2 ? 'odd' : 'even',
  name: `n${i}`,
  on: i % 3 === 0,
  ports: i === 4 ? [{ p: 1 }] : [],
  ...over,
});
const ids = (rs: R[]) => rs.map((r) => r.id).sort();
const table = (n: number) =>
  Table.of<R>(
    'things',
    spec,
    'test',
    Array.from({ length: n }, (_, i) => rec(i)),
  );

/** How many records the table has parsed since: its parse() counted. */
function countParses(t: Table<R>): () => number {
  const spy = t as unknown as { parse: (...a: unknown[]) => unknown };
  const parse = spy.parse.bind(t);
  let parsed = 0;
  spy.parse = (...a: unknown[]) => {
    parsed++;
    return parse(...a);
  };
  return () => parsed;
}

describe('store tables', () => {
  it('serialize writes the indexed fields right after the id', () => {
    assert.equal(
      serialize(rec(1), spec),
      '{"id":"id1","net":"odd","name":"n1","on":false,"ports":[],"extra":{"name":"n1"}}',
    );
  });

  it('finds records by field, value, boolean and "list has entries", not by a nested field of the same name', () => {
    const t = table(8);
    assert.deepEqual(ids(t.find('net', 'odd')), ['id1', 'id3', 'id5', 'id7']);
    assert.deepEqual(ids(t.find('name', 'n5')), ['id5']);
    assert.deepEqual(ids(t.find('on', true)), ['id0', 'id3', 'id6']);
    assert.deepEqual(ids(t.find('ports', [])), ['id4']);
    const nested = Table.of<R>('things', spec, 'test', [rec(1, { name: 'top', extra: { name: 'hidden' } })]);
    assert.deepEqual(nested.find('name', 'hidden'), []);
    assert.throws(() => t.find('extra', 'x'), /not indexed/);
  });

  it('answers the same past the literal search limit (one pass of the pattern instead)', () => {
    const t = table(300);
    assert.equal(t.find('net', 'even').length, 150);
    assert.deepEqual(t.values('name', { field: 'net', value: 'odd' }).length, 150);
    assert.equal(t.ids().length, 300);
    assert.deepEqual(t.values('net').filter((v) => v === 'odd').length, 150);
  });

  it('looks records up by id through a search, then (past a few) through a map of where lines start', () => {
    const t = table(40);
    for (let i = 0; i < 40; i++) assert.equal(t.get(`id${i}`)?.name, `n${i}`);
    assert.equal(t.get('id40'), undefined);
    assert.equal(t.get('n1'), undefined, 'a value is not an id');
    // Searches by value likewise: past a few, from a map of the field made in one pass.
    for (let i = 0; i < 40; i++) assert.deepEqual(ids(t.find('name', `n${i}`)), [`id${i}`]);
    assert.deepEqual(t.find('name', 'n40'), []);
    t.put({ ...rec(3), name: 'moved' });
    assert.deepEqual(ids(t.find('name', 'moved')), ['id3']);
    assert.deepEqual(t.find('name', 'n3'), []);
  });

  it('valueOf maps every id to an indexed field, overlay included, and reads no record', () => {
    const t = table(30);
    t.put({ ...rec(3), name: 'moved' });
    t.delete('id4');
    t.put(rec(40, { name: 'new' }));
    t.loadDelta('id5', null);
    const byId = t.valueOf('name');
    const want = new Map(t.list().map((r) => [r.id, r.name]));
    assert.deepEqual([...byId].sort(), [...want].sort());
    assert.equal(byId.get('id3'), 'moved');
    assert.equal(byId.has('id4') || byId.has('id5'), false);
    const fresh = table(30);
    const parses = countParses(fresh);
    assert.equal(fresh.valueOf('net').get('id7'), 'odd');
    assert.equal(parses(), 0);
    assert.throws(() => fresh.valueOf('extra'), /not indexed/);
  });

  it('index gives every record its indexed fields as text, overlay included, and reads no record', () => {
    const t = table(5);
    t.put({ ...rec(1), name: 'moved' });
    t.delete('id2');
    t.put(rec(7, { on: true }));
    t.loadDelta('id3', null);
    const parses = countParses(t);
    const index = t.index();
    assert.equal(parses(), 0);
    assert.deepEqual(
      index?.sort((a, b) => (a.id < b.id ? -1 : 1)),
      [
        { id: 'id0', net: 'even', name: 'n0', on: 'true', ports: '[]' },
        { id: 'id1', net: 'odd', name: 'moved', on: 'false', ports: '[]' },
        { id: 'id4', net: 'even', name: 'n4', on: 'false', ports: '[{' },
        { id: 'id7', net: 'odd', name: 'n7', on: 'true', ports: '[]' },
      ],
    );
  });

  it('index is undefined when a line does not start with every indexed field (the caller lists instead)', () => {
    const t = new Table<R>('things', spec, 'test', '\n"a":{"id":"a","net":"x","name":"a","on":true}\n');
    assert.equal(t.index(), undefined);
    assert.deepEqual(ids(t.find('net', 'x')), ['a']);
  });

  it('the overlay wins: put, delete and the journal delta change what searches return', () => {
    const t = table(6);
    const r1 = t.get('id1');
    assert.ok(r1);
    t.put({ ...r1, net: 'even' });
    t.delete('id2');
    t.put(rec(9, { net: 'even' }));
    t.loadDelta('id4', null);
    assert.deepEqual(ids(t.find('net', 'even')), ['id0', 'id1', 'id9']);
    assert.deepEqual(t.values('id', { field: 'net', value: 'odd' }).sort(), ['id3', 'id5']);
    assert.equal(t.get('id2'), undefined);
    assert.deepEqual(
      t.list().map((r) => r.id),
      ['id0', 'id1', 'id3', 'id5', 'id9'],
    );
    assert.deepEqual([...t.changed].sort(), ['id1', 'id2', 'id9']);
  });

  it('writes unchanged records as they were read, changed ones in place, new ones last', () => {
    const t = table(3);
    const before = t.lines();
    t.put({ ...rec(1), name: 'renamed' });
    t.put(rec(7));
    t.delete('id0');
    assert.equal(before.length, 3);
    const lines = t.lines();
    assert.equal(lines.length, 3);
    assert.equal(lines[0], `"id1":${serialize({ ...rec(1), name: 'renamed' }, spec)}`);
    assert.equal(lines[1], `,"id2":${serialize(rec(2), spec)}`);
    assert.equal(lines[2], `,"id7":${serialize(rec(7), spec)}`);
  });

  it('a text laid out otherwise (edited by hand) is checked, parsed and laid out again', () => {
    const text =
      '\n"a":{"name":"web","id":"a","net":"x","on":true,"ports":[]}\n' +
      ',"b":{"id":"b", "net": "x", "name":"db","on":false,"ports":[]}\n';
    const t = new Table<R>('things', spec, 'test', text);
    assert.deepEqual(ids(t.find('net', 'x')), ['a', 'b']);
    assert.deepEqual(ids(t.find('name', 'db')), ['b']);
    // The same text trusted as netctl's own layout would be searched as it is: that is what the check is for.
    assert.deepEqual(ids(new Table<R>('things', spec, 'test', text, true).find('net', 'x')), []);
  });

  it('a corrupt record is an error naming it, raised when it is read', () => {
    const t = new Table<R>(
      'things',
      spec,
      'store.json',
      '\n"a":{"id":"a","net":"x","name":"a","on":true,"ports":[]}\n' +
        ',"b":{"id":"b","net":"x","name":"b","on":true,"ports":[],oops}\n',
      true,
    );
    assert.equal(t.get('a')?.name, 'a');
    assert.throws(() => t.get('b'), /the netctl store store\.json is corrupt: things record b/);
  });

  it('rolls back to a savepoint: later puts and deletes undone, objects handed out since dropped', () => {
    const t = table(4);
    t.put({ ...rec(1), name: 'before' });
    const sp = t.savepoint();
    const r = t.get('id1');
    if (r) {
      r.name = 'after';
      t.put(r);
    }
    t.delete('id2');
    t.put(rec(8));
    t.rollback(sp);
    assert.equal(t.get('id1')?.name, 'before');
    assert.notEqual(t.get('id1'), r);
    assert.equal(t.get('id2')?.id, 'id2');
    assert.equal(t.get('id8'), undefined);
    assert.deepEqual([...t.changed], ['id1']);
  });

  it('reports records changed in place without put (the check the e2e tests run with)', () => {
    const t = table(3);
    const r = t.get('id2');
    if (r) r.name = 'sneaky';
    assert.deepEqual(t.untracked(), ['id2']);
  });
});
