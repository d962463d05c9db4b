import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderMan } from '../../src/cli/manpage.js';
import { buildProgram } from '../../src/cli/program.js';

describe('man page', () => {
  it('man/netctl.1 matches the commander tree (regenerate with npm run man)', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const want = renderMan((await buildProgram()).program, pkg.version);
    assert.equal(readFileSync(new URL('../../../man/netctl.1', import.meta.url), 'utf8'), want);
    assert.match(want, /\.SS "netctl sandbox create \[options\] <name>"/);
    assert.match(want, /\\fB\\-\\-ip\\-range <cidr>\\fR/);
  });
});
