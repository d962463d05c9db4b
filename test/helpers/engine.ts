// Tier 2 set-up shared by the engine tests: a Controller over a MemoryStore and a FakeKernel,
// with deterministic ids and clock. The temp dir (the fake's netns directory) goes into `dirs`
// for the caller's afterEach to remove.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/core/controller.js';
import type { NetworkCreate } from '../../src/model/requests.js';
import { MemoryStore } from '../../src/store/memory.js';
import { FakeKernel } from './fake-kernel.js';

export function engineSetup(dirs: string[], prefix = 'netctl-engine-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  const kernel = new FakeKernel(dir);
  const store = new MemoryStore();
  let n = 0;
  const ids = () => (n++).toString(16).padStart(2, '0').repeat(32);
  const ctl = new Controller({
    store,
    runner: kernel,
    netnsDir: dir,
    id: ids,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  return { kernel, store, ctl, dir };
}

/** A bridge network's create request with every option at its default. */
export const bridgeNet = (name: string, subnet?: string): NetworkCreate => ({
  name,
  driver: 'bridge',
  subnets: subnet ? [subnet] : [],
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
