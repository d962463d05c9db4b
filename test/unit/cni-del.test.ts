// CNI DEL (core/cni.ts) against the fake kernel, a regression found in review: DEL of a stopped
// container releases the addresses held for it, asserted on the records.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bridgeNet, engineSetup } from '../helpers/engine.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('CNI', () => {
  it('DEL of a stopped container releases the addresses held for it', async () => {
    const { ctl, store, kernel, dir } = engineSetup(dirs);
    await ctl.createNetwork(bridgeNet('web', '10.1.0.0/24'));
    await kernel.run('ip', ['netns', 'add', 'c1']);
    const att = { containerId: 'ctr-c1', ifName: 'net0', netns: join(dir, 'c1'), network: 'web' };
    await ctl.cniAdd(att, {});
    await ctl.stopSandbox('cni-ctr-c1');
    const reserved = () => Object.values(store.snapshot().networks).find((x) => x.name === 'web')?.ipam.reserved ?? {};
    assert.deepEqual(Object.keys(reserved()), ['10.1.0.2'], 'stopped: its address is held');
    assert.deepEqual(await ctl.cniDel(att), []);
    assert.deepEqual(
      Object.values(store.snapshot().sandboxes).map((s) => s.name),
      [],
    );
    assert.deepEqual(reserved(), {}, 'and released with the attachment');
  });
});
