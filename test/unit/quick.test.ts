// The quick path of ls and inspect: which argument forms it takes (as commander would parse
// them) and which it leaves to the full CLI. What it prints is held to the full CLI's by the
// e2e tests (cli.test.ts runs both on one store).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuick } from '../../src/cli/quick.js';

const env = {};

describe('quick path: the forms it runs', () => {
  it('ls and inspect with their plain options, the root as commander resolves it', () => {
    assert.deepEqual(parseQuick(['ls'], env), { root: '/var/lib/netctl', word: 'ls', flags: {}, refs: [] });
    assert.deepEqual(parseQuick(['list', '-q', '--no-trunc'], { NETCTL_ROOT: '/r' }), {
      root: '/r',
      word: 'ls',
      flags: { quiet: true, trunc: false },
      refs: [],
    });
    assert.deepEqual(parseQuick(['--root', '/a', '--root=/b', 'ls', '-f', 'name=x', '--filter=driver=bridge'], env), {
      root: '/b',
      word: 'ls',
      flags: { filter: ['name=x', 'driver=bridge'] },
      refs: [],
    });
    assert.deepEqual(parseQuick(['--debug', '--no-color', 'ls', '--format', 'json'], env)?.flags, { format: 'json' });
    assert.deepEqual(parseQuick(['ls', '--format=-q'], env)?.flags, { format: '-q' }, 'a value is the next word');
    assert.deepEqual(parseQuick(['inspect', 'a', '-f', '{{.Name}}', 'b'], env), {
      root: '/var/lib/netctl',
      word: 'inspect',
      flags: { format: '{{.Name}}' },
      refs: ['a', 'b'],
    });
    assert.equal(parseQuick(['inspect', '--format=json', 'a'], { NETCTL_ROOT: '' })?.root, '', 'set, even empty');
  });

  it('leaves everything else to the full CLI', () => {
    for (const args of [
      [],
      ['create', 'ls'],
      ['sandbox', 'ls'],
      ['ls', 'x'],
      ['ls', '--debug'],
      ['ls', '--root', '/r'],
      ['ls', '-qf', 'name=x'],
      ['ls', '-fname=x'],
      ['ls', '--filter'],
      ['ls', '--help'],
      ['ls', '--'],
      ['ls', '--trunc'],
      ['--cluster-store', 'etcd://h:1', 'ls'],
      ['-h', 'ls'],
      ['inspect'],
      ['inspect', '-f'],
      ['inspect', 'a', '--size'],
      ['inspect', '-q', 'a'],
      ['inspect', '-', 'a'],
      ['__complete', 'ls'],
    ])
      assert.equal(parseQuick(args, env), undefined, args.join(' '));
  });
});
