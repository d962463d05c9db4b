// argv -> options tables: commander parsing plus the pure converters, with recording handlers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toEndpointSettings, toNetworkCreate, toSandboxCreate } from '../../src/cli/options.js';
import { parseFilters } from '../../src/cli/reads.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { buildProgram, commandWord, type Dispatch } from '../../src/cli/program.js';

/** Parses argv as main() does (only the command named is defined), recording instead of running. */
async function parse(argv: string[]): Promise<{ key: string; args: unknown[]; root: string }> {
  let got: { key: string; args: unknown[]; root: string } | undefined;
  const dispatch: Dispatch = async (key, _mod, g, args, opts) => {
    got = { key, args: [...args, opts], root: g.root };
    return 0;
  };
  const { program } = await buildProgram({ only: commandWord(argv), dispatch });
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined, outputError: () => undefined });
  await program.parseAsync(['node', 'netctl', ...argv]);
  return got ?? assert.fail('no handler ran');
}

/** Every command word of the registry: names and aliases. */
const WORDS = COMMANDS.flatMap((e) => [e.name, ...(e.aliases ?? [])]);

describe('the tree main() builds for one command', () => {
  const names = (p: { commands: readonly { name(): string; aliases(): string[] }[] }) =>
    p.commands.flatMap((c) => [c.name(), ...c.aliases()]);

  it('names every command and alias of the registry, and nothing else', async () => {
    assert.deepEqual([...WORDS].sort(), names((await buildProgram()).program).sort());
  });

  it(
    'holds just the command named (a group with all its subcommands), ' + 'with the same options as in the whole tree',
    async () => {
      const whole = (await buildProgram()).program;
      for (const word of WORDS) {
        const one = (await buildProgram({ only: word })).program;
        const full = whole.commands.find((c) => c.name() === word || c.aliases().includes(word));
        assert.equal(one.commands.length, 1, word);
        assert.equal(one.commands[0]?.helpInformation(), full?.helpInformation(), word);
      }
    },
  );

  it('is found after global options, and not for help, a completion, an unknown word or none', () => {
    assert.equal(commandWord(['--root', '/r', '--debug', 'connect', 'a', 'b']), 'connect');
    assert.equal(commandWord(['--cluster-store', 'etcd://x:1', 'container', 'ls']), 'container');
    for (const args of [
      ['--help', 'connect'],
      ['-h'],
      ['help', 'connect'],
      ['__complete', 'rm'],
      ['conect', 'a'],
      [],
      ['--root', 'connect'],
    ]) {
      assert.equal(commandWord(args), undefined, args.join(' '));
    }
  });
});

describe('argv -> options', () => {
  it('create: repeatable flags become a NetworkCreate', async () => {
    const p = await parse([
      '--root',
      '/r',
      'create',
      '--subnet',
      '10.1.0.0/24',
      '--subnet',
      '10.2.0.0/24',
      '--gateway',
      '10.1.0.254',
      '--ip-range',
      '10.1.0.128/25',
      '--aux-address',
      'router=10.1.0.2',
      '-o',
      'com.docker.network.driver.mtu=1400',
      '--label',
      'env=prod',
      '--label',
      'flag',
      '--internal',
      '--enable-ipv6',
      'web',
    ]);
    assert.equal(p.key, 'create');
    assert.equal(p.root, '/r');
    const [name, flags] = p.args as [string, Record<string, unknown>];
    assert.deepEqual(toNetworkCreate(name, flags), {
      name: 'web',
      driver: 'bridge',
      subnets: ['10.1.0.0/24', '10.2.0.0/24'],
      gateways: ['10.1.0.254'],
      ipRanges: ['10.1.0.128/25'],
      auxAddresses: { router: '10.1.0.2' },
      enableIPv6: true,
      internal: true,
      attachable: false,
      options: { 'com.docker.network.driver.mtu': '1400' },
      labels: { env: 'prod', flag: '' },
      ipamDriver: 'default',
      ipamOptions: {},
    });
  });

  it('connect: NETWORK first, then CONTAINER; flags become EndpointSettings', async () => {
    const p = await parse([
      'connect',
      'web',
      'frontend',
      '--ip',
      '10.0.1.5',
      '--alias',
      'fe',
      '--alias',
      'www',
      '--mac-address',
      '02:42:0a:00:01:05',
      '--gw-priority',
      '10',
    ]);
    const [network, containers, flags] = p.args as [string, string[], Record<string, unknown>];
    assert.deepEqual([network, containers], ['web', ['frontend']]);
    assert.deepEqual(toEndpointSettings(flags), {
      IPAMConfig: { IPv4Address: '10.0.1.5' },
      Aliases: ['fe', 'www'],
      MacAddress: '02:42:0a:00:01:05',
      GwPriority: 10,
    });
  });

  it('sandbox create defaults to the bridge network', async () => {
    const p = await parse(['sandbox', 'create', 'a']);
    const [name, flags] = p.args as [string, Record<string, unknown>];
    assert.deepEqual(toSandboxCreate(name, flags), { name: 'a', net: 'bridge', settings: {}, ports: [] });
  });

  it("sandbox create -p parses Docker's publish syntax", async () => {
    const p = await parse(['sandbox', 'create', 'a', '-p', '8080:80', '-p', '127.0.0.1:53:53/udp', '--net', 'web']);
    const [name, flags] = p.args as [string, Record<string, unknown>];
    assert.deepEqual(toSandboxCreate(name, flags).ports, [
      { hostIP: '', hostPort: 8080, containerPort: 80, proto: 'tcp' },
      { hostIP: '127.0.0.1', hostPort: 53, containerPort: 53, proto: 'udp' },
    ]);
    assert.throws(() => toSandboxCreate('a', { publish: ['80'] }), /invalid published port "80"/);
    assert.throws(() => toSandboxCreate('a', { publish: ['1:2:3:4'] }), /invalid published port/);
  });

  it('aliases: list, remove, container', async () => {
    assert.equal((await parse(['list'])).key, 'ls');
    assert.equal((await parse(['remove', 'x'])).key, 'rm');
    assert.equal((await parse(['container', 'ls'])).key, 'sandbox ls');
  });

  it('exec keeps the command after -- untouched', async () => {
    const p = await parse(['exec', 'a', '--', 'ping', '-c1', '10.0.0.1']);
    assert.deepEqual(p.args.slice(0, 2), ['a', ['ping', '-c1', '10.0.0.1']]);
  });

  it('bad usage is a commander error (exit 125 in main)', async () => {
    await assert.rejects(parse(['create', '--bogus', 'x']), /unknown option/);
    await assert.rejects(parse(['connect', 'web']), /missing required argument/);
    assert.throws(() => toEndpointSettings({ gwPriority: 'high' }), /invalid argument "high" for "--gw-priority"/);
    assert.throws(() => parseFilters(['colour=red']), /invalid filter 'colour'/);
    assert.throws(() => toNetworkCreate('x', { opt: ['novalue'] }), /invalid option "novalue": expected key=value/);
  });
});
