// The store reader by property (issue 18): store.json holding any bytes (a good store damaged
// anywhere, or noise) gives the document or CorruptStoreError, never another exception, and
// reading never changes the file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../../src/model/records.js';
import { FileStore } from '../../src/store/file.js';
import { CorruptStoreError, loadDoc } from '../../src/store/state.js';
import { INDEXES, RECORD_KINDS, stateOf, type ReadTxn } from '../../src/store/store.js';
import { checkAsync } from '../helpers/prop.js';

const root = mkdtempSync(join(tmpdir(), 'netctl-prop-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A real store written by FileStore: the text the mutations start from. */
async function goodStore(): Promise<Buffer> {
  const dir = join(root, 'good');
  const st = new FileStore(dir);
  await st.update(async (tx) => {
    for (let i = 0; i < 3; i++) {
      tx.put('networks', {
        id: `n${i}`,
        name: `net${i}`,
        ipam: { driver: 'default', options: {}, config: [{ Subnet: `10.${i}.0.0/24`, Gateway: `10.${i}.0.1` }] },
      } as unknown as NetworkRecord);
      tx.put('sandboxes', {
        id: `s${i}`,
        name: `sb${i}`,
        mode: 'bridge',
        ownsNetns: true,
        ports: i ? [{ hostIP: '', hostPort: 80 + i, containerPort: 80, proto: 'tcp' }] : [],
      } as unknown as SandboxRecord);
      tx.put('endpoints', {
        id: `e${i}`,
        networkId: `n${i}`,
        sandboxId: `s${i}`,
        ipv4: `10.${i}.0.2/24`,
        ipv6: '',
      } as unknown as EndpointRecord);
    }
  });
  return readFileSync(join(dir, 'store.json'));
}

/** Everything a command may ask of a snapshot: every record, and every index search. */
function readAll(tx: ReadTxn): void {
  for (const kind of RECORD_KINDS) {
    for (const rec of tx.list(kind)) assert.ok(rec && typeof rec === 'object', `${kind} record is an object`);
    for (const id of tx.ids(kind)) tx.get(kind, id);
    tx.values(kind, 'id');
    for (const f of INDEXES[kind].fields) {
      if (f === 'ports') tx.find(kind, f, []);
      else for (const v of tx.values(kind, f)) tx.find(kind, f, v);
    }
  }
}

const mutation = (len: number) =>
  fc.oneof(
    fc
      .record({ at: fc.nat(len), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) })
      .map((m) => ({ ...m, kind: 'insert' as const })),
    fc.record({ at: fc.nat(len), n: fc.integer({ min: 1, max: 40 }) }).map((m) => ({ ...m, kind: 'delete' as const })),
    fc
      .record({
        at: fc.nat(len),
        byte: fc.constantFrom(0x22, 0x7b, 0x7d, 0x0a, 0x2c, 0x3a, 0x5b, 0x5d, 0x5c, 0x30, 0x00, 0xff),
      })
      .map((m) => ({ ...m, kind: 'set' as const })),
    fc
      .record({
        at: fc.nat(len),
        text: fc.constantFrom(
          'null',
          '5',
          '[]',
          '{}',
          '"x"',
          '{"id":1}',
          '\n,"x":{}',
          '\n,"y":null',
          '"id":"e0",',
          '{"version":99,',
        ),
      })
      .map((m) => ({ ...m, kind: 'splice' as const })),
  );

function apply(
  buf: Buffer,
  ms: Array<{ kind: string; at: number; bytes?: Uint8Array; n?: number; byte?: number; text?: string }>,
): Buffer {
  let b = buf;
  for (const m of ms) {
    const at = Math.min(m.at, b.length);
    if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes ?? []), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + (m.n ?? 1))]);
    else if (m.kind === 'set' && at < b.length) {
      b = Buffer.from(b);
      b[at] = m.byte ?? 0;
    } else if (m.kind === 'splice') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text ?? ''), b.subarray(at)]);
  }
  return b;
}

describe('store reader by property', () => {
  it('damaged store.json: the document or CorruptStoreError, and the file untouched', async () => {
    const good = await goodStore();
    const dir = join(root, 'fuzz');
    const file = join(dir, 'store.json');
    const input = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.array(mutation(good.length), { minLength: 1, maxLength: 4 }).map((ms) => apply(good, ms)),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
    );
    let refused = 0;
    let read = 0;
    await checkAsync(
      fc.asyncProperty(input, async (bytes) => {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(file, bytes);
        try {
          stateOf(loadDoc(dir).doc);
          await new FileStore(dir).view(readAll);
          read++;
        } catch (e) {
          assert.ok(
            e instanceof CorruptStoreError,
            `${(e as Error).stack}\nfor ${JSON.stringify(bytes.toString('latin1'))}`,
          );
          refused++;
        }
        assert.ok(readFileSync(file).equals(bytes), 'the file is untouched');
      }),
      2000,
    );
    assert.ok(refused > 100 && read > 100, `both outcomes exercised: ${read} read, ${refused} refused`);
  });
});
