// Regressions found in review: each once lost data or leaked state, each asserted on the records.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTopology } from '../../src/cli/topology-file.js';
import { engineSetup } from '../helpers/engine.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('apply -f refuses a bad file before its first removal', () => {
  it('a sandbox to be replaced survives a file whose network has a gateway outside its subnet', async () => {
    const { ctl, store } = engineSetup(dirs);
    await ctl.createSandbox({ name: 'a', net: 'bridge', settings: {}, ports: [] });
    const top = parseTopology(
      {
        version: 1,
        networks: [{ name: 'bad', driver: 'bridge', subnets: [{ subnet: '10.9.0.0/16', gateway: '10.8.0.1' }] }],
        sandboxes: [{ name: 'a', hostname: 'other' }],
      },
      'f.yaml',
    );
    await assert.rejects(
      ctl.applyTopology(top, { dryRun: false, prune: false, file: 'f.yaml' }),
      /f\.yaml: network bad: .*no matching subnet for gateway 10\.8\.0\.1/,
    );
    const sandboxes = await store.view((tx) => tx.list('sandboxes').map((s) => `${s.name} ${s.hostname}`));
    assert.deepEqual(sandboxes, ['a a'], 'the sandbox is still there, unchanged');
  });

  for (const [field, ep, want] of [
    ['ip', { network: 'bridge', ip: 5 }, /ip must be a string/],
    ['aliases', { network: 'bridge', aliases: 'abc' }, /aliases must be a list of strings/],
    ['gwPriority', { network: 'bridge', gwPriority: 'x' }, /gwPriority must be an integer/],
    [
      'driverOpts',
      { network: 'bridge', driverOpts: { 'com.docker.network.endpoint.ifname': {} } },
      /driverOpts must be a map of strings/,
    ],
  ] as const) {
    it(`an endpoint's ${field} of the wrong type is refused, naming it`, () => {
      assert.throws(
        () => parseTopology({ version: 1, networks: [], sandboxes: [{ name: 'h', networks: [ep] }] }, 'f'),
        want,
      );
    });
  }
});

describe('CNI', () => {
  it('DEL of a stopped container releases the addresses held for it', async () => {
    const { ctl, store, kernel, dir } = engineSetup(dirs);
    await ctl.createNetwork({
      name: 'web',
      driver: 'bridge',
      subnets: ['10.1.0.0/24'],
      gateways: [],
      ipRanges: [],
      auxAddresses: {},
      enableIPv6: false,
      internal: false,
      attachable: false,
      options: {},
      labels: {},
      ipamDriver: 'default',
      ipamOptions: {},
    });
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
