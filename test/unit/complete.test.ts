// Completion candidates for each position (cobra protocol: candidates, then :directive).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { complete } from '../../src/cli/complete.js';
import { buildProgram } from '../../src/cli/program.js';

const { program, modules } = await buildProgram();
const names = () => ({ networks: ['backend', 'bridge', 'frontend', 'host', 'none'], sandboxes: ['alpha', 'beta'] });
const c = (...words: string[]) => complete(program, modules, words, names);
// Installed plugins are offered as drivers: a directory of our own, never the machine's.
const plugins = mkdtempSync(join(tmpdir(), 'netctl-complete-'));
process.env['NETCTL_PLUGIN_DIRS'] = plugins;
after(() => rmSync(plugins, { recursive: true, force: true }));

describe('shell completion', () => {
  it('subcommands, then sandbox subcommands', () => {
    assert.deepEqual(c(''), [
      'create',
      'connect',
      'disconnect',
      'inspect',
      'ls',
      'rm',
      'update',
      'export',
      'apply',
      'graph',
      'prune',
      'sandbox',
      'exec',
      'completion',
      'cni',
      'doctor',
      'node',
      'agent',
      'restore',
      'policy',
      'dns',
      ':4',
    ]);
    assert.deepEqual(c('r'), ['rm', 'restore', ':4']);
    assert.deepEqual(c('sandbox', 's'), ['start', 'stop', ':4']);
    assert.deepEqual(
      c('container', ''),
      ['create', 'ls', 'inspect', 'start', 'stop', 'rm', 'attach', 'prune', ':4'],
      'alias walks too',
    );
  });

  it('network names for rm, inspect, connect, disconnect; sandbox names for CONTAINER', () => {
    assert.deepEqual(c('rm', 'b'), ['backend', 'bridge', ':4']);
    assert.deepEqual(
      c('rm', 'backend', ''),
      ['bridge', 'frontend', 'host', 'none', ':4'],
      'already given names are not offered again',
    );
    assert.deepEqual(c('inspect', 'f'), ['frontend', ':4']);
    assert.deepEqual(
      c('connect', '--ip', '10.0.0.5', 'backend', ''),
      ['alpha', 'beta', ':4'],
      'flag values are skipped',
    );
    assert.deepEqual(c('disconnect', ''), ['backend', 'bridge', 'frontend', 'host', 'none', ':4']);
    assert.deepEqual(c('sandbox', 'rm', '-f', 'a'), ['alpha', ':4']);
    assert.deepEqual(c('exec', ''), ['alpha', 'beta', ':4']);
    assert.deepEqual(c('exec', 'alpha', '--', 'pi'), [':0'], 'the command itself: files allowed');
  });

  it('flags and their fixed values', () => {
    assert.deepEqual(c('create', '--i'), ['--ip-range', '--ipv6', '--internal', '--ipam-driver', '--ipam-opt', ':4']);
    assert.ok(c('ls', '-').includes('--filter'));
    assert.ok(c('ls', '-').includes('--root'), 'global flags too');
    assert.deepEqual(c('create', '-d', ''), ['bridge', 'host', 'null', 'macvlan', 'overlay', ':4']);
    assert.deepEqual(c('create', '--driver', 'b'), ['bridge', ':4']);
    writeFileSync(join(plugins, 'weave.spec'), 'unix:///run/weave.sock');
    writeFileSync(join(plugins, 'myipam.json'), '{"Name":"myipam","Addr":"unix:///run/i.sock"}');
    writeFileSync(join(plugins, 'notes.txt'), '');
    assert.deepEqual(
      c('create', '-d', ''),
      ['bridge', 'host', 'null', 'macvlan', 'overlay', 'myipam', 'weave', ':4'],
      'and the installed plugins',
    );
    assert.deepEqual(c('create', '--ipam-driver', ''), ['default', 'myipam', 'weave', ':4']);
    rmSync(join(plugins, 'weave.spec'));
    rmSync(join(plugins, 'myipam.json'));
    assert.deepEqual(c('ls', '--filter', ''), [
      'driver=',
      'id=',
      'name=',
      'label=',
      'scope=',
      'type=',
      'dangling=',
      ':6',
    ]);
    assert.deepEqual(c('ls', '-f', 'type='), ['type=custom', 'type=builtin', ':4']);
    assert.deepEqual(c('ls', '-f', 'name=f'), ['name=frontend', ':4']);
    assert.deepEqual(c('ls', '--format', ''), ['table', 'json', ':4']);
    assert.deepEqual(c('sandbox', 'create', 'x', '--net', 'c'), ['container:alpha', 'container:beta', ':4']);
    assert.deepEqual(c('completion', ''), ['bash', 'zsh', 'fish', ':4']);
  });
});
