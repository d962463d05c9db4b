import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { naturalCompare, tabwrite } from '../../src/cli/table.js';

describe('table output', () => {
  it('aligns like Go tabwriter(minwidth 10, padding 3) with no trailing spaces', () => {
    const out = tabwrite([
      ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'],
      ['5b5545191a89', 'bridge', 'bridge', 'local'],
      ['c0cd30e6b439', 'a-much-longer-name', 'null', 'local'],
    ]);
    // Golden text: docker network ls on the same rows.
    assert.equal(out, [
      'NETWORK ID     NAME                 DRIVER    SCOPE',
      '5b5545191a89   bridge               bridge    local',
      'c0cd30e6b439   a-much-longer-name   null      local',
      '',
    ].join('\n'));
  });

  it('sorts names naturally, digits as numbers', () => {
    const names = ['net10', 'net2', 'bridge', 'Net1', 'net1', 'a'];
    assert.deepEqual(names.sort(naturalCompare), ['Net1', 'a', 'bridge', 'net1', 'net2', 'net10']);
  });
});
