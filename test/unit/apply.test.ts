// apply -f and the topology file (core/apply.ts, cli/topology-file.ts), regressions found in
// review: a refused file removes nothing, and an endpoint field of the wrong type is named.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
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
